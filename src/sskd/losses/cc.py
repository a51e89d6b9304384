"""CC loss (Peng, Jin, Liu, Li, Wu, Liu, Zhou, Zhang, "Correlation Congruence for Knowledge
Distillation", ICCV 2019), as the CRD benchmark codes it (BASELINES.md §3): not the paper's
Gaussian-RBF correlation matrix but the products of the absolute embedding differences of
consecutive samples in the batch."""

from __future__ import annotations

from torch import Tensor

from sskd.losses.precision import in_float32


@in_float32
def cc_loss(student_embed: Tensor, teacher_embed: Tensor) -> Tensor:
    """``(1/(B−1)) Σ_{i<B} Σ_d Δ_id · Δ_(i+1)d`` with ``Δ = |e_s − e_t|`` → scalar, for the two
    embeddings ``[B, d]`` (B ≥ 2). The teacher-side embedding is *not* detached: the benchmark
    trains both embedding layers through this loss."""
    if student_embed.shape != teacher_embed.shape or student_embed.dim() != 2 or student_embed.shape[0] < 2:
        raise ValueError(f"cc_loss: embeddings {tuple(student_embed.shape)} and {tuple(teacher_embed.shape)} "
                         f"must both be [B, d] with B >= 2")
    delta = (student_embed - teacher_embed).abs()
    return (delta[:-1] * delta[1:]).sum(1).mean()
