"""HSSAKD's losses (Yang, An, Cai, Xu, "Knowledge Distillation Using Hierarchical
Self-Supervision Augmented Distribution", TNNLS 2022; IJCAI 2021 as HSAKD; behaviour of
the released code: HSSAKD.md §1, §3–5).

Notation: a batch of ``B`` images, each seen through the ``M`` = 4 rotations, flattened
image-major to ``4B`` rows; the joint label of rotation ``r`` of an image of class ``y`` is
``4·y + r`` (:func:`sskd.data.joint_labels`); every auxiliary branch outputs ``4K`` joint
logits per row, ``K`` the number of classes.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from sskd.losses.kd import kd_loss


def joint_cross_entropy(aux_logits: Sequence[Tensor], joint_targets: Tensor) -> Tensor:
    """``Σ_l CE(aux_l, joint targets)``, each averaged over the ``4B`` rows (paper's L_T,
    second term; the same supervision trains frozen-backbone and joint teachers and the
    online peers' branches). ``aux_logits``: L tensors ``[4B, 4K]``; ``joint_targets [4B]``."""
    return torch.stack([F.cross_entropy(a.float(), joint_targets) for a in aux_logits]).sum()


def hierarchical_kd_loss(student_aux: Sequence[Tensor], teacher_aux: Sequence[Tensor],
                         temperature: float = 3.0) -> Tensor:
    """L_kl_q: ``Σ_l τ²·KL(softmax(a^T_l/τ) ‖ softmax(a^S_l/τ))``, ``batchmean`` over all
    ``4B`` rows; branches are matched one-to-one by index (paper Eq. 4; HSSAKD.md §4.2).
    L tensors ``[4B, 4K]`` each → scalar. The teacher's logits are constants."""
    if len(student_aux) != len(teacher_aux):
        raise ValueError(f"the student has {len(student_aux)} auxiliary branches and the teacher "
                         f"{len(teacher_aux)}: HSSAKD matches them one to one")
    return torch.stack([kd_loss(s, t, temperature) for s, t in zip(student_aux, teacher_aux)]).sum()


def class_logits_from_joint(joint_logits: Tensor, num_rotations: int = 4) -> Tensor:
    """``[N, M·K]`` joint logits → ``[N, K]`` class logits, summing each class's ``M``
    rotation slots (columns ``M·y .. M·y + M − 1``): the released code's diagnostic
    class accuracy of an auxiliary branch (HSSAKD.md §1.3)."""
    n, width = joint_logits.shape
    if width % num_rotations:
        raise ValueError(f"joint logits have {width} columns, not a multiple of {num_rotations}")
    return joint_logits.view(n, width // num_rotations, num_rotations).sum(dim=2)
