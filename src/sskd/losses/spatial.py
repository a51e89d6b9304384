"""The CRD benchmark's rule for feature maps of different spatial sizes (BASELINES.md §1.1)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def match_spatial(student: Tensor, teacher: Tensor) -> tuple[Tensor, Tensor]:
    """``[B, C_s, H_s, W_s], [B, C_t, H_t, W_t]`` → the same maps with the larger one
    average-pooled (``adaptive_avg_pool2d``) to the smaller one's ``H × W``; used by AT, NST,
    VID, FT and FSP. The benchmark compares heights only and assumes square maps; this
    compares both sides."""
    s_hw, t_hw = tuple(student.shape[-2:]), tuple(teacher.shape[-2:])
    if s_hw == t_hw:
        return student, teacher
    if s_hw[0] * s_hw[1] > t_hw[0] * t_hw[1]:
        return F.adaptive_avg_pool2d(student, t_hw), teacher
    return student, F.adaptive_avg_pool2d(teacher, s_hw)


def paired_maps(loss: str, student_maps, teacher_maps) -> list[tuple[Tensor, Tensor]]:
    """The maps paired one to one, ``[(student_l, teacher_l), ...]``; ``ValueError`` naming
    ``loss`` when the counts differ or there are none."""
    if len(student_maps) != len(teacher_maps) or not teacher_maps:
        raise ValueError(f"{loss}: {len(student_maps)} student and {len(teacher_maps)} teacher maps; "
                         f"it pairs them one to one")
    return list(zip(student_maps, teacher_maps))
