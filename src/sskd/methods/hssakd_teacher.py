"""HSSAKD's "Teacher" (Yang et al., TNNLS 2022; HSSAKD.md §3.1): auxiliary branches
trained on a frozen pretrained teacher, before any student learns from them."""

from __future__ import annotations

from torch import Tensor, nn

from sskd.data.views import MultiViewBatch, flatten_views
from sskd.losses import joint_cross_entropy
from sskd.methods import papers
from sskd.methods.base import Method, MethodContext, register_method
from sskd.methods.hssakd_parts import HSSAKD_NETWORK_ARGS, branch_accuracies, joint_targets, normal_rows
from sskd.methods.teacher import frozen_teacher
from sskd.models.branches import AuxiliaryModel, branch_count, build_branches


@register_method("hssakd_teacher")
class HSSAKDTeacher(Method):
    """"Teacher" (HSSAKD.md §3.1): the pretrained teacher stays frozen (eval mode, BN
    statistics untouched, taps detached); only ``networks["teacher_branches"]`` learns,
    with Σ_l CE over the joint labels. Cached across runs like SSKD's teacher head.
    ``model.safetensors`` holds backbone and branches, for later student runs."""

    paper = papers.HSSAKD

    views = eval_views = "hssakd"
    network_args = HSSAKD_NETWORK_ARGS
    teacher_side = True
    frozen = ("teacher",)
    needs_teacher = True
    cacheable = True

    @classmethod
    def check_run(cls, config, index: int) -> None:
        branch_count(config.teacher.name, **config.teacher.args)

    def __init__(self, context: MethodContext, hparams):
        super().__init__(context, hparams)
        self.teacher = frozen_teacher(context)
        self.branches = context.network(
            "teacher_branches", lambda: build_branches(context.config.teacher.name, self.teacher,
                                                       context.num_classes))

    def forward_train(self, batch: MultiViewBatch) -> tuple[Tensor, dict[str, Tensor]]:
        """batch.views ``[B, 4, C, H, W]`` → teacher logits ``[B, K]`` on the normal views,
        ``{"joint_ce"}`` over all ``4B`` rows."""
        out = self.run_frozen(lambda rows: self.teacher(rows, preact=self.branches.needs_preact),
                              flatten_views(batch.views))
        aux = self.branches(out, detach=True)
        return (normal_rows(out.logits, batch.views.shape[1]),
                {"joint_ce": joint_cross_entropy(aux, joint_targets(batch))})

    def eval_metrics(self, batch: MultiViewBatch) -> dict[str, Tensor]:
        return branch_accuracies(self.teacher, self.branches, batch, "teacher_", self.frozen_rows)

    def eval_network(self) -> nn.Module:
        return self.teacher

    def export_key(self) -> str:
        return "teacher_branches"

    def export_network(self, networks: nn.ModuleDict) -> nn.Module:
        return AuxiliaryModel(networks["teacher"], networks["teacher_branches"])
