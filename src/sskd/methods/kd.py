"""Vanilla knowledge distillation (Hinton, Vinyals, Dean, 2015) as the KD benchmark runs
it: ``0.1·CE + 0.9·T²·KL(p_t ‖ p_s)`` with T = 4 on one standard view (BASELINES.md §1.2)."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from sskd.data.views import MultiViewBatch
from sskd.losses import kd_loss
from sskd.methods import papers
from sskd.methods.base import Method, MethodContext, register_method
from sskd.methods.teacher import frozen_teacher
from sskd.methods.student import student_network


@dataclass
class KDHparams:
    ce_weight: float = 0.1
    kd_weight: float = 0.9
    T: float = 4.0


@register_method("kd")
class KD(Method):
    """Student trained on the teacher's softened predictions plus the labels."""

    paper = papers.KD

    views = "standard"
    Hparams = KDHparams
    frozen = ("teacher",)
    needs_teacher = True

    def __init__(self, context: MethodContext, hparams: KDHparams):
        super().__init__(context, hparams)
        self.teacher = frozen_teacher(context)
        self.student = student_network(context)

    def forward_train(self, batch: MultiViewBatch) -> tuple[Tensor, dict[str, Tensor]]:
        """batch.views ``[B, 1, C, H, W]`` → student logits ``[B, K]``, ``{"ce", "kd"}``."""
        x = batch.views[:, 0]
        logits = self.student(x).logits
        teacher_logits = self.run_frozen(lambda rows: self.teacher(rows).logits, x)
        return logits, {"ce": self.hparams.ce_weight * self.class_ce(logits, batch.labels),
                        "kd": self.hparams.kd_weight * kd_loss(logits, teacher_logits, self.hparams.T)}

    def trainable_parameters(self):
        return self.student.parameters()

    def eval_network(self) -> nn.Module:
        return self.student

    def export_key(self) -> str:
        return "student"
