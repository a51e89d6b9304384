"""VID loss (Ahn, Hu, Damianou, Lawrence, Dai, "Variational Information Distillation for
Knowledge Transfer", CVPR 2019), as the CRD benchmark codes it (BASELINES.md §3): the negative
log-likelihood of the teacher's map under a Gaussian with the regressed student map as mean
and a learned per-channel variance."""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor

from sskd.losses.precision import in_float32
from sskd.losses.spatial import match_spatial

#: Added to softplus(α) so that the variance stays positive.
VID_EPS = 1e-5


def vid_variance(log_scale_param: Tensor) -> Tensor:
    """``σ²_c = softplus(α_c) + 1e-5`` for α ``[C_t]`` → ``[C_t]``."""
    return F.softplus(log_scale_param) + VID_EPS


def vid_log_scale_init(variance: float = 5.0) -> float:
    """The α for which :func:`vid_variance` gives ``variance`` (the benchmark starts at 5.0)."""
    return math.log(math.expm1(variance - VID_EPS))


@in_float32
def vid_loss(regressed: Tensor, teacher: Tensor, log_scale_param: Tensor) -> Tensor:
    """``mean over (B, C_t, H, W) of ½·[(R(F_s) − F_t)² / σ²_c + log σ²_c]`` → scalar.

    ``regressed``: the student's map after its regressor ``[B, C_t, H_s, W_s]``; ``teacher``:
    ``[B, C_t, H_t, W_t]`` (detached); ``log_scale_param``: α ``[C_t]``. The larger map is
    average-pooled to the smaller size (:func:`match_spatial`). The benchmark pools the
    student's map *before* its regressor, which a caller does by pooling first (a 1×1-conv
    regressor keeps the size, and this pooling is then a no-op).
    """
    regressed, teacher = match_spatial(regressed, teacher.detach())
    if regressed.shape != teacher.shape or log_scale_param.shape != (teacher.shape[1],):
        raise ValueError(f"vid_loss: regressed map {tuple(regressed.shape)}, teacher map {tuple(teacher.shape)} "
                         f"and log-scale {tuple(log_scale_param.shape)} do not fit ([B, C_t, H, W] twice, [C_t])")
    variance = vid_variance(log_scale_param).view(1, -1, 1, 1)
    return (0.5 * ((regressed - teacher).pow(2) / variance + variance.log())).mean()
