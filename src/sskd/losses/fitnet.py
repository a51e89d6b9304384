"""FitNet hint loss (Romero, Ballas, Kahou, Chassang, Gatta, Bengio, "FitNets: Hints for Thin
Deep Nets", ICLR 2015), as the CRD benchmark codes it (BASELINES.md §3)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from sskd.losses.precision import in_float32


@in_float32
def hint_loss(regressed: Tensor, teacher: Tensor) -> Tensor:
    """Mean squared error over all elements: ``[B, C_t, H_t, W_t]`` (the student's hint layer
    after the regressor) and the teacher's ``[B, C_t, H_t, W_t]`` → scalar."""
    if regressed.shape != teacher.shape:
        raise ValueError(f"hint_loss: regressed student map {tuple(regressed.shape)} and teacher map "
                         f"{tuple(teacher.shape)} must have the same shape")
    return F.mse_loss(regressed, teacher.detach())
