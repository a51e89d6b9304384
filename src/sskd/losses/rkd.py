"""RKD loss (Park, Kim, Lu, Cho, "Relational Knowledge Distillation", CVPR 2019), as the CRD
benchmark codes it (BASELINES.md §3): smooth-L1 between the student's and the teacher's
mean-normalised pairwise distances (weight w_d = 25) and between their triplet angles
(w_a = 50); the teacher's relations are computed without gradient."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from sskd.losses.precision import in_float32

RKD_DISTANCE_WEIGHT = 25.0
RKD_ANGLE_WEIGHT = 50.0


def pairwise_distances(x: Tensor, eps: float = 1e-12) -> Tensor:
    """``D_ij = sqrt(max(‖x_i‖² + ‖x_j‖² − 2 x_i·x_j, eps))``, diagonal 0: ``[B, d]`` → ``[B, B]``."""
    square = x.pow(2).sum(1)
    d = (square[:, None] + square[None, :] - 2 * x @ x.t()).clamp(min=eps).sqrt()
    return d.masked_fill(torch.eye(x.shape[0], dtype=torch.bool, device=d.device), 0.0)


def normalised_distances(x: Tensor) -> Tensor:
    """:func:`pairwise_distances` divided by the mean of its positive entries: ``[B, d]`` →
    ``[B, B]``. The entries are 0 (diagonal) or positive, so that mean is a sum over a count
    (no boolean indexing, no host sync)."""
    d = pairwise_distances(x)
    return d / (d.sum() / (d > 0).sum())


def triplet_angles(x: Tensor) -> Tensor:
    """``A_ijk = ⟨e_ij, e_ik⟩`` with ``e_ij = normalize(x_j − x_i)`` (0 when ``x_j = x_i``):
    ``[B, d]`` → ``[B, B, B]``."""
    e = F.normalize(x[None, :, :] - x[:, None, :], dim=2)
    return torch.bmm(e, e.transpose(1, 2))


@in_float32
def rkd_loss(student: Tensor, teacher: Tensor, distance_weight: float = RKD_DISTANCE_WEIGHT,
             angle_weight: float = RKD_ANGLE_WEIGHT) -> Tensor:
    """``w_d · SmoothL1(D_s, D_t) + w_a · SmoothL1(A_s, A_t)`` (β = 1, means over B² and B³
    entries) → scalar, for the pooled embeddings ``[B, d_s]`` and ``[B, d_t]`` (flattened per
    sample; the widths may differ). A weight of 0 skips its term."""
    student, teacher = student.flatten(1), teacher.flatten(1)
    if student.shape[0] != teacher.shape[0]:
        raise ValueError(f"rkd_loss: student batch {student.shape[0]} and teacher batch {teacher.shape[0]} differ")
    loss = student.new_zeros(())
    if distance_weight:
        with torch.no_grad():
            d_t = normalised_distances(teacher)
        loss = loss + distance_weight * F.smooth_l1_loss(normalised_distances(student), d_t)
    if angle_weight:
        with torch.no_grad():
            a_t = triplet_angles(teacher)
        loss = loss + angle_weight * F.smooth_l1_loss(triplet_angles(student), a_t)
    return loss
