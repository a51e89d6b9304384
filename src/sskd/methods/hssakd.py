"""HSSAKD's offline student (Yang, An, Cai, Xu, "Knowledge Distillation Using Hierarchical
Self-Supervision Augmented Distribution", TNNLS 2022; HSSAKD.md §4), as the released code
does it: CE on the normal views + Σ_l τ²·KL between matched teacher and student branches
+ τ²·KL between final logits, both over all four rotations, τ = 3. Hyper-parameters also
express the rows of the IJCAI ablations (HSSAKD.md §7.3): which branches are distilled,
KD on the normal view only, and a joint CE on the student's branches. The teacher's
branches come from an ``hssakd_teacher`` or ``hssakd_joint`` stage or run; the shared
pieces are in :mod:`sskd.methods.hssakd_parts`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from torch import Tensor, nn

from sskd.data.views import MultiViewBatch, flatten_views
from sskd.losses import hierarchical_kd_loss, joint_cross_entropy, kd_loss
from sskd.methods import papers
from sskd.methods.base import Method, MethodContext, register_method
from sskd.methods.hssakd_parts import (HSSAKD_NETWORK_ARGS, branch_accuracies, check_weights,
                                       forward_branches, joint_targets, normal_rows,
                                       student_with_branches, weighted_losses)
from sskd.methods.teacher import frozen_teacher, frozen_teacher_branches
from sskd.models.branches import branch_count

KD_VIEWS = ("all", "normal")


@dataclass
class HSSAKDHparams:
    """Released defaults (HSSAKD.md §4.2): every weight 1, τ = 3, all branches, L_kl_p over
    all views, no joint CE on the student. The ablations of HSSAKD.md §7.3 set
    ``branches`` (1-based branch numbers, 1 = the shallowest, whose pairs L_kl_q distils;
    ``None``: all), ``kd_views`` (``"normal"``: vanilla KD on the normal views only) and
    ``joint_ce_weight`` (Σ_l CE of the student's branches against the joint labels)."""

    ce_weight: float = 1.0
    aux_weight: float = 1.0
    kd_weight: float = 1.0
    T: float = 3.0
    branches: Optional[list] = None
    kd_views: str = "all"
    joint_ce_weight: float = 0.0


def check_branches(branches: Optional[list], count: Optional[int] = None) -> None:
    """Refuse a ``branches`` list that is empty, repeats a number, or names one outside
    ``1..count`` (outside ``1..`` when the branch count is not known yet)."""
    if branches is None:
        return
    top = count if count is not None else float("inf")
    if not (branches and len(set(branches)) == len(branches)
            and all(type(b) is int and 1 <= b <= top for b in branches)):
        valid = f"1..{count}" if count is not None else "1..L (L: the network's branch count)"
        raise ValueError(f"branches must be null (all) or a non-empty list of distinct branch "
                         f"numbers in {valid}, 1 being the shallowest; got {branches!r}")


@register_method("hssakd")
class HSSAKD(Method):
    """The offline student (HSSAKD.md §4): ``ce_weight·CE(student, y) on the normal views
    + aux_weight·Σ_{l ∈ branches} τ²·KL(teacher branch l ‖ student branch l) over all ``4B``
    views + kd_weight·τ²·KL(teacher logits ‖ student logits) over all ``4B`` views
    (``kd_views="normal"``: the ``B`` normal views) + joint_ce_weight·Σ_{l ∈ branches}
    CE(student branch l, 4y + r)`` (0 as released). Only the branches a term needs run; the
    other student branches get no gradient. Deployment: ``model.safetensors`` is the student
    alone."""

    paper = papers.HSSAKD

    Hparams = HSSAKDHparams
    views = eval_views = "hssakd"
    network_args = HSSAKD_NETWORK_ARGS
    frozen = ("teacher", "teacher_branches")
    needs_teacher = True

    @classmethod
    def check_hparams(cls, hparams: HSSAKDHparams) -> None:
        check_weights(hparams, ("ce_weight", "aux_weight", "kd_weight", "joint_ce_weight"))
        if hparams.kd_views not in KD_VIEWS:
            raise ValueError(f"kd_views must be one of {', '.join(map(repr, KD_VIEWS))}, "
                             f"got {hparams.kd_views!r}")
        check_branches(hparams.branches)

    @classmethod
    def check_run(cls, config, index: int) -> None:
        student = branch_count(config.model.name, **config.model.args)
        teacher = branch_count(config.teacher.name, **config.teacher.args)
        if student != teacher:
            raise ValueError(f"HSSAKD matches branches one to one, but the student {config.model.name} has "
                             f"{student} and the teacher {config.teacher.name} {teacher}")
        check_branches(config.stages[index].args.get("branches"), student)

    def __init__(self, context: MethodContext, hparams: HSSAKDHparams):
        super().__init__(context, hparams)
        self.teacher = frozen_teacher(context)
        self.teacher_branches = frozen_teacher_branches(context, self.teacher)
        self.student, self.branches = student_with_branches(context)
        count = self.branches.num_branches
        if count != self.teacher_branches.num_branches:
            raise ValueError(f"HSSAKD matches branches one to one, but the student "
                             f"{context.config.model.name} has {count} and the "
                             f"teacher {context.config.teacher.name} {self.teacher_branches.num_branches}")
        check_branches(hparams.branches, count)
        chosen = tuple(range(count) if hparams.branches is None else sorted(b - 1 for b in hparams.branches))
        self.teacher_runs = chosen if hparams.aux_weight else ()
        self.student_runs = chosen if hparams.aux_weight or hparams.joint_ce_weight else ()

    def leaves_parameters_unused(self) -> bool:
        """Student branches that do not run, or the head without CE and KD, get no gradient.
        (The base rule would count ``joint_ce_weight``'s default 0 as a switched-off term.)"""
        hp = self.hparams
        return len(self.student_runs) < self.branches.num_branches or not (hp.ce_weight or hp.kd_weight)

    def forward_train(self, batch: MultiViewBatch) -> tuple[Tensor, dict[str, Tensor]]:
        """batch.views ``[B, 4, C, H, W]`` → student logits ``[B, K]`` on the normal views,
        ``{"ce", "aux_kd", "kd", "joint_ce"}`` (the terms whose weight is not 0)."""
        hp = self.hparams
        views = batch.views.shape[1]
        x = flatten_views(batch.views)
        s_logits, s_aux = forward_branches(self.student, self.branches, x, which=self.student_runs)
        t_logits, t_aux = self.run_frozen(
            lambda rows: forward_branches(self.teacher, self.teacher_branches, rows,
                                          which=self.teacher_runs), x)
        normal = normal_rows(s_logits, views)
        if hp.kd_views == "normal":
            s_logits, t_logits = normal, normal_rows(t_logits, views)
        losses = weighted_losses({
            "ce": (hp.ce_weight, lambda: self.class_ce(normal, batch.labels)),
            "aux_kd": (hp.aux_weight, lambda: hierarchical_kd_loss(s_aux, t_aux, hp.T)),
            "kd": (hp.kd_weight, lambda: kd_loss(s_logits, t_logits, hp.T)),
            "joint_ce": (hp.joint_ce_weight, lambda: joint_cross_entropy(s_aux, joint_targets(batch))),
        })
        return normal, losses

    def eval_metrics(self, batch: MultiViewBatch) -> dict[str, Tensor]:
        return branch_accuracies(self.student, self.branches, batch, "student_", self.frozen_rows)

    def eval_network(self) -> nn.Module:
        return self.student

    def export_key(self) -> str:
        return "student"
