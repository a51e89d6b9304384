"""HSSAKD's offline student (Yang, An, Cai, Xu, "Knowledge Distillation Using Hierarchical
Self-Supervision Augmented Distribution", TNNLS 2022; HSSAKD.md §4), as the released code
does it: CE on the normal views + Σ_l τ²·KL between matched teacher and student branches
+ τ²·KL between final logits, both over all four rotations, τ = 3. The teacher's branches
come from an ``hssakd_teacher`` or ``hssakd_joint`` stage or run; the shared pieces are in
:mod:`sskd.methods.hssakd_parts`."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from sskd.data.views import MultiViewBatch, flatten_views
from sskd.losses import hierarchical_kd_loss, kd_loss
from sskd.methods import papers
from sskd.methods.base import Method, MethodContext, register_method
from sskd.methods.hssakd_parts import (HSSAKD_NETWORK_ARGS, branch_accuracies, check_weights,
                                       forward_branches, normal_rows, student_with_branches,
                                       weighted_losses)
from sskd.methods.teacher import frozen_teacher, frozen_teacher_branches
from sskd.models.branches import branch_count


@dataclass
class HSSAKDHparams:
    """Released defaults (HSSAKD.md §4.2): every weight 1, τ = 3."""

    ce_weight: float = 1.0
    aux_weight: float = 1.0
    kd_weight: float = 1.0
    T: float = 3.0


@register_method("hssakd")
class HSSAKD(Method):
    """The offline student (HSSAKD.md §4): ``ce_weight·CE(student, y) on the normal views
    + aux_weight·Σ_l τ²·KL(teacher branch l ‖ student branch l) + kd_weight·τ²·KL(teacher
    logits ‖ student logits)``, both KL terms over all ``4B`` views. The student's branches
    get no joint CE. Deployment: ``model.safetensors`` is the student alone."""

    paper = papers.HSSAKD

    Hparams = HSSAKDHparams
    views = eval_views = "hssakd"
    network_args = HSSAKD_NETWORK_ARGS
    frozen = ("teacher", "teacher_branches")
    needs_teacher = True

    @classmethod
    def check_hparams(cls, hparams: HSSAKDHparams) -> None:
        check_weights(hparams, ("ce_weight", "aux_weight", "kd_weight"))

    @classmethod
    def check_run(cls, config, index: int) -> None:
        student = branch_count(config.model.name, **config.model.args)
        teacher = branch_count(config.teacher.name, **config.teacher.args)
        if student != teacher:
            raise ValueError(f"HSSAKD matches branches one to one, but the student {config.model.name} has "
                             f"{student} and the teacher {config.teacher.name} {teacher}")

    def __init__(self, context: MethodContext, hparams: HSSAKDHparams):
        super().__init__(context, hparams)
        self.teacher = frozen_teacher(context)
        self.teacher_branches = frozen_teacher_branches(context, self.teacher)
        self.student, self.branches = student_with_branches(context)
        if self.branches.num_branches != self.teacher_branches.num_branches:
            raise ValueError(f"HSSAKD matches branches one to one, but the student "
                             f"{context.config.model.name} has {self.branches.num_branches} and the "
                             f"teacher {context.config.teacher.name} {self.teacher_branches.num_branches}")

    def forward_train(self, batch: MultiViewBatch) -> tuple[Tensor, dict[str, Tensor]]:
        """batch.views ``[B, 4, C, H, W]`` → student logits ``[B, K]`` on the normal views,
        ``{"ce", "aux_kd", "kd"}`` (the terms whose weight is not 0)."""
        hp = self.hparams
        x = flatten_views(batch.views)
        if hp.aux_weight:
            s_logits, s_aux = forward_branches(self.student, self.branches, x)
            t_logits, t_aux = self.run_frozen(
                lambda rows: forward_branches(self.teacher, self.teacher_branches, rows), x)
        else:  # no branch runs: the aux term is off
            s_logits, s_aux = self.student(x).logits, []
            t_logits, t_aux = self.run_frozen(lambda rows: self.teacher(rows).logits, x), []
        normal = normal_rows(s_logits, batch.views.shape[1])
        losses = weighted_losses({
            "ce": (hp.ce_weight, lambda: self.class_ce(normal, batch.labels)),
            "aux_kd": (hp.aux_weight, lambda: hierarchical_kd_loss(s_aux, t_aux, hp.T)),
            "kd": (hp.kd_weight, lambda: kd_loss(s_logits, t_logits, hp.T)),
        })
        return normal, losses

    def eval_metrics(self, batch: MultiViewBatch) -> dict[str, Tensor]:
        return branch_accuracies(self.student, self.branches, batch, "student_", self.frozen_rows)

    def eval_network(self) -> nn.Module:
        return self.student

    def export_key(self) -> str:
        return "student"
