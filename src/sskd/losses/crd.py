"""CRD's NCE loss (Tian, Krishnan, Isola, "Contrastive Representation Distillation", ICLR 2020),
as the CRD benchmark codes it (BASELINES.md §3, §4): the ``ContrastLoss`` applied to each side's
normalised scores, one positive and K negatives per anchor, noise distribution P_n = 1/N.

The scores come from :class:`sskd.methods.crd_memory.CRDMemory`
(``exp(⟨memory row, anchor⟩/τ) / Z``)."""

from __future__ import annotations

import torch
from torch import Tensor

EPS = 1e-7


def crd_nce_loss(scores: Tensor, n_data: int) -> Tensor:
    """``−(1/B)·[Σ_b log(s_b0 / (s_b0 + K·P_n + ε)) + Σ_{b,k≥1} log(K·P_n / (s_bk + K·P_n + ε))]``.

    ``scores``: ``[B, K+1]`` positive scores s > 0, column 0 the positive, columns 1…K the
    negatives; ``n_data``: N, the training-set size (P_n = 1/N). Returns a scalar of the
    scores' dtype.

    Each log is written as ``−log1p(·)`` of a ratio, which keeps its relative precision when
    s ≪ K·P_n, and the B·(K+1) terms are summed in float64 (BASELINES.md §7: a float32 sum of
    131k log terms drifts by 1e-4).
    """
    if scores.dim() != 2 or scores.shape[1] < 2:
        raise ValueError(f"crd_nce_loss: scores must be [B, K+1] with K >= 1, got {tuple(scores.shape)}")
    if n_data <= 0:
        raise ValueError(f"crd_nce_loss: n_data must be > 0, got {n_data}")
    k = scores.shape[1] - 1
    noise = k / float(n_data)  # K·P_n
    positive, negative = scores[:, 0], scores[:, 1:]
    log_d1 = -torch.log1p((noise + EPS) / positive)  # log(s / (s + K·P_n + ε))
    log_d0 = -torch.log1p((negative + EPS) / noise)  # log(K·P_n / (s + K·P_n + ε))
    total = log_d1.sum(dtype=torch.float64) + log_d0.sum(dtype=torch.float64)
    return (-total / scores.shape[0]).to(scores.dtype)


def crd_loss(student_scores: Tensor, teacher_scores: Tensor, n_data: int) -> Tensor:
    """L_CRD = L(s^s) + L(s^t) (BASELINES.md §4): the NCE loss of the student-anchored scores
    (student embedding against the teacher memory) plus that of the teacher-anchored ones,
    both ``[B, K+1]``. Scalar."""
    return crd_nce_loss(student_scores, n_data) + crd_nce_loss(teacher_scores, n_data)
