"""NST's loss against BASELINES.md §7 and a hand computation of the polynomial MMD."""

import math

import pytest
import torch

from sine_inputs import S
from sskd.losses.nst import nst_layer_loss, nst_loss, poly_kernel_mean


def test_reference_value_of_the_crd_benchmark():
    assert nst_loss([S((8, 16, 8, 8), .011, .2)], [S((8, 32, 8, 8), .017, .4)]).item() == pytest.approx(
        0.0145403, rel=1e-4)


def loop_patterns(f):
    """[b][c] → the channel's map as a list, divided by its L2 norm."""
    out = []
    for n in range(f.shape[0]):
        chans = []
        for c in range(f.shape[1]):
            v = f[n, c].flatten().tolist()
            norm = math.sqrt(sum(x * x for x in v))
            chans.append([x / norm for x in v])
        out.append(chans)
    return out


def loop_kernel_mean(a, b):
    values = [sum(x * y for x, y in zip(u, v)) ** 2 for n in range(len(a)) for u in a[n] for v in b[n]]
    return sum(values) / len(values)


@pytest.mark.parametrize("c_s, c_t, hw", [(2, 3, 4), (7, 6, 2)])  # the [C, C] and the [P, P] Gram
def test_hand_computed_mmd(c_s, c_t, hw):
    g = torch.Generator().manual_seed(c_s)
    s = torch.randn(2, c_s, hw, hw, generator=g)
    t = torch.randn(2, c_t, hw, hw, generator=g)
    ps, pt = loop_patterns(s), loop_patterns(t)
    expected = loop_kernel_mean(pt, pt) + loop_kernel_mean(ps, ps) - 2 * loop_kernel_mean(ps, pt)
    assert nst_layer_loss(s, t).item() == pytest.approx(expected, rel=1e-4, abs=1e-6)
    assert nst_loss([s, s], [t, t]).item() == pytest.approx(2 * expected, rel=1e-4, abs=1e-6)


def test_both_gram_forms_agree():
    a, b = torch.randn(3, 4, 5, dtype=torch.float64), torch.randn(3, 6, 5, dtype=torch.float64)
    pairs = (a @ b.transpose(1, 2)).pow(2).mean()
    positions = ((a.transpose(1, 2) @ a) * (b.transpose(1, 2) @ b)).sum() / (3 * 4 * 6)
    assert poly_kernel_mean(a, b).item() == pytest.approx(pairs.item(), rel=1e-12)
    assert positions.item() == pytest.approx(pairs.item(), rel=1e-12)
    wide_a, wide_b = torch.randn(2, 40, 3, dtype=torch.float64), torch.randn(2, 50, 3, dtype=torch.float64)
    assert poly_kernel_mean(wide_a, wide_b).item() == pytest.approx(
        (wide_a @ wide_b.transpose(1, 2)).pow(2).mean().item(), rel=1e-12)


def test_the_larger_map_is_pooled_and_gradient_reaches_the_student_only():
    s = torch.randn(2, 3, 4, 4, requires_grad=True)
    t = torch.randn(2, 5, 8, 8, requires_grad=True)
    loss = nst_layer_loss(s, t)
    assert loss.item() == pytest.approx(nst_layer_loss(s, torch.nn.functional.avg_pool2d(t, 2)).item(), rel=1e-6)
    loss.backward()
    assert s.grad is not None and t.grad is None
