"""KL(teacher ‖ student) of softmax(z/T): BASELINES.md §6 values, a hand sum, streaming."""

import math

import pytest
import torch

from sskd.analysis.prediction_kl import PredictionKLAccumulator, prediction_kl, prediction_kl_per_sample


def S(shape, a, b):
    """BASELINES.md §7: sin(a·k + b) in float64 for k = 0 … numel−1, cast to float32, row-major."""
    k = torch.arange(math.prod(shape), dtype=torch.float64)
    return torch.sin(a * k + b).to(torch.float32).reshape(shape)


def test_reference_values_of_baselines_without_t_squared():
    z_t = 3 * S((10, 100), 0.23, 0.7)
    z_s = 3 * S((10, 100), 0.37, 0.1)
    assert prediction_kl(z_t, z_s, 1.0) == pytest.approx(2.379926, abs=1e-6)
    assert prediction_kl(z_t, z_s, 4.0) == pytest.approx(0.258353, abs=1e-6)


def test_matches_a_hand_written_sum():
    z_t = [[1.0, 2.0, 0.5], [-1.0, 0.0, 3.0]]
    z_s = [[0.2, 0.1, 1.5], [2.0, -0.5, 0.3]]
    temperature = 2.0

    def softmax(row):
        e = [math.exp(v / temperature) for v in row]
        return [v / sum(e) for v in e]

    rows = []
    for t_row, s_row in zip(z_t, z_s):
        p, q = softmax(t_row), softmax(s_row)
        rows.append(sum(pc * (math.log(pc) - math.log(qc)) for pc, qc in zip(p, q)))
    per_sample = prediction_kl_per_sample(torch.tensor(z_t), torch.tensor(z_s), temperature)
    assert per_sample.dtype == torch.float64
    assert per_sample.tolist() == pytest.approx(rows, rel=1e-6)
    assert prediction_kl(torch.tensor(z_t), torch.tensor(z_s), temperature) == pytest.approx(sum(rows) / 2, rel=1e-6)


def test_kl_of_a_distribution_with_itself_is_zero_and_otherwise_positive():
    z = torch.randn(8, 5, generator=torch.Generator().manual_seed(0))
    assert prediction_kl(z, z) == pytest.approx(0.0, abs=1e-12)
    assert prediction_kl(z, z.flip(1)) > 0.01


def test_streamed_over_uneven_batches_equals_the_whole_set():
    g = torch.Generator().manual_seed(1)
    z_t, z_s = torch.randn(50, 7, generator=g), torch.randn(50, 7, generator=g)
    acc = PredictionKLAccumulator(4.0)
    start = 0
    for size in (3, 0, 20, 27):
        acc.update(z_t[start:start + size], z_s[start:start + size])
        start += size
    assert acc.count == 50
    assert acc.value() == pytest.approx(prediction_kl(z_t, z_s, 4.0), rel=1e-12)


def test_refusals():
    with pytest.raises(ValueError, match=r"one shape \[n, K\]; got \(2, 3\) and \(2, 4\)"):
        prediction_kl(torch.zeros(2, 3), torch.zeros(2, 4))
    with pytest.raises(ValueError, match=r"got \(3,\) and \(3,\)"):
        prediction_kl(torch.zeros(3), torch.zeros(3))
    with pytest.raises(ValueError, match="positive number; got 0"):
        prediction_kl(torch.zeros(2, 3), torch.zeros(2, 3), 0.0)
    with pytest.raises(ValueError, match="none was fed"):
        PredictionKLAccumulator().value()
