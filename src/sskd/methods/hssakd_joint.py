"""HSSAKD's "Teacher*" (Yang et al., TNNLS 2022; HSSAKD.md §3.2): a network and its
auxiliary branches trained together from scratch."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from sskd.data.views import MultiViewBatch, flatten_views
from sskd.losses import joint_cross_entropy
from sskd.methods import papers
from sskd.methods.base import Method, MethodContext, register_method
from sskd.methods.hssakd_parts import (HSSAKD_NETWORK_ARGS, branch_accuracies, check_weights,
                                       forward_branches, joint_targets, normal_rows,
                                       student_with_branches, weighted_losses)
from sskd.models.branches import AuxiliaryModel, branch_count


@dataclass
class JointCEHparams:
    """``ce_weight``: CE of the final classifier on the normal views; ``joint_weight``:
    Σ_l joint CE of the branches on all views."""

    ce_weight: float = 1.0
    joint_weight: float = 1.0


@register_method("hssakd_joint")
class HSSAKDJoint(Method):
    """"Teacher*" (HSSAKD.md §3.2): ``config.model`` and its branches trained together from
    scratch with ``CE(main, y) on the normal views + Σ_l CE(aux_l, 4y + r) on all views``
    (the stage's label smoothing applies to the first term only).
    ``model.safetensors`` holds backbone and branches; the backbone alone loads into
    ``build_model`` (the branches are left out)."""

    paper = papers.HSSAKD

    Hparams = JointCEHparams
    views = eval_views = "hssakd"
    network_args = HSSAKD_NETWORK_ARGS

    @classmethod
    def check_hparams(cls, hparams: JointCEHparams) -> None:
        check_weights(hparams, ("ce_weight", "joint_weight"))

    @classmethod
    def check_run(cls, config, index: int) -> None:
        branch_count(config.model.name, **config.model.args)

    def __init__(self, context: MethodContext, hparams: JointCEHparams):
        super().__init__(context, hparams)
        self.student, self.branches = student_with_branches(context)

    def forward_train(self, batch: MultiViewBatch) -> tuple[Tensor, dict[str, Tensor]]:
        """batch.views ``[B, 4, C, H, W]`` → logits ``[B, K]`` on the normal views,
        ``{"ce", "joint_ce"}``."""
        logits, aux = forward_branches(self.student, self.branches, flatten_views(batch.views))
        normal = normal_rows(logits, batch.views.shape[1])
        losses = weighted_losses({
            "ce": (self.hparams.ce_weight, lambda: self.class_ce(normal, batch.labels)),
            "joint_ce": (self.hparams.joint_weight, lambda: joint_cross_entropy(aux, joint_targets(batch))),
        })
        return normal, losses

    def eval_metrics(self, batch: MultiViewBatch) -> dict[str, Tensor]:
        return branch_accuracies(self.student, self.branches, batch, "", self.frozen_rows)

    def eval_network(self) -> nn.Module:
        return self.student

    def export_key(self) -> str:
        return "student"

    def export_network(self, networks: nn.ModuleDict) -> nn.Module:
        return AuxiliaryModel(networks["student"], networks["student_branches"])
