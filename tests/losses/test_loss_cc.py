"""CC's loss (the CRD authors' form) against BASELINES.md §7 and a hand computation."""

import pytest
import torch

from sine_inputs import S
from sskd.losses.cc import cc_loss


def test_reference_value_of_the_crd_benchmark():
    assert cc_loss(S((8, 128), .05, .9), S((8, 128), .07, 1.1)).item() == pytest.approx(56.4715, rel=1e-4)


def test_hand_computed_consecutive_products():
    e_s = torch.tensor([[1.0, 2.0], [0.0, -1.0], [3.0, 3.0]])
    e_t = torch.tensor([[0.0, 0.0], [2.0, 1.0], [1.0, 4.0]])
    # |Δ| = [[1, 2], [2, 2], [2, 1]]; rows 0·1 = 2 + 4, rows 1·2 = 4 + 2
    assert cc_loss(e_s, e_t).item() == pytest.approx((6 + 6) / 2)


def test_gradient_reaches_both_embeddings_and_shapes_are_checked():
    e_s = torch.randn(4, 3, requires_grad=True)
    e_t = torch.randn(4, 3, requires_grad=True)
    cc_loss(e_s, e_t).backward()
    assert e_s.grad is not None and e_t.grad is not None
    with pytest.raises(ValueError, match="B >= 2"):
        cc_loss(torch.zeros(1, 3), torch.zeros(1, 3))
    with pytest.raises(ValueError, match=r"\(4, 3\)"):
        cc_loss(e_s, torch.zeros(4, 2))
