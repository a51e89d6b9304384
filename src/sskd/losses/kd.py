"""Knowledge distillation (Hinton, Vinyals, Dean, "Distilling the Knowledge in a Neural
Network", 2015): KL between temperature-softened teacher and student distributions."""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor


def kl_div_rows(student_logits: Tensor, teacher_logits: Tensor, temperature: float) -> Tensor:
    """Per-row ``KL(softmax(z_t/T) ‖ softmax(z_s/T))``: ``[N, K], [N, K] → [N]`` (float32)."""
    log_p_s = F.log_softmax(student_logits.float() / temperature, dim=1)
    p_t = F.softmax(teacher_logits.float() / temperature, dim=1)
    return F.kl_div(log_p_s, p_t, reduction="none").sum(dim=1)


def kd_loss(student_logits: Tensor, teacher_logits: Tensor, temperature: float = 4.0,
            mask: Optional[Tensor] = None) -> Tensor:
    """``T² · mean over rows of KL(p_t ‖ p_s)`` (PyTorch's ``batchmean``), a scalar.

    Args:
        student_logits, teacher_logits: ``[N, K]``; the teacher's are treated as constants.
        temperature: ``T``.
        mask: optional bool ``[N]``; only kept rows count, and the mean is over them
            (0 when no row is kept), as SSKD's selective transfer does.
    """
    rows = kl_div_rows(student_logits, teacher_logits.detach(), temperature)
    if mask is None:
        return rows.mean() * temperature**2
    if mask.dtype != torch.bool or mask.shape != rows.shape:
        raise ValueError(f"mask must be a bool tensor of shape {tuple(rows.shape)}, "
                         f"got {mask.dtype} {tuple(mask.shape)}")
    kept_sum = torch.where(mask, rows, torch.zeros_like(rows)).sum()
    return kept_sum / mask.sum().clamp(min=1) * temperature**2
