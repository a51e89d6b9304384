"""AT loss (Zagoruyko, Komodakis, "Paying More Attention to Attention: Improving the Performance
of Convolutional Neural Networks via Attention Transfer", ICLR 2017), as the CRD benchmark codes
it (BASELINES.md §3): p = 2, the squared difference of the normalised attention maps averaged
(not the paper's ‖·‖₂ / 2), summed over the stage maps."""

from __future__ import annotations

from typing import Sequence

import torch.nn.functional as F
from torch import Tensor

from sskd.losses.precision import in_float32
from sskd.losses.spatial import match_spatial, paired_maps


def attention_map(feature: Tensor) -> Tensor:
    """``a(F) = normalize(mean_c F²)`` flattened over space: ``[B, C, H, W]`` → ``[B, H·W]``."""
    return F.normalize(feature.pow(2).mean(1).flatten(1))


def at_layer_loss(student: Tensor, teacher: Tensor) -> Tensor:
    """``mean over (B, H·W) of (a(F_s) − a(F_t))²`` → scalar for ``[B, C_s, H_s, W_s]`` and
    ``[B, C_t, H_t, W_t]`` (teacher detached; channel counts may differ), after the larger map
    is pooled to the smaller size (:func:`match_spatial`)."""
    student, teacher = match_spatial(student, teacher.detach())
    return (attention_map(student) - attention_map(teacher)).pow(2).mean()


@in_float32
def at_loss(student_maps: Sequence[Tensor], teacher_maps: Sequence[Tensor]) -> Tensor:
    """``Σ_l`` :func:`at_layer_loss` over paired maps (the stage maps ``feats[1:]``) → scalar."""
    return sum(at_layer_loss(s, t) for s, t in paired_maps("at_loss", student_maps, teacher_maps))
