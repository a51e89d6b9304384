"""NST loss (Huang, Wang, "Like What You Like: Knowledge Distill via Neuron Selectivity
Transfer", arXiv:1707.01219, 2017), as the CRD benchmark codes it (BASELINES.md §3): the squared
MMD between the two sets of channel activation patterns under the polynomial kernel
k(u, v) = (uᵀv)² (degree 2, c = 0), summed over the stage maps."""

from __future__ import annotations

from typing import Sequence

import torch.nn.functional as F
from torch import Tensor

from sskd.losses.precision import in_float32
from sskd.losses.spatial import match_spatial, paired_maps


def channel_patterns(feature: Tensor) -> Tensor:
    """Each channel's map L2-normalised over space: ``[B, C, H, W]`` → ``[B, C, H·W]``."""
    return F.normalize(feature.flatten(2), dim=2)


def poly_kernel_mean(a: Tensor, b: Tensor) -> Tensor:
    """``mean_{n,i,j} (a_ni · b_nj)²`` for ``a`` ``[B, C_a, P]`` and ``b`` ``[B, C_b, P]`` → scalar.

    ``Σ_ij (a_i · b_j)² = ‖A Bᵀ‖²_F = ⟨AᵀA, BᵀB⟩``: the ``[C_a, C_b]`` Gram is used unless the two
    ``[P, P]`` ones are smaller (deep maps with many channels on few positions)."""
    c_a, c_b, positions = a.shape[1], b.shape[1], a.shape[2]
    if c_a * c_b <= 2 * positions * positions:
        total = (a @ b.transpose(1, 2)).pow(2).sum()
    else:
        total = ((a.transpose(1, 2) @ a) * (b.transpose(1, 2) @ b)).sum()
    return total / (a.shape[0] * c_a * c_b)


def nst_layer_loss(student: Tensor, teacher: Tensor) -> Tensor:
    """``mean k(t̂_i, t̂_j) + mean k(ŝ_i, ŝ_j) − 2·mean k(ŝ_i, t̂_j)`` → scalar, each mean over its
    own ``[B, C·, C·]`` kernel values, for ``[B, C_s, H_s, W_s]`` and ``[B, C_t, H_t, W_t]``
    (channel counts may differ; teacher detached), after the larger map is pooled to the
    smaller size (:func:`match_spatial`)."""
    student, teacher = match_spatial(student, teacher.detach())
    s, t = channel_patterns(student), channel_patterns(teacher)
    return poly_kernel_mean(t, t) + poly_kernel_mean(s, s) - 2 * poly_kernel_mean(s, t)


@in_float32
def nst_loss(student_maps: Sequence[Tensor], teacher_maps: Sequence[Tensor]) -> Tensor:
    """``Σ_l`` :func:`nst_layer_loss` over paired maps (the stage maps ``feats[1:]``) → scalar."""
    return sum(nst_layer_loss(s, t) for s, t in paired_maps("nst_loss", student_maps, teacher_maps))
