"""CRD's NCE loss against BASELINES.md §7 and a hand computation."""

import math

import pytest
import torch

from sine_inputs import S
from sskd.losses.crd import EPS, crd_loss, crd_nce_loss


def reference_scores(dtype):
    return (1e-5 * torch.exp(S((8, 16385, 1), .003, .1, dtype=dtype))).squeeze(2)


def test_reference_value_of_the_crd_benchmark_in_float64():
    value = crd_nce_loss(reference_scores(torch.float64), 50000)
    assert value.dtype == torch.float64
    assert value.item() == pytest.approx(11.1751, rel=1e-4)


def test_reference_value_in_float32_does_not_drift():
    value = crd_nce_loss(reference_scores(torch.float32), 50000)
    assert value.dtype == torch.float32
    assert value.item() == pytest.approx(11.1751, rel=1e-3)
    # the log terms are summed in float64: float32 inputs give the float64 value
    assert value.item() == pytest.approx(crd_nce_loss(reference_scores(torch.float64), 50000).item(), rel=1e-6)


def test_hand_computed_nce_loss():
    scores = [[0.5, 0.1, 2.0], [3.0, 0.01, 0.2]]  # B = 2, K = 2
    n = 10
    c = 2 / n  # K·P_n
    total = 0.0
    for row in scores:
        total += math.log(row[0] / (row[0] + c + EPS))
        for s in row[1:]:
            total += math.log(c / (s + c + EPS))
    expected = -total / len(scores)
    x = torch.tensor(scores, dtype=torch.float64)
    assert crd_nce_loss(x, n).item() == pytest.approx(expected, rel=1e-12)
    y = torch.tensor([[1.0, 0.3, 0.3], [0.2, 4.0, 1.0]], dtype=torch.float64)
    assert crd_loss(x, y, n).item() == pytest.approx(expected + crd_nce_loss(y, n).item(), rel=1e-12)


def test_gradient_matches_finite_differences():
    x = (torch.rand(3, 5, dtype=torch.float64) + 0.05).requires_grad_()
    assert torch.autograd.gradcheck(lambda s: crd_nce_loss(s, 20), (x,))


def test_scores_must_be_a_positive_and_negatives():
    with pytest.raises(ValueError, match=r"\[B, K\+1\]"):
        crd_nce_loss(torch.rand(4, 1), 10)
    with pytest.raises(ValueError, match="n_data"):
        crd_nce_loss(torch.rand(4, 3), 0)
