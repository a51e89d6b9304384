"""Online HSSAKD (Yang et al., TNNLS 2022; HSSAKD.md §5): two peers with auxiliary
branches trained together from scratch, each taught by the other."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from sskd.data.views import MultiViewBatch, flatten_views
from sskd.losses import hierarchical_kd_loss, joint_cross_entropy, kd_loss
from sskd.methods import papers
from sskd.methods.base import Method, MethodContext, register_method
from sskd.methods.hssakd_parts import (HSSAKD_NETWORK_ARGS, check_weights, forward_branches,
                                       joint_targets, normal_rows, student_with_branches, top1,
                                       weighted_losses)
from sskd.models.branches import branch_count


@dataclass
class OnlineHparams:
    """Released defaults (HSSAKD.md §5): every weight 1, τ = 3."""

    ce_weight: float = 1.0
    joint_weight: float = 1.0
    kl_weight: float = 1.0
    T: float = 3.0


@register_method("hssakd_online")
class HSSAKDOnline(Method):
    """Online HSSAKD (HSSAKD.md §5): two peers of ``config.model`` (networks ``student``
    and ``peer``, each with branches) trained together from scratch. Each gets CE on the
    normal views and joint CE on its branches; both get ``τ²·KL`` towards the other's
    detached final logits and matching branches, over all views. The exported network is
    the first peer (``student``); the second's test top-1 is logged as ``test/peer_top1``
    (the released code reports the better of the two, chosen on the test set)."""

    paper = papers.HSSAKD

    Hparams = OnlineHparams
    views = eval_views = "hssakd"
    network_args = HSSAKD_NETWORK_ARGS

    @classmethod
    def check_hparams(cls, hparams: OnlineHparams) -> None:
        check_weights(hparams, ("ce_weight", "joint_weight", "kl_weight"))

    @classmethod
    def check_run(cls, config, index: int) -> None:
        branch_count(config.model.name, **config.model.args)

    def __init__(self, context: MethodContext, hparams: OnlineHparams):
        super().__init__(context, hparams)
        self.student, self.branches = student_with_branches(context, "student")
        self.peer, self.peer_branches = student_with_branches(context, "peer")

    def forward_train(self, batch: MultiViewBatch) -> tuple[Tensor, dict[str, Tensor]]:
        """batch.views ``[B, 4, C, H, W]`` → the first peer's logits ``[B, K]`` on the normal
        views, ``{"ce", "joint_ce", "mutual_kl"}`` summed over both peers."""
        hp = self.hparams
        x = flatten_views(batch.views)
        v = batch.views.shape[1]
        targets = joint_targets(batch)
        logits1, aux1 = forward_branches(self.student, self.branches, x)
        logits2, aux2 = forward_branches(self.peer, self.peer_branches, x)

        def ce():
            return (self.class_ce(normal_rows(logits1, v), batch.labels)
                    + self.class_ce(normal_rows(logits2, v), batch.labels))

        def joint():
            return joint_cross_entropy(aux1, targets) + joint_cross_entropy(aux2, targets)

        def mutual():
            main = kd_loss(logits1, logits2.detach(), hp.T) + kd_loss(logits2, logits1.detach(), hp.T)
            branches = (hierarchical_kd_loss(aux1, [a.detach() for a in aux2], hp.T)
                        + hierarchical_kd_loss(aux2, [a.detach() for a in aux1], hp.T))
            return main + branches

        losses = weighted_losses({"ce": (hp.ce_weight, ce), "joint_ce": (hp.joint_weight, joint),
                                  "mutual_kl": (hp.kl_weight, mutual)})
        return normal_rows(logits1, v), losses

    def eval_metrics(self, batch: MultiViewBatch) -> dict[str, Tensor]:
        normal = batch.views[:, 0]
        return {"peer_top1": top1(self.peer(normal).logits.float(), batch.labels)}

    def eval_network(self) -> nn.Module:
        return self.student

    def export_key(self) -> str:
        return "student"
