"""PKT loss (Passalis, Tefas, "Learning Deep Representations with Probabilistic Knowledge
Transfer", ECCV 2018), as the CRD benchmark codes it (BASELINES.md §3): cosine-similarity
kernels turned into row-wise conditional probabilities, compared by KL divergence averaged
over the B² pairs (eps = 1e-7)."""

from __future__ import annotations

import torch
from torch import Tensor

from sskd.losses.precision import in_float32

PKT_EPS = 1e-7


def pkt_probabilities(x: Tensor, eps: float = PKT_EPS) -> Tensor:
    """``P_ij = K_ij / Σ_j K_ij`` with ``K_ij = (x̂_i·x̂_j + 1) / 2`` and ``x̂ = x / (‖x‖₂ + eps)``
    (NaN set to 0): ``[B, d]`` → ``[B, B]``, rows summing to 1, diagonal included."""
    x = x.flatten(1)
    x = torch.nan_to_num(x / (x.norm(dim=1, keepdim=True) + eps), nan=0.0)
    kernel = (x @ x.t() + 1.0) / 2.0
    return kernel / kernel.sum(dim=1, keepdim=True)


@in_float32
def pkt_loss(student: Tensor, teacher: Tensor, eps: float = PKT_EPS) -> Tensor:
    """``(1/B²) Σ_ij P^t_ij · log((P^t_ij + eps) / (P^s_ij + eps))`` → scalar for the pooled
    embeddings ``[B, d_s]`` and ``[B, d_t]`` (the widths may differ; teacher detached)."""
    if student.shape[0] != teacher.shape[0]:
        raise ValueError(f"pkt_loss: student batch {student.shape[0]} and teacher batch {teacher.shape[0]} differ")
    p_s = pkt_probabilities(student, eps)
    p_t = pkt_probabilities(teacher.detach(), eps)
    return (p_t * torch.log((p_t + eps) / (p_s + eps))).mean()
