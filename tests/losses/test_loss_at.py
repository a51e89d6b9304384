"""AT's loss against BASELINES.md §7 and a hand computation with the spatial-mismatch rule."""

import math

import pytest
import torch

from sine_inputs import S
from sskd.losses.at import at_layer_loss, at_loss


def test_reference_value_of_the_crd_benchmark():
    s = [S((8, 16, 16, 16), .011, .2), S((8, 32, 8, 8), .013, .3)]
    t = [S((8, 64, 8, 8), .017, .4), S((8, 64, 8, 8), .019, .5)]
    assert at_loss(s, t).item() == pytest.approx(2.30677e-4, rel=1e-4)


def loop_attention(f):
    """a[b][p] = mean_c f² at position p, divided by its L2 norm over positions."""
    b, c, h, w = f.shape
    maps = []
    for n in range(b):
        raw = [sum(f[n, k, y, x].item() ** 2 for k in range(c)) / c for y in range(h) for x in range(w)]
        norm = math.sqrt(sum(v * v for v in raw))
        maps.append([v / norm for v in raw])
    return maps


def loop_pool2(f):
    """2×2 average pooling, by hand."""
    b, c, h, w = f.shape
    out = torch.zeros(b, c, h // 2, w // 2)
    for n in range(b):
        for k in range(c):
            for y in range(h // 2):
                for x in range(w // 2):
                    out[n, k, y, x] = f[n, k, 2 * y:2 * y + 2, 2 * x:2 * x + 2].sum() / 4
    return out


def test_hand_computed_attention_loss_with_the_larger_teacher_map_pooled():
    g = torch.Generator().manual_seed(0)
    s = torch.randn(2, 2, 2, 2, generator=g)
    t = torch.randn(2, 3, 4, 4, generator=g)
    a_s, a_t = loop_attention(s), loop_attention(loop_pool2(t))
    expected = sum((a_s[n][p] - a_t[n][p]) ** 2 for n in range(2) for p in range(4)) / 8
    assert at_layer_loss(s, t).item() == pytest.approx(expected, rel=1e-5)
    s2, t2 = torch.randn(2, 4, 3, 3, generator=g), torch.randn(2, 1, 3, 3, generator=g)
    b_s, b_t = loop_attention(s2), loop_attention(t2)
    expected2 = sum((b_s[n][p] - b_t[n][p]) ** 2 for n in range(2) for p in range(9)) / 18
    assert at_loss([s, s2], [t, t2]).item() == pytest.approx(expected + expected2, rel=1e-5)


def test_gradient_reaches_the_student_only_and_layers_pair_one_to_one():
    s = torch.randn(2, 3, 4, 4, requires_grad=True)
    t = torch.randn(2, 5, 4, 4, requires_grad=True)
    at_loss([s], [t]).backward()
    assert s.grad is not None and t.grad is None
    with pytest.raises(ValueError, match="2 student and 1 teacher"):
        at_loss([s, s], [t])
