"""PKT's loss against BASELINES.md §7 and a hand computation."""

import math

import pytest
import torch

from sine_inputs import S
from sskd.losses.pkt import pkt_loss


def test_reference_value_of_the_crd_benchmark():
    assert pkt_loss(S((8, 64), .13, .5), S((8, 128), .07, 1.1)).item() == pytest.approx(0.0720059, rel=1e-4)


def loop_probabilities(x, eps=1e-7):
    rows = [[v / (math.sqrt(sum(u * u for u in r)) + eps) for v in r] for r in x.tolist()]
    kernel = [[(sum(a * b for a, b in zip(u, v)) + 1) / 2 for v in rows] for u in rows]
    return [[k / sum(row) for k in row] for row in kernel]


def test_hand_computed_kl_of_the_kernel_probabilities():
    x_s = torch.tensor([[1.0, 0.0], [0.6, 0.8], [-1.0, 2.0]])
    x_t = torch.tensor([[0.0, 2.0, 1.0], [1.0, 1.0, 0.0], [3.0, -1.0, 0.5]])
    p_s, p_t = loop_probabilities(x_s), loop_probabilities(x_t)
    expected = sum(p_t[i][j] * math.log((p_t[i][j] + 1e-7) / (p_s[i][j] + 1e-7))
                   for i in range(3) for j in range(3)) / 9
    assert pkt_loss(x_s, x_t).item() == pytest.approx(expected, rel=1e-5)


def test_a_zero_embedding_is_not_nan_and_gradient_reaches_the_student_only():
    s = torch.randn(3, 4)
    s[1] = 0.0
    s.requires_grad_(True)
    t = torch.randn(3, 6, requires_grad=True)
    loss = pkt_loss(s, t)
    assert torch.isfinite(loss)
    loss.backward()
    assert s.grad is not None and torch.isfinite(s.grad).all() and t.grad is None
