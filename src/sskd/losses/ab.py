"""AB loss (Heo, Lee, Yun, Choi, "Knowledge Transfer via Distillation of Activation Boundaries
Formed by Hidden Neurons", AAAI 2019), as the CRD benchmark codes it (BASELINES.md §3): a
hinge-like squared loss that pushes each connected student pre-activation to the teacher's
side of 0 by a margin."""

from __future__ import annotations

from typing import Sequence

from torch import Tensor

from sskd.losses.precision import in_float32


def ab_layer_sum(student: Tensor, teacher: Tensor, margin: float = 1.0) -> Tensor:
    """``ℓ = Σ_{b,c,h,w} (s+m)²·1(s > −m ∧ t ≤ 0) + (s−m)²·1(s ≤ m ∧ t > 0)`` for the connected
    student pre-activation ``s`` and the teacher's ``t``, both ``[B, C, H, W]`` → scalar."""
    if student.shape != teacher.shape:
        raise ValueError(f"ab_loss: connected student map {tuple(student.shape)} and teacher map "
                         f"{tuple(teacher.shape)} must have the same shape")
    teacher = teacher.detach()
    off = ((student > -margin) & (teacher <= 0)).to(student.dtype)
    on = ((student <= margin) & (teacher > 0)).to(student.dtype)
    return ((student + margin).pow(2) * off + (student - margin).pow(2) * on).sum()


@in_float32
def ab_loss(student_preacts_connected: Sequence[Tensor], teacher_preacts: Sequence[Tensor],
            margin: float = 1.0) -> Tensor:
    """``Σ_l w_l · ℓ_l · 3/(1000·B)`` with ``w_l = 2^(l−n+1)`` (the deepest of the ``n`` layers
    weighs 1, each shallower one half the next) → scalar.

    ``student_preacts_connected[l]``: the student's pre-activation map ``l`` after its
    connector, ``[B, C_l, H_l, W_l]``; ``teacher_preacts[l]``: the teacher's, same shape.
    """
    if len(student_preacts_connected) != len(teacher_preacts) or not teacher_preacts:
        raise ValueError(f"ab_loss: {len(student_preacts_connected)} student and {len(teacher_preacts)} teacher "
                         f"maps; it needs the same number, at least one")
    n = len(teacher_preacts)
    batch = teacher_preacts[0].shape[0]
    total = sum(2.0 ** (l - n + 1) * ab_layer_sum(s, t, margin)
                for l, (s, t) in enumerate(zip(student_preacts_connected, teacher_preacts)))
    return total * (3.0 / (1000.0 * batch))
