"""AB's loss against BASELINES.md §7 and a hand computation (per-layer weights 2^(l−n+1),
scale 3/(1000·B))."""

import itertools

import pytest
import torch

from sine_inputs import S
from sskd.losses.ab import ab_layer_sum, ab_loss


def test_reference_value_of_the_crd_benchmark():
    s = [S((8, 16, 8, 8), .011, .2), S((8, 32, 4, 4), .013, .3), S((8, 64, 2, 2), .015, .35)]
    t = [S((8, 16, 8, 8), .017, .4), S((8, 32, 4, 4), .019, .5), S((8, 64, 2, 2), .021, .6)]
    assert ab_loss(s, t).item() == pytest.approx(3.50655, rel=1e-4)


def loop_layer_sum(s, t, m):
    total = 0.0
    for idx in itertools.product(*(range(n) for n in s.shape)):
        sv, tv = s[idx].item(), t[idx].item()
        if sv > -m and tv <= 0:
            total += (sv + m) ** 2
        if sv <= m and tv > 0:
            total += (sv - m) ** 2
    return total


def test_hand_computed_margins():
    # s > −1 with t ≤ 0 → (s+1)²; s ≤ 1 with t > 0 → (s−1)²; otherwise 0.
    s = torch.tensor([0.5, -2.0, 0.3, 2.0]).view(1, 1, 2, 2)
    t = torch.tensor([-1.0, -1.0, 1.0, 1.0]).view(1, 1, 2, 2)
    assert ab_layer_sum(s, t).item() == pytest.approx(1.5 ** 2 + 0.7 ** 2)


def test_two_layers_weigh_half_and_one_and_divide_by_the_batch():
    g = torch.Generator().manual_seed(0)
    s = [torch.randn(2, 3, 2, 2, generator=g), torch.randn(2, 2, 1, 1, generator=g)]
    t = [torch.randn(2, 3, 2, 2, generator=g), torch.randn(2, 2, 1, 1, generator=g)]
    expected = (0.5 * loop_layer_sum(s[0], t[0], 0.5) + loop_layer_sum(s[1], t[1], 0.5)) * 3 / (1000 * 2)
    assert ab_loss(s, t, margin=0.5).item() == pytest.approx(expected, rel=1e-5)


def test_gradient_reaches_the_student_only_and_shapes_must_match():
    s = torch.randn(2, 3, 2, 2, requires_grad=True)
    t = torch.randn(2, 3, 2, 2, requires_grad=True)
    ab_loss([s], [t]).backward()
    assert s.grad is not None and t.grad is None
    with pytest.raises(ValueError, match="same shape"):
        ab_loss([s], [torch.zeros(2, 4, 2, 2)])
    with pytest.raises(ValueError, match="same number"):
        ab_loss([s, s], [t])
