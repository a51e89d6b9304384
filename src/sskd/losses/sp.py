"""SP loss (Tung, Mori, "Similarity-Preserving Knowledge Distillation", ICCV 2019), as the CRD
benchmark codes it (BASELINES.md §3): the batch's row-normalised similarity matrices of student
and teacher compared by squared Frobenius distance over B²."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from sskd.losses.precision import in_float32


def similarity(feature: Tensor) -> Tensor:
    """``Ĝ`` = the rows of ``F Fᵀ`` L2-normalised, with ``F`` flattened per sample:
    ``[B, ...]`` → ``[B, B]``."""
    flat = feature.flatten(1)
    return F.normalize(flat @ flat.t())


@in_float32
def sp_loss(student: Tensor, teacher: Tensor) -> Tensor:
    """``‖Ĝ_t − Ĝ_s‖²_F / B²`` → scalar for the student's ``[B, C_s, H_s, W_s]`` and the
    teacher's ``[B, C_t, H_t, W_t]`` (any sizes: only the batch must agree; teacher detached)."""
    if student.shape[0] != teacher.shape[0]:
        raise ValueError(f"sp_loss: student batch {student.shape[0]} and teacher batch {teacher.shape[0]} differ")
    return (similarity(teacher.detach()) - similarity(student)).pow(2).mean()
