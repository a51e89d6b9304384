"""SSKD (Xu, Liu, Li, Loy, "Knowledge Distillation Meets Self-Supervision", ECCV 2020).

Two stages, as in the released code (SSKD.md §2.2–3.5):

* ``sskd_teacher_head`` trains a head on the frozen teacher's pooled feature for a pretext
  task, by default the released contrastive one: each transformed view must pick its own
  normal view among the batch's normal views (cosine similarity, temperature 1). The other
  tasks of the paper's Table 2 (exemplar, rotation, jigsaw) are in :mod:`sskd.selfsup.tasks`.
* ``sskd`` trains the student (with its own head) on
  ``λ1·CE + λ2·KD + λ3·L_T + λ4·L_ss``, released weights 0.1 / 0.9 / 2.7 / 10.0, with
  selective transfer on L_ss (k = 0.75) and L_T (k = 1: all rows). A weight of 0 removes
  its term, so the paper's ablations are configs.

Views: the task's default (the released four rotations, "sskd", for contrastive);
``views: sskd_paper`` in the stage's args selects the paper's four transformations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
from torch import Tensor, nn

from sskd.data.views import MultiViewBatch, flatten_views, unflatten_views
from sskd.losses import kd_loss, sskd_ss_loss, sskd_transform_loss
from sskd.methods import papers
from sskd.methods.base import Method, MethodContext, register_method
from sskd.methods.frozen import frozen_forward
from sskd.methods.student import student_network
from sskd.methods.teacher import frozen_teacher
from sskd.selfsup import PretextTask, build_pretext_task


def split_views(x: Tensor, num_views: int) -> tuple[Tensor, Tensor]:
    """``[B·V, ...]`` (image-major) → normal rows ``[B, ...]``, transformed rows ``[B·(V-1), ...]``
    (transformed row ``a`` from image ``a // (V-1)``)."""
    grouped = unflatten_views(x, num_views)
    return grouped[:, 0], grouped[:, 1:].reshape(-1, *x.shape[1:])


def pretext_top1(task: PretextTask, network: nn.Module, head: nn.Module, batch: MultiViewBatch,
                 group: int, frozen_rows: Optional[int] = None) -> Tensor:
    """Top-1 (%) of ``network`` + ``head`` on ``task``, the batch cut into groups of ``group``
    images (contrastive retrieval picks among the group's normal images: chance 1/group; the
    released code measures it with batch 64, SSKD.md §2.2). The networks run once over the
    whole batch (in ``frozen_rows`` chunks); only the scoring is per group. A 0-dim device
    tensor."""
    v = batch.views.shape[1]
    embeddings = frozen_forward(lambda rows: head(network(rows).pooled), flatten_views(batch.views), frozen_rows)
    correct = torch.zeros((), device=batch.views.device)
    rows = 0
    for start in range(0, batch.views.shape[0], group):
        part = MultiViewBatch(*(None if t is None else t[start:start + group] for t in batch))
        scores, targets = task.outputs(embeddings[start * v:(start + group) * v], part)
        correct += (scores.argmax(dim=1) == targets).sum()
        rows += targets.numel()
    return correct * (100.0 / rows)


@dataclass
class TeacherHeadHparams:
    """``task``: a name from :func:`sskd.selfsup.list_pretext_tasks`; ``views``: the view
    maker (default: the task's); ``temperature``: of the head's cross-entropy (released: 1);
    ``margin``: the exemplar triplet margin; ``eval_group``: images per retrieval group when
    the head's accuracy is measured on the test set."""

    task: str = "contrastive"
    temperature: float = 1.0
    margin: float = 0.5
    views: Optional[str] = None
    eval_group: int = 64


@register_method("sskd_teacher_head")
class SSKDTeacherHead(Method):
    """Stage 1: the teacher's pretext head (contrastive by default), trained with the
    backbone frozen (eval mode, features detached). Trains ``networks["teacher_head"]``;
    logs the head's test accuracy as ``test/teacher_ss_top1``. Its result depends only on
    the teacher checkpoint and the stage's settings, so it is cached across runs."""

    paper = papers.SSKD

    Hparams = TeacherHeadHparams
    frozen = ("teacher",)
    needs_teacher = True
    cacheable = True
    teacher_side = True

    @classmethod
    def check_hparams(cls, hparams: TeacherHeadHparams) -> None:
        _positive_group(hparams.eval_group)
        build_pretext_task(hparams.task, hparams.views, hparams.temperature, hparams.margin)

    @classmethod
    def check_run(cls, config, index: int) -> None:
        _check_eval_groups(config, index,
                           config.stages[index].args.get("eval_group", TeacherHeadHparams.eval_group))

    def __init__(self, context: MethodContext, hparams: TeacherHeadHparams):
        super().__init__(context, hparams)
        self.task = build_pretext_task(hparams.task, hparams.views, hparams.temperature, hparams.margin)
        self.views = self.eval_views = self.task.views
        self.teacher = frozen_teacher(context)
        self.head = context.network("teacher_head", lambda: self.task.make_head(self.teacher.embed_dim))
        self.head.pretext_task = self.task.name

    def forward_train(self, batch: MultiViewBatch) -> tuple[Tensor, dict[str, Tensor]]:
        out = self.run_frozen(self.teacher, flatten_views(batch.views))
        scores, targets = self.task.outputs(self.head(out.pooled), batch)
        normal_logits = split_views(out.logits, batch.views.shape[1])[0]
        return normal_logits, {self.task.name: self.task.teacher_loss(scores, targets)}

    def eval_metrics(self, batch: MultiViewBatch) -> dict[str, Tensor]:
        return {"teacher_ss_top1": pretext_top1(self.task, self.teacher, self.head, batch,
                                                self.hparams.eval_group, self.frozen_rows)}

    def eval_network(self) -> nn.Module:
        return self.teacher

    def export_key(self) -> str:
        return "teacher_head"


def _positive_group(group: int) -> None:
    if group < 1:
        raise ValueError(f"eval_group must be >= 1, got {group}")


def _check_eval_groups(config, index: int, group: int) -> None:
    """Retrieval groups are cut from each evaluation batch: every group but the split's
    last must hold ``eval_group`` images, as in the released code's batches of 64."""
    if config.data.eval_batch_size % group:
        raise ValueError(f"data.eval_batch_size={config.data.eval_batch_size} must be a multiple of "
                         f"eval_group={group}, so that every retrieval group holds {group} test images")


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
    task: str = "contrastive"
    views: Optional[str] = None
    eval_group: int = 64


@register_method("sskd")
class SSKD(Method):
    """Stage 2: the student, taught by the teacher's predictions on normal and transformed
    views and by its similarity structure. Needs ``networks["teacher_head"]`` from stage 1."""

    paper = papers.SSKD

    Hparams = SSKDHparams
    frozen = ("teacher", "teacher_head")
    needs_teacher = True

    @classmethod
    def check_hparams(cls, hparams: SSKDHparams) -> None:
        for name in ("tf_ratio", "ss_ratio"):
            if not 0 <= getattr(hparams, name) <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(hparams, name)}")
        for name in ("kd_T", "tf_T", "ss_T"):
            if not getattr(hparams, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(hparams, name)}")
        if not any((hparams.ce_weight, hparams.kd_weight, hparams.tf_weight, hparams.ss_weight)):
            raise ValueError("every SSKD loss weight is 0: nothing to train")
        _positive_group(hparams.eval_group)
        build_pretext_task(hparams.task, hparams.views)

    @classmethod
    def check_run(cls, config, index: int) -> None:
        _check_eval_groups(config, index, config.stages[index].args.get("eval_group", SSKDHparams.eval_group))
        task = config.stages[index].args.get("task", SSKDHparams.task)
        for stage in config.stages[:index]:
            if stage.method == "sskd_teacher_head":
                head_task = stage.args.get("task", TeacherHeadHparams.task)
                if head_task != task:
                    raise ValueError(f"mimics pretext task {task!r}, but the teacher head stage "
                                     f"{stage.name!r} trains {head_task!r}")

    def __init__(self, context: MethodContext, hparams: SSKDHparams):
        super().__init__(context, hparams)
        self.task = build_pretext_task(hparams.task, hparams.views)
        self.views = self.task.views
        self.eval_views = self.task.views if hparams.ss_weight else None
        self.teacher = frozen_teacher(context)
        if "teacher_head" not in context.networks:
            raise ValueError("method 'sskd' needs the teacher's pretext head: run the "
                             "'sskd_teacher_head' stage before it")
        self.teacher_head = context.networks["teacher_head"]
        head_task = getattr(self.teacher_head, "pretext_task", None)
        if head_task != hparams.task:
            raise ValueError(f"method 'sskd' mimics pretext task {hparams.task!r}, but the teacher's head "
                             f"is for {head_task!r}: set the same 'task' in both stages' args")
        for p in self.teacher_head.parameters():
            p.requires_grad_(False)
        self.student = student_network(context)
        self.student_head = context.network("student_head", lambda: self.task.make_head(self.student.embed_dim))
        # Without L_ss the head gets no gradient; DistributedDataParallel must not wait for one.
        for p in self.student_head.parameters():
            p.requires_grad_(bool(hparams.ss_weight))

    def forward_train(self, batch: MultiViewBatch) -> tuple[Tensor, dict[str, Tensor]]:
        hp = self.hparams
        v = batch.views.shape[1]
        x = flatten_views(batch.views)
        s_out = self.student(x)
        t_out = self.run_frozen(self.teacher, x)
        s_normal, s_transformed = split_views(s_out.logits, v)
        t_normal, t_transformed = split_views(t_out.logits, v)
        losses: dict[str, Tensor] = {}
        if hp.ce_weight:
            losses["ce"] = hp.ce_weight * self.class_ce(s_normal, batch.labels)
        if hp.kd_weight:
            losses["kd"] = hp.kd_weight * kd_loss(s_normal, t_normal, hp.kd_T)
        if hp.tf_weight:
            source_labels = batch.labels.repeat_interleave(v - 1)
            losses["tf"] = hp.tf_weight * sskd_transform_loss(
                s_transformed, t_transformed, source_labels, hp.tf_T, hp.tf_ratio)
        if hp.ss_weight:
            t_scores, targets = self.task.outputs(self.run_frozen(self.teacher_head, t_out.pooled), batch)
            s_scores, _ = self.task.outputs(self.student_head(s_out.pooled), batch)
            losses["ss"] = hp.ss_weight * sskd_ss_loss(s_scores, t_scores, targets, hp.ss_T, hp.ss_ratio)
        return s_normal, losses

    def eval_metrics(self, batch: MultiViewBatch) -> dict[str, Tensor]:
        return {"student_ss_top1": pretext_top1(self.task, self.student, self.student_head, batch,
                                                self.hparams.eval_group, self.frozen_rows)}

    def trainable_parameters(self):
        params = list(self.student.parameters())
        if self.hparams.ss_weight:
            params += list(self.student_head.parameters())
        return iter(params)

    def eval_network(self) -> nn.Module:
        return self.student

    def export_key(self) -> str:
        return "student"

