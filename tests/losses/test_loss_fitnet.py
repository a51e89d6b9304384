"""FitNet's hint loss against BASELINES.md §7 and a hand computation."""

import pytest
import torch

from sine_inputs import S
from sskd.losses.fitnet import hint_loss


def test_reference_value_of_the_crd_benchmark():
    value = hint_loss(S((8, 32, 16, 16), .011, .2), S((8, 32, 16, 16), .017, .4))
    assert value.item() == pytest.approx(1.00287, rel=1e-4)


def test_hand_computed_mean_square():
    s = torch.tensor([[[[1.0, 2.0]], [[0.0, -1.0]]]])  # [1, 2, 1, 2]
    t = torch.tensor([[[[0.0, 4.0]], [[1.0, 1.0]]]])
    assert hint_loss(s, t).item() == pytest.approx((1 + 4 + 1 + 4) / 4)


def test_gradient_reaches_the_student_only_and_shapes_must_match():
    s = torch.randn(2, 3, 4, 4, requires_grad=True)
    t = torch.randn(2, 3, 4, 4, requires_grad=True)
    hint_loss(s, t).backward()
    assert s.grad is not None and t.grad is None
    with pytest.raises(ValueError, match=r"\(2, 3, 4, 4\)"):
        hint_loss(s, torch.zeros(2, 3, 2, 2))
