"""KL divergence between teacher and student predictions, the prediction similarity of
SSKD Table 6 (BASELINES.md §6).

For logits ``z_t``, ``z_s`` [n, K] and p = softmax(z / T):

    KL = (1/n) Σ_i Σ_c p_t(c|i) · (log p_t(c|i) − log p_s(c|i))

direction teacher ‖ student (that of the KD loss), averaged over samples (batchmean),
computed in float64 through log_softmax, and with no T² factor. Lower is more similar.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor


def _check_temperature(temperature: float) -> float:
    if not (math.isfinite(temperature) and temperature > 0):
        raise ValueError(f"the KL temperature must be a positive number; got {temperature}")
    return float(temperature)


def prediction_kl_per_sample(teacher_logits: Tensor, student_logits: Tensor,
                             temperature: float = 1.0) -> Tensor:
    """KL(teacher ‖ student) of softmax(z / T) for each row of the [n, K] logits: float64 [n]."""
    temperature = _check_temperature(temperature)
    if teacher_logits.ndim != 2 or teacher_logits.shape != student_logits.shape:
        raise ValueError(f"the KL needs teacher and student logits of one shape [n, K]; got "
                         f"{tuple(teacher_logits.shape)} and {tuple(student_logits.shape)}")
    log_p_t = F.log_softmax(teacher_logits.detach().double() / temperature, dim=1)
    log_p_s = F.log_softmax(student_logits.detach().to(log_p_t).div(temperature), dim=1)
    return (log_p_t.exp() * (log_p_t - log_p_s)).sum(1)


def prediction_kl(teacher_logits: Tensor, student_logits: Tensor, temperature: float = 1.0) -> float:
    """Mean over the n rows of :func:`prediction_kl_per_sample`."""
    per_sample = prediction_kl_per_sample(teacher_logits, student_logits, temperature)
    if per_sample.numel() == 0:
        raise ValueError("the KL needs at least one row of logits; got none")
    return float(per_sample.mean())


class PredictionKLAccumulator:
    """:func:`prediction_kl` over logits fed batch by batch (``update(z_t, z_s)`` with
    [b, K] logits, then ``value()``): the float64 sum of per-sample KLs and their count."""

    def __init__(self, temperature: float = 1.0) -> None:
        self.temperature = _check_temperature(temperature)
        self.total = 0.0
        self.count = 0

    def update(self, teacher_logits: Tensor, student_logits: Tensor) -> None:
        per_sample = prediction_kl_per_sample(teacher_logits, student_logits, self.temperature)
        self.total += float(per_sample.sum())
        self.count += per_sample.numel()

    def value(self) -> float:
        if self.count == 0:
            raise ValueError("the KL needs at least one row of logits; none was fed")
        return self.total / self.count
