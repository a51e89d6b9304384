"""FT's factor loss against BASELINES.md §7 and a hand computation; the paraphraser's
reconstruction loss."""

import math

import pytest
import torch

from sine_inputs import S
from sskd.losses.at import attention_map
from sskd.losses.ft import ft_loss, ft_reconstruction_loss


def test_reference_value_of_the_crd_benchmark():
    value = ft_loss(S((8, 32, 4, 4), .011, .2), S((8, 64, 8, 8), .017, .4))
    assert value.item() == pytest.approx(1.01280e-3, rel=1e-4)


def loop_factor(f):
    """φ for one sample [C, H, W]: channel mean of squares at each position, L2-normalised."""
    c, h, w = f.shape
    a = [sum(f[k, i, j].item() ** 2 for k in range(c)) / c for i in range(h) for j in range(w)]
    norm = math.sqrt(sum(v * v for v in a))
    return [v / norm for v in a]


def test_hand_computed_factor_and_l1_distance():
    f_s = torch.tensor([[[[1.0, 2.0]], [[3.0, 0.0]]]])  # [1, 2, 1, 2]: φ ∝ (5, 2)
    f_t = torch.tensor([[[[0.0, 1.0]], [[1.0, 1.0]], [[2.0, 0.0]]]])  # [1, 3, 1, 2]: φ ∝ (5/3, 2/3), the same map
    assert attention_map(f_s)[0].tolist() == pytest.approx([5 / math.sqrt(29), 2 / math.sqrt(29)], rel=1e-6)
    assert ft_loss(f_s, f_t).item() == pytest.approx(0.0, abs=1e-7)
    g = torch.tensor([[[[1.0, 0.0]], [[0.0, 0.0]]]])  # φ = (1, 0)
    phi = loop_factor(f_s[0])
    expected = (abs(phi[0] - 1.0) + abs(phi[1] - 0.0)) / 2
    assert ft_loss(f_s, g).item() == pytest.approx(expected, rel=1e-6)


def test_larger_map_is_pooled_and_gradient_skips_the_teacher():
    s = torch.randn(2, 4, 2, 2, requires_grad=True)
    t = torch.randn(2, 6, 4, 4, requires_grad=True)
    loss = ft_loss(s, t)
    assert loss.item() == pytest.approx(ft_loss(s, torch.nn.functional.avg_pool2d(t, 2)).item(), rel=1e-6)
    loss.backward()
    assert s.grad is not None and t.grad is None


def test_reconstruction_is_the_mean_square():
    r = torch.tensor([[[[1.0, 3.0]]]])
    t = torch.tensor([[[[0.0, 1.0]]]])
    assert ft_reconstruction_loss(r, t).item() == pytest.approx((1 + 4) / 2)
    with pytest.raises(ValueError, match="same shape"):
        ft_reconstruction_loss(r, torch.zeros(1, 2, 1, 2))
