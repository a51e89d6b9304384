"""SSKD's self-supervision losses (Xu, Liu, Li, Loy, "Knowledge Distillation Meets
Self-Supervision", ECCV 2020, Eq. 4–8; behaviour of the released code: SSKD.md §2.2, §3).

Notation: a batch of ``B`` images seen through ``V`` views, flattened image-major
(row ``V·i + v``); view 0 is the normal image, views 1..V-1 the transformed ones, so
there are ``M = (V-1)·B`` transformed rows and transformed row ``a`` comes from image
``a // (V-1)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from sskd.losses.kd import kd_loss
from sskd.losses.selective import error_rank, selective_mask


def similarity_matrix(h_transformed: Tensor, h_normal: Tensor, eps: float = 1e-8) -> Tensor:
    """Cosine similarity of every transformed view with every normal view of the batch.

    ``h_transformed [M, D]``, ``h_normal [B, D]`` → ``[M, B]``, entries in [-1, 1].
    """
    a = F.normalize(h_transformed.float(), dim=1, eps=eps)
    n = F.normalize(h_normal.float(), dim=1, eps=eps)
    return a @ n.t()


def contrastive_targets(num_images: int, num_transformed: int, device=None) -> Tensor:
    """The column each transformed row should match: ``[M]`` with ``a // num_transformed``."""
    return torch.arange(num_images, device=device).repeat_interleave(num_transformed)


def contrastive_loss(similarity: Tensor, targets: Tensor, temperature: float = 1.0) -> Tensor:
    """Paper Eq. 5: cross-entropy of each transformed row against its own normal image.

    ``similarity [M, B]``, ``targets [M]`` → scalar. The released code uses
    ``temperature`` 1 (SSKD.md §2.2); with cosine logits in [-1, 1] the loss then cannot
    fall below about 2.25 for ``B`` = 64.
    """
    return F.cross_entropy(similarity / temperature, targets)


def sskd_ss_loss(student_similarity: Tensor, teacher_similarity: Tensor, targets: Tensor,
                 temperature: float = 0.5, keep_ratio: float = 0.75) -> Tensor:
    """L_ss (paper Eq. 7): the student's similarity rows mimic the teacher's.

    ``T² · batchmean KL(softmax(A_t/T) ‖ softmax(A_s/T))`` over the rows kept by selective
    transfer: rows the teacher matches to the right image, plus the
    ``floor(keep_ratio · #wrong)`` least-wrong ones. ``[M, B], [M, B], [M] → scalar``.
    """
    teacher_similarity = teacher_similarity.detach()
    mask = selective_mask(error_rank(teacher_similarity, targets), keep_ratio)
    return kd_loss(student_similarity, teacher_similarity, temperature, mask)


def sskd_transform_loss(student_logits: Tensor, teacher_logits: Tensor, labels: Tensor,
                        temperature: float = 4.0, keep_ratio: float = 1.0) -> Tensor:
    """L_T (paper Eq. 6): class predictions on the transformed views mimic the teacher's.

    ``student_logits, teacher_logits [M, K]``, ``labels [M]`` (each row's source-image
    label) → scalar ``T² · batchmean KL`` over the rows kept by selective transfer, ranked
    by the teacher's class scores (the released default keeps all rows, ``keep_ratio`` 1).
    """
    teacher_logits = teacher_logits.detach()
    mask = selective_mask(error_rank(teacher_logits, labels), keep_ratio)
    return kd_loss(student_logits, teacher_logits, temperature, mask)
