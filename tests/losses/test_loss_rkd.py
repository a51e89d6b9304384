"""RKD's loss against BASELINES.md §7 and a hand computation of both relations."""

import itertools
import math

import pytest
import torch

from sine_inputs import S
from sskd.losses.rkd import rkd_loss


def test_reference_value_of_the_crd_benchmark():
    assert rkd_loss(S((8, 64), .13, .5), S((8, 128), .07, 1.1)).item() == pytest.approx(15.1189, rel=1e-4)


def smooth_l1(a, b):
    d = abs(a - b)
    return 0.5 * d * d if d < 1 else d - 0.5


def loop_distances(x):
    rows = x.tolist()
    d = [[math.dist(u, v) for v in rows] for u in rows]
    positive = [v for row in d for v in row if v > 0]
    mean = sum(positive) / len(positive)
    return [[v / mean for v in row] for row in d]


def loop_angles(x):
    rows = x.tolist()
    n = len(rows)

    def unit(i, j):
        v = [b - a for a, b in zip(rows[i], rows[j])]
        norm = math.sqrt(sum(c * c for c in v))
        return [c / norm for c in v] if norm > 0 else [0.0] * len(v)

    return {(i, j, k): sum(a * b for a, b in zip(unit(i, j), unit(i, k)))
            for i, j, k in itertools.product(range(n), repeat=3)}


def test_hand_computed_distance_and_angle_terms():
    x_s = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    x_t = torch.tensor([[1.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, 1.0], [2.0, 2.0, 2.0]])
    d_s, d_t = loop_distances(x_s), loop_distances(x_t)
    l_d = sum(smooth_l1(d_s[i][j], d_t[i][j]) for i in range(4) for j in range(4)) / 16
    a_s, a_t = loop_angles(x_s), loop_angles(x_t)
    l_a = sum(smooth_l1(a_s[key], a_t[key]) for key in a_s) / 64
    assert rkd_loss(x_s, x_t).item() == pytest.approx(25 * l_d + 50 * l_a, rel=1e-5)
    assert rkd_loss(x_s, x_t, distance_weight=1.0, angle_weight=0.0).item() == pytest.approx(l_d, rel=1e-5)
    assert rkd_loss(x_s, x_t, distance_weight=0.0, angle_weight=1.0).item() == pytest.approx(l_a, rel=1e-5)


def test_gradient_reaches_the_student_only():
    s = torch.randn(5, 4, requires_grad=True)
    t = torch.randn(5, 7, requires_grad=True)
    rkd_loss(s, t).backward()
    assert s.grad is not None and torch.isfinite(s.grad).all() and t.grad is None
