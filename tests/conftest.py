import pytest
import torch

# Denormal floats make some CPU kernels several times slower.
torch.set_flush_denormal(True)


@pytest.fixture(scope="session")
def teacher_file(tmp_path_factory):
    """A randomly initialised ResNet-8 (10 classes) exported as a teacher checkpoint."""
    from sskd.engine.checkpoint import export_model
    from sskd.models import build_model

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("teacher") / "teacher.safetensors"
    export_model(build_model("resnet8", num_classes=10), path, {"model": "resnet8"})
    return path
