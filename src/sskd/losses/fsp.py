"""FSP loss (Yim, Joo, Bae, Kim, "A Gift from Knowledge Distillation: Fast Optimization, Network
Minimization and Transfer Learning", CVPR 2017), as the CRD benchmark codes it (BASELINES.md
§3): the squared difference of the "flow of solution procedure" (Gram) matrices between
consecutive feature maps of student and teacher."""

from __future__ import annotations

from typing import Sequence

from torch import Tensor

from sskd.losses.precision import in_float32
from sskd.losses.spatial import match_spatial


def fsp_matrix(lower: Tensor, upper: Tensor) -> Tensor:
    """``G_ij = (1/HW) Σ_hw upper_i(hw) · lower_j(hw)`` for consecutive maps ``lower``
    ``[B, C_1, H_1, W_1]`` and ``upper`` ``[B, C_2, H_2, W_2]`` → ``[B, C_2, C_1]``; the larger
    map is average-pooled to the smaller size first (:func:`match_spatial`)."""
    lower, upper = match_spatial(lower, upper)
    return upper.flatten(2) @ lower.flatten(2).transpose(1, 2) / lower[0, 0].numel()


@in_float32
def fsp_loss(student_maps: Sequence[Tensor], teacher_maps: Sequence[Tensor]) -> Tensor:
    """``Σ over consecutive pairs (k, k+1) of mean_{b,i,j} (G_s − G_t)²`` → scalar.

    ``student_maps`` / ``teacher_maps``: the networks' feature maps in depth order (stem and
    stages, ``ModelOutput.feats``), ``[B, C_k, H_k, W_k]``, with the same number of maps and
    the same channel counts on both sides (teacher maps detached).
    """
    if len(student_maps) != len(teacher_maps) or len(teacher_maps) < 2:
        raise ValueError(f"fsp_loss: {len(student_maps)} student and {len(teacher_maps)} teacher maps; "
                         f"it needs the same number, at least two")
    total = 0.0
    for k in range(len(teacher_maps) - 1):
        g_s = fsp_matrix(student_maps[k], student_maps[k + 1])
        g_t = fsp_matrix(teacher_maps[k].detach(), teacher_maps[k + 1].detach())
        if g_s.shape != g_t.shape:
            raise ValueError(f"fsp_loss: FSP matrices of maps {k}→{k + 1} differ in shape, student "
                             f"{tuple(g_s.shape)} and teacher {tuple(g_t.shape)} (channel counts must be equal)")
        total = total + (g_s - g_t).pow(2).mean()
    return total
