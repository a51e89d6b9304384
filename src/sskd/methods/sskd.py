"""SSKD (Xu, Liu, Li, Loy, "Knowledge Distillation Meets Self-Supervision", ECCV 2020).

Two stages, as in the released code (SSKD.md §2.2–3.5):

* ``sskd_teacher_head`` trains a projection head on the frozen teacher's pooled feature
  with the contrastive task: each transformed view must pick its own normal view among
  the batch's normal views (cosine similarity, temperature 1).
* ``sskd`` trains the student (with its own head) on
  ``λ1·CE + λ2·KD + λ3·L_T + λ4·L_ss``, released weights 0.1 / 0.9 / 2.7 / 10.0, with
  selective transfer on L_ss (k = 0.75) and L_T (k = 1: all rows). A weight of 0 removes
  its term, so the paper's ablations are configs.

Views: the released four rotations ("sskd") by default; ``views: sskd_paper`` in the
stage's args selects the paper's four transformations instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sskd.data.views import MultiViewBatch, flatten_views
from sskd.losses import (contrastive_loss, contrastive_targets, kd_loss, similarity_matrix,
                         sskd_ss_loss, sskd_transform_loss)
from sskd.methods.base import Method, MethodContext, register_method
from sskd.methods.teacher import frozen_teacher
from sskd.models import build_model
from sskd.selfsup import ProjectionHead


def split_views(x: Tensor, num_views: int) -> tuple[Tensor, Tensor]:
    """``[B·V, ...]`` (image-major) → normal rows ``[B, ...]``, transformed rows ``[B·(V-1), ...]``
    (transformed row ``a`` from image ``a // (V-1)``)."""
    grouped = x.view(-1, num_views, *x.shape[1:])
    return grouped[:, 0], grouped[:, 1:].reshape(-1, *x.shape[1:])


@dataclass
class TeacherHeadHparams:
    temperature: float = 1.0
    views: str = "sskd"


@register_method("sskd_teacher_head")
class SSKDTeacherHead(Method):
    """Stage 1: the teacher's projection head, trained on the contrastive task with the
    backbone frozen (eval mode, features detached). Trains ``networks["teacher_head"]``."""

    Hparams = TeacherHeadHparams
    frozen = ("teacher",)
    needs_teacher = True

    def __init__(self, context: MethodContext, hparams: TeacherHeadHparams):
        super().__init__(context, hparams)
        self.views = hparams.views
        self.teacher = frozen_teacher(context)
        self.head = context.network("teacher_head", lambda: ProjectionHead(self.teacher.embed_dim))

    def forward_train(self, batch: MultiViewBatch) -> tuple[Tensor, dict[str, Tensor]]:
        b, v = batch.views.shape[:2]
        with torch.no_grad():
            out = self.teacher(flatten_views(batch.views))
        h_normal, h_transformed = split_views(self.head(out.pooled), v)
        similarity = similarity_matrix(h_transformed, h_normal)
        targets = contrastive_targets(b, v - 1, device=similarity.device)
        normal_logits = split_views(out.logits, v)[0]
        return normal_logits, {"contrastive": contrastive_loss(similarity, targets, self.hparams.temperature)}

    def eval_network(self) -> nn.Module:
        return self.teacher

    def export_key(self) -> str:
        return "teacher_head"


@dataclass
class SSKDHparams:
    """Released defaults (SSKD.md §3.3–3.4)."""

    ce_weight: float = 0.1
    kd_weight: float = 0.9
    tf_weight: float = 2.7
    ss_weight: float = 10.0
    kd_T: float = 4.0
    tf_T: float = 4.0
    ss_T: float = 0.5
    tf_ratio: float = 1.0
    ss_ratio: float = 0.75
    views: str = "sskd"


@register_method("sskd")
class SSKD(Method):
    """Stage 2: the student, taught by the teacher's predictions on normal and transformed
    views and by its similarity structure. Needs ``networks["teacher_head"]`` from stage 1."""

    Hparams = SSKDHparams
    frozen = ("teacher", "teacher_head")
    needs_teacher = True

    def __init__(self, context: MethodContext, hparams: SSKDHparams):
        super().__init__(context, hparams)
        for name in ("tf_ratio", "ss_ratio"):
            if not 0 <= getattr(hparams, name) <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(hparams, name)}")
        self.views = hparams.views
        self.teacher = frozen_teacher(context)
        if "teacher_head" not in context.networks:
            raise ValueError("method 'sskd' needs the teacher's projection head: run a "
                             "'sskd_teacher_head' stage before it")
        self.teacher_head = context.networks["teacher_head"]
        for p in self.teacher_head.parameters():
            p.requires_grad_(False)
        model = context.config.model
        self.student = context.network(
            "student", lambda: build_model(model.name, num_classes=context.num_classes, **model.args))
        self.student_head = context.network("student_head", lambda: ProjectionHead(self.student.embed_dim))

    def forward_train(self, batch: MultiViewBatch) -> tuple[Tensor, dict[str, Tensor]]:
        hp = self.hparams
        b, v = batch.views.shape[:2]
        x = flatten_views(batch.views)
        s_out = self.student(x)
        with torch.no_grad():
            t_out = self.teacher(x)
        s_normal, s_transformed = split_views(s_out.logits, v)
        t_normal, t_transformed = split_views(t_out.logits, v)
        losses: dict[str, Tensor] = {}
        if hp.ce_weight:
            losses["ce"] = hp.ce_weight * F.cross_entropy(s_normal, batch.labels)
        if hp.kd_weight:
            losses["kd"] = hp.kd_weight * kd_loss(s_normal, t_normal, hp.kd_T)
        if hp.tf_weight:
            source_labels = batch.labels.repeat_interleave(v - 1)
            losses["tf"] = hp.tf_weight * sskd_transform_loss(
                s_transformed, t_transformed, source_labels, hp.tf_T, hp.tf_ratio)
        if hp.ss_weight:
            with torch.no_grad():
                t_h_normal, t_h_transformed = split_views(self.teacher_head(t_out.pooled), v)
                t_similarity = similarity_matrix(t_h_transformed, t_h_normal)
            s_h_normal, s_h_transformed = split_views(self.student_head(s_out.pooled), v)
            s_similarity = similarity_matrix(s_h_transformed, s_h_normal)
            targets = contrastive_targets(b, v - 1, device=x.device)
            losses["ss"] = hp.ss_weight * sskd_ss_loss(s_similarity, t_similarity, targets, hp.ss_T, hp.ss_ratio)
        if not losses:
            raise ValueError("every SSKD loss weight is 0: nothing to train")
        return s_normal, losses

    def trainable_parameters(self):
        params = list(self.student.parameters())
        if self.hparams.ss_weight:
            params += list(self.student_head.parameters())
        return iter(params)

    def eval_network(self) -> nn.Module:
        return self.student

    def export_key(self) -> str:
        return "student"
