import pytest
import torch


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """On a small shared CPU, thread hand-offs make these small network passes several times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
