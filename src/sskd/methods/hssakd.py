"""HSSAKD (Yang, An, Cai, Xu, "Knowledge Distillation Using Hierarchical Self-Supervision
Augmented Distribution", TNNLS 2022; IJCAI 2021 as HSAKD), as the released code does it
(HSSAKD.md §3–5).

Every image is seen through its four rotations (``hssakd`` views, one pass over ``4B``
rows); auxiliary branches (:mod:`sskd.models.branches`) on several depths predict the
joint class×rotation label ``4·y + r``.

* ``hssakd_teacher``: "Teacher", the frozen pretrained teacher's branches trained alone.
* ``hssakd_joint``: "Teacher*", a network and its branches trained together from scratch.
* ``hssakd``: the offline student: CE on the normal views + Σ_l τ²·KL between matched
  teacher and student branches + τ²·KL between final logits, over all views, τ = 3.
* ``hssakd_online``: two peers trained together, each with CE and joint CE, plus
  symmetric KL with detached targets on final logits and every branch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sskd.data.views import MultiViewBatch, flatten_views, joint_labels, unflatten_views
from sskd.losses import class_logits_from_joint, hierarchical_kd_loss, joint_cross_entropy, kd_loss
from sskd.methods.base import Method, MethodContext, register_method
from sskd.methods.teacher import frozen_teacher, frozen_teacher_branches
from sskd.models import build_model
from sskd.models.branches import AuxiliaryModel, branch_count, build_branches


def _joint_targets(batch: MultiViewBatch) -> Tensor:
    """``[4B]`` joint labels ``4·y + r``, lined up with the flattened views."""
    return joint_labels(batch.labels, batch.transform_ids).reshape(-1)


def _normal(x: Tensor, num_views: int) -> Tensor:
    """The normal-view rows (``0::V``) of ``[B·V, ...]``."""
    return unflatten_views(x, num_views)[:, 0]


def _forward(backbone: nn.Module, branches: nn.Module, x: Tensor, detach: bool = False):
    out = backbone(x, preact=branches.needs_preact)
    return out.logits, branches(out, detach=detach)


def _top1(logits: Tensor, targets: Tensor) -> Tensor:
    """Top-1 (%) of ``[N, C]`` logits against ``[N]`` targets, a 0-dim device tensor."""
    return (logits.argmax(dim=1) == targets).sum() * (100.0 / targets.numel())


def branch_accuracies(backbone: nn.Module, branches: nn.Module, batch: MultiViewBatch,
                      prefix: str) -> dict[str, Tensor]:
    """Per branch ``l`` (1-based) on a test batch: ``<prefix>ss_top1_b<l>``, top-1 over the
    joint labels on all views, and ``<prefix>cls_top1_b<l>``, top-1 of the class logits
    summed over the rotation slots (HSSAKD.md §1.3). Percentages as 0-dim device tensors."""
    _, aux_logits = _forward(backbone, branches, flatten_views(batch.views))
    targets = _joint_targets(batch)
    labels = batch.labels.repeat_interleave(batch.views.shape[1])
    metrics = {}
    for i, logits in enumerate(aux_logits, 1):
        metrics[f"{prefix}ss_top1_b{i}"] = _top1(logits.float(), targets)
        metrics[f"{prefix}cls_top1_b{i}"] = _top1(class_logits_from_joint(logits.float()), labels)
    return metrics


def _student(context: MethodContext, key: str = "student") -> tuple[nn.Module, nn.Module]:
    """The run's model (``config.model``) and its branches, as networks ``key`` and
    ``<key>_branches``."""
    model = context.config.model
    backbone = context.network(
        key, lambda: build_model(model.name, num_classes=context.num_classes, **model.args))
    branches = context.network(
        f"{key}_branches", lambda: build_branches(model.name, backbone, context.num_classes))
    return backbone, branches


@dataclass
class JointCEHparams:
    """``ce_weight``: CE of the final classifier on the normal views; ``joint_weight``:
    Σ_l joint CE of the branches on all views."""

    ce_weight: float = 1.0
    joint_weight: float = 1.0


@register_method("hssakd_teacher")
class HSSAKDTeacher(Method):
    """"Teacher" (HSSAKD.md §3.1): the pretrained teacher stays frozen (eval mode, BN
    statistics untouched, taps detached); only ``networks["teacher_branches"]`` learns,
    with Σ_l CE over the joint labels. Cached across runs like SSKD's teacher head.
    ``model.safetensors`` holds backbone and branches, for later student runs."""

    views = eval_views = "hssakd"
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
        with torch.no_grad():
            out = self.teacher(flatten_views(batch.views), preact=self.branches.needs_preact)
        aux = self.branches(out, detach=True)
        return _normal(out.logits, batch.views.shape[1]), {"joint_ce": joint_cross_entropy(aux, _joint_targets(batch))}

    def eval_metrics(self, batch: MultiViewBatch) -> dict[str, Tensor]:
        return branch_accuracies(self.teacher, self.branches, batch, "teacher_")

    def eval_network(self) -> nn.Module:
        return self.teacher

    def export_key(self) -> str:
        return "teacher_branches"

    def export_network(self, networks: nn.ModuleDict) -> nn.Module:
        return AuxiliaryModel(networks["teacher"], networks["teacher_branches"])


@register_method("hssakd_joint")
class HSSAKDJoint(Method):
    """"Teacher*" (HSSAKD.md §3.2): ``config.model`` and its branches trained together from
    scratch with ``CE(main, y) on the normal views + Σ_l CE(aux_l, 4y + r) on all views``.
    ``model.safetensors`` holds backbone and branches; the backbone alone loads into
    ``build_model`` (the branches are left out)."""

    Hparams = JointCEHparams
    views = eval_views = "hssakd"

    @classmethod
    def check_hparams(cls, hparams: JointCEHparams) -> None:
        _check_weights(hparams, ("ce_weight", "joint_weight"))

    @classmethod
    def check_run(cls, config, index: int) -> None:
        branch_count(config.model.name, **config.model.args)

    def __init__(self, context: MethodContext, hparams: JointCEHparams):
        super().__init__(context, hparams)
        self.student, self.branches = _student(context)

    def forward_train(self, batch: MultiViewBatch) -> tuple[Tensor, dict[str, Tensor]]:
        logits, aux = _forward(self.student, self.branches, flatten_views(batch.views))
        normal = _normal(logits, batch.views.shape[1])
        losses = _weighted({"ce": (self.hparams.ce_weight, lambda: F.cross_entropy(normal, batch.labels)),
                            "joint_ce": (self.hparams.joint_weight,
                                         lambda: joint_cross_entropy(aux, _joint_targets(batch)))})
        return normal, losses

    def eval_metrics(self, batch: MultiViewBatch) -> dict[str, Tensor]:
        return branch_accuracies(self.student, self.branches, batch, "")

    def eval_network(self) -> nn.Module:
        return self.student

    def export_key(self) -> str:
        return "student"

    def export_network(self, networks: nn.ModuleDict) -> nn.Module:
        return AuxiliaryModel(networks["student"], networks["student_branches"])


def _weighted(terms: dict) -> dict[str, Tensor]:
    """``{name: (weight, loss thunk)}`` → ``{name: weight · loss}`` for the non-zero weights."""
    losses = {name: weight * loss() for name, (weight, loss) in terms.items() if weight}
    if not losses:
        raise ValueError("every loss weight is 0: nothing to train")
    return losses


def _check_weights(hparams, names: tuple[str, ...]) -> None:
    if not any(getattr(hparams, n) for n in names):
        raise ValueError(f"every loss weight ({', '.join(names)}) is 0: nothing to train")
    if hasattr(hparams, "T") and not hparams.T > 0:
        raise ValueError(f"T must be > 0, got {hparams.T}")


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

    Hparams = HSSAKDHparams
    views = eval_views = "hssakd"
    frozen = ("teacher", "teacher_branches")
    needs_teacher = True

    @classmethod
    def check_hparams(cls, hparams: HSSAKDHparams) -> None:
        _check_weights(hparams, ("ce_weight", "aux_weight", "kd_weight"))

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
        self.student, self.branches = _student(context)
        if self.branches.num_branches != self.teacher_branches.num_branches:
            raise ValueError(f"HSSAKD matches branches one to one, but the student "
                             f"{context.config.model.name} has {self.branches.num_branches} and the "
                             f"teacher {context.config.teacher.name} {self.teacher_branches.num_branches}")

    def forward_train(self, batch: MultiViewBatch) -> tuple[Tensor, dict[str, Tensor]]:
        hp = self.hparams
        x = flatten_views(batch.views)
        if hp.aux_weight:
            s_logits, s_aux = _forward(self.student, self.branches, x)
            with torch.no_grad():
                t_logits, t_aux = _forward(self.teacher, self.teacher_branches, x)
        else:  # no branch runs: the aux term is off
            s_logits, s_aux = self.student(x).logits, []
            with torch.no_grad():
                t_logits, t_aux = self.teacher(x).logits, []
        normal = _normal(s_logits, batch.views.shape[1])
        losses = _weighted({
            "ce": (hp.ce_weight, lambda: F.cross_entropy(normal, batch.labels)),
            "aux_kd": (hp.aux_weight, lambda: hierarchical_kd_loss(s_aux, t_aux, hp.T)),
            "kd": (hp.kd_weight, lambda: kd_loss(s_logits, t_logits, hp.T)),
        })
        return normal, losses

    def eval_metrics(self, batch: MultiViewBatch) -> dict[str, Tensor]:
        return branch_accuracies(self.student, self.branches, batch, "student_")

    def eval_network(self) -> nn.Module:
        return self.student

    def export_key(self) -> str:
        return "student"


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

    Hparams = OnlineHparams
    views = eval_views = "hssakd"

    @classmethod
    def check_hparams(cls, hparams: OnlineHparams) -> None:
        _check_weights(hparams, ("ce_weight", "joint_weight", "kl_weight"))

    @classmethod
    def check_run(cls, config, index: int) -> None:
        branch_count(config.model.name, **config.model.args)

    def __init__(self, context: MethodContext, hparams: OnlineHparams):
        super().__init__(context, hparams)
        self.student, self.branches = _student(context, "student")
        self.peer, self.peer_branches = _student(context, "peer")

    def forward_train(self, batch: MultiViewBatch) -> tuple[Tensor, dict[str, Tensor]]:
        hp = self.hparams
        x = flatten_views(batch.views)
        v = batch.views.shape[1]
        targets = _joint_targets(batch)
        logits1, aux1 = _forward(self.student, self.branches, x)
        logits2, aux2 = _forward(self.peer, self.peer_branches, x)

        def ce():
            return F.cross_entropy(_normal(logits1, v), batch.labels) + F.cross_entropy(_normal(logits2, v),
                                                                                         batch.labels)

        def joint():
            return joint_cross_entropy(aux1, targets) + joint_cross_entropy(aux2, targets)

        def mutual():
            main = kd_loss(logits1, logits2.detach(), hp.T) + kd_loss(logits2, logits1.detach(), hp.T)
            branches = (hierarchical_kd_loss(aux1, [a.detach() for a in aux2], hp.T)
                        + hierarchical_kd_loss(aux2, [a.detach() for a in aux1], hp.T))
            return main + branches

        losses = _weighted({"ce": (hp.ce_weight, ce), "joint_ce": (hp.joint_weight, joint),
                            "mutual_kl": (hp.kl_weight, mutual)})
        return _normal(logits1, v), losses

    def eval_metrics(self, batch: MultiViewBatch) -> dict[str, Tensor]:
        normal = batch.views[:, 0]
        return {"peer_top1": _top1(self.peer(normal).logits.float(), batch.labels)}

    def eval_network(self) -> nn.Module:
        return self.student

    def export_key(self) -> str:
        return "student"
