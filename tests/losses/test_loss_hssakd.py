"""HSSAKD's losses against hand-computed values (HSSAKD.md §3.2, §4.2)."""

import math

import pytest
import torch

from sskd.losses import class_logits_from_joint, hierarchical_kd_loss, joint_cross_entropy


def sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


def kl2(p, q):
    return p * math.log(p / q) + (1 - p) * math.log((1 - p) / (1 - q))


def test_joint_cross_entropy_sums_branches_and_averages_rows():
    # branch 1: rows [0, ln 3] target 1 -> -log(3/4); [0, 0] target 0 -> log 2
    # branch 2: rows [ln 2, 0] target 1 -> -log(1/3); [0, 0] target 0 -> log 2
    a1 = torch.tensor([[0.0, math.log(3)], [0.0, 0.0]])
    a2 = torch.tensor([[math.log(2), 0.0], [0.0, 0.0]])
    targets = torch.tensor([1, 0])
    b1 = (-math.log(3 / 4) + math.log(2)) / 2
    b2 = (-math.log(1 / 3) + math.log(2)) / 2
    assert joint_cross_entropy([a1, a2], targets).item() == pytest.approx(b1 + b2, rel=1e-6)
    assert joint_cross_entropy([a1], targets).item() == pytest.approx(b1, rel=1e-6)


def test_hierarchical_kd_is_tau_squared_batchmean_kl_summed_over_branches():
    t = 3.0
    # Row by row, two classes: teacher logits (3, 0) -> softmax((1, 0)) = (s(1), 1-s(1)).
    student = [torch.tensor([[0.0, 0.0], [0.0, 0.0]]), torch.tensor([[0.0, 3.0], [0.0, 0.0]])]
    teacher = [torch.tensor([[3.0, 0.0], [0.0, 0.0]]), torch.tensor([[3.0, 0.0], [3.0, 0.0]])]
    branch1 = (kl2(sigmoid(1), 0.5) + 0.0) / 2
    branch2 = (kl2(sigmoid(1), sigmoid(-1)) + kl2(sigmoid(1), 0.5)) / 2
    loss = hierarchical_kd_loss(student, teacher, t)
    assert loss.item() == pytest.approx(t * t * (branch1 + branch2), rel=1e-5)


def test_hierarchical_kd_treats_the_teacher_as_constant_and_needs_matched_branches():
    s = torch.zeros(2, 4, requires_grad=True)
    t = torch.randn(2, 4, requires_grad=True)
    hierarchical_kd_loss([s], [t]).backward()
    assert s.grad is not None and t.grad is None
    with pytest.raises(ValueError, match="student has 2 auxiliary branches and the teacher 1"):
        hierarchical_kd_loss([s, s], [t])


def test_class_logits_sum_the_rotation_slots_of_each_class():
    joint = torch.arange(8.0).view(1, 8)   # class 0: columns 0..3, class 1: columns 4..7
    assert class_logits_from_joint(joint).tolist() == [[0 + 1 + 2 + 3, 4 + 5 + 6 + 7]]
    with pytest.raises(ValueError, match="not a multiple of 4"):
        class_logits_from_joint(torch.zeros(1, 6))
