"""SP's loss against BASELINES.md §7 and a hand computation."""

import math

import pytest
import torch

from sine_inputs import S
from sskd.losses.sp import sp_loss


def test_reference_value_of_the_crd_benchmark():
    assert sp_loss(S((8, 16, 8, 8), .011, .2), S((8, 32, 4, 4), .017, .4)).item() == pytest.approx(
        0.235904, rel=1e-4)


def loop_similarity(f):
    """G_ij = f_i · f_j (flattened samples), each row divided by its L2 norm."""
    rows = [v.flatten().tolist() for v in f]
    gram = [[sum(a * b for a, b in zip(u, v)) for v in rows] for u in rows]
    return [[g / math.sqrt(sum(x * x for x in row)) for g in row] for row in gram]


def test_hand_computed_similarity_distance():
    g = torch.Generator().manual_seed(0)
    s = torch.randn(3, 2, 2, 2, generator=g)
    t = torch.randn(3, 5, 1, 1, generator=g)
    g_s, g_t = loop_similarity(s), loop_similarity(t)
    expected = sum((g_t[i][j] - g_s[i][j]) ** 2 for i in range(3) for j in range(3)) / 9
    assert sp_loss(s, t).item() == pytest.approx(expected, rel=1e-5)


def test_gradient_reaches_the_student_only_and_batches_must_agree():
    s = torch.randn(3, 2, 4, 4, requires_grad=True)
    t = torch.randn(3, 4, 2, 2, requires_grad=True)
    sp_loss(s, t).backward()
    assert s.grad is not None and t.grad is None
    with pytest.raises(ValueError, match="batch"):
        sp_loss(s, torch.zeros(2, 4, 2, 2))
