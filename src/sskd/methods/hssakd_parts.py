"""What the four HSSAKD methods share (Yang, An, Cai, Xu, "Knowledge Distillation Using
Hierarchical Self-Supervision Augmented Distribution", TNNLS 2022; IJCAI 2021 as HSAKD).

Every image is seen through its four rotations (``hssakd`` views: ``[B, 4, C, H, W]``,
flattened image-major to one pass over ``4B`` rows); auxiliary branches
(:mod:`sskd.models.branches`) on several depths predict the joint class×rotation label
``4·y + r`` (HSSAKD.md §1). The methods, one file each:

* :mod:`sskd.methods.hssakd_teacher`: "Teacher", the frozen teacher's branches trained alone;
* :mod:`sskd.methods.hssakd_joint`: "Teacher*", a network and its branches trained together;
* :mod:`sskd.methods.hssakd`: the offline student;
* :mod:`sskd.methods.hssakd_online`: two peers taught by each other.
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence

from torch import Tensor, nn

from sskd.data.views import MultiViewBatch, flatten_views, joint_labels, unflatten_views
from sskd.losses import class_logits_from_joint
from sskd.methods.base import MethodContext
from sskd.methods.frozen import frozen_forward
from sskd.methods.student import student_network
from sskd.models.branches import build_branches


#: HSSAKD's networks (HSSAKD.md §2.3): its MobileNetV2 has a stride-1 stem (32×32 maps after
#: the stem at CIFAR size, 25.7M MACs), SSKD's and the CRD benchmark's a stride-2 one.
HSSAKD_NETWORK_ARGS = {"MobileNetV2": {"stem_stride": 1}}

def joint_targets(batch: MultiViewBatch) -> Tensor:
    """``[4B]`` joint labels ``4·y + r``, lined up with the flattened views."""
    return joint_labels(batch.labels, batch.transform_ids).reshape(-1)


def normal_rows(x: Tensor, num_views: int) -> Tensor:
    """The normal-view rows (``0::V``) of ``[B·V, ...]`` → ``[B, ...]``."""
    return unflatten_views(x, num_views)[:, 0]


def forward_branches(backbone: nn.Module, branches: nn.Module, x: Tensor, detach: bool = False,
                     which: Optional[Sequence[int]] = None) -> tuple[Tensor, list[Tensor]]:
    """``x [N, C, H, W]`` → final logits ``[N, K]`` and one ``[N, 4K]`` joint-logit tensor
    per branch (``detach``: the branches read detached taps). ``which``: the 0-based
    branches to run, in that order (``None``: all; ``[]``: none, the backbone alone)."""
    out = backbone(x, preact=branches.needs_preact)
    if which is None:
        return out.logits, branches(out, detach=detach)
    if not which:
        return out.logits, []
    taps = branches.taps(out)
    return out.logits, [branches.branches[i](taps[i].detach() if detach else taps[i]) for i in which]


def top1(logits: Tensor, targets: Tensor) -> Tensor:
    """Top-1 (%) of ``[N, C]`` logits against ``[N]`` targets, a 0-dim device tensor."""
    return (logits.argmax(dim=1) == targets).sum() * (100.0 / targets.numel())


def branch_accuracies(backbone: nn.Module, branches: nn.Module, batch: MultiViewBatch,
                      prefix: str, frozen_rows: Optional[int] = None) -> dict[str, Tensor]:
    """Per branch ``l`` (1-based) on a test batch: ``<prefix>ss_top1_b<l>``, top-1 over the
    joint labels on all views, and ``<prefix>cls_top1_b<l>``, top-1 of the class logits
    summed over the rotation slots (HSSAKD.md §1.3). Percentages as 0-dim device tensors.
    The networks (in eval mode) run in ``frozen_rows`` chunks."""
    _, aux_logits = frozen_forward(lambda rows: forward_branches(backbone, branches, rows),
                                   flatten_views(batch.views), frozen_rows)
    targets = joint_targets(batch)
    labels = batch.labels.repeat_interleave(batch.views.shape[1])
    metrics = {}
    for i, logits in enumerate(aux_logits, 1):
        metrics[f"{prefix}ss_top1_b{i}"] = top1(logits.float(), targets)
        metrics[f"{prefix}cls_top1_b{i}"] = top1(class_logits_from_joint(logits.float()), labels)
    return metrics


def student_with_branches(context: MethodContext, key: str = "student") -> tuple[nn.Module, nn.Module]:
    """The run's model (``config.model``) and its branches, as networks ``key`` and
    ``<key>_branches``."""
    model = context.config.model
    backbone = student_network(context, key)
    branches = context.network(
        f"{key}_branches", lambda: build_branches(model.name, backbone, context.num_classes))
    return backbone, branches


def weighted_losses(terms: dict[str, tuple[float, Callable[[], Tensor]]]) -> dict[str, Tensor]:
    """``{name: (weight, loss thunk)}`` → ``{name: weight · loss}`` for the non-zero weights
    (a switched-off term is not computed)."""
    losses = {name: weight * loss() for name, (weight, loss) in terms.items() if weight}
    if not losses:
        raise ValueError("every loss weight is 0: nothing to train")
    return losses


def check_weights(hparams, names: tuple[str, ...]) -> None:
    """Refuse hyper-parameters whose loss weights ``names`` are all 0, or a ``T`` ≤ 0."""
    if not any(getattr(hparams, n) for n in names):
        raise ValueError(f"every loss weight ({', '.join(names)}) is 0: nothing to train")
    if hasattr(hparams, "T") and not hparams.T > 0:
        raise ValueError(f"T must be > 0, got {hparams.T}")
