"""Key names of the original codebases' checkpoints, mapped to ours.

HSSAKD's released ``*_aux`` networks (code of Yang et al., ``models/*.py``) hold two
modules: ``backbone``, the plain network (its keys are those of our zoo network), and
``auxiliary_classifier``, which names branch ``l`` (counted from 1) with numbered
attributes:

- ``block_extractor{l}``: an ``nn.Sequential`` with the branch's copied stages. Its
  children are either *whole stages* (CIFAR ResNets, WRN, ResNet50, ShuffleNet V1/V2,
  the torchvision ResNets: child ``s`` is stage ``s``) or *the stages' children run
  together* (VGG: max-pool, block, ReLU, …; MobileNetV2: the groups of inverted
  residuals). ShuffleNet V2 puts its 1×1 conv–BN–ReLU head in the same ``Sequential``,
  after the stages; parameter-free modules (ReLU, pooling) take positions too.
- ``bn{l}`` (WRN): the batch norm of the BN–ReLU head; ``conv2_{l}`` (MobileNetV2): the
  1×1 conv–BN–ReLU head; ``fc{l}``: the linear layer.

Inside a stage, blocks keep the backbone's names (``0.conv1``, ``0.downsample.0``,
``layer.0.convShortcut``, ``0.conv.3``, …), which are also ours. Our
:class:`~sskd.models.branches.AuxBranches` calls the same modules
``branches.{l-1}.body`` (the one stage, or a ``Sequential`` of stages),
``branches.{l-1}.head`` and ``branches.{l-1}.fc``. :func:`map_original_branches` renames
module by module, from these names and the structure of the branches we build; it never
pairs tensors by position.

SSKD's and HSSAKD's MobileNetV2 call the classifier ``classifier`` (a bare ``Linear``);
RepDistiller's, and ours, ``classifier.0``: :func:`rename_original_backbone` covers it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from torch import Tensor, nn

from sskd.models.mobilenetv2 import MobileNetV2

__all__ = ["ORIGINAL_BRANCH_PREFIX", "has_original_branches", "map_original_branches",
           "original_branch_modules", "rename_original_backbone"]

#: The prefix of every auxiliary-branch key in HSSAKD's released checkpoints.
ORIGINAL_BRANCH_PREFIX = "auxiliary_classifier."


@dataclass(frozen=True)
class _Original:
    """How HSSAKD's code lays out one family's ``Auxiliary_Classifier``.

    stage_children: ``block_extractor{l}``'s children are the children of our stages, one
        stage after the other (else each child is one whole stage).
    head_in_extractor: the head's modules follow the stages inside ``block_extractor{l}``.
    head: ``(their attribute with {} for l, our module under branches.{l-1})`` for a head
        kept as its own attribute.
    """

    stage_children: bool = False
    head_in_extractor: bool = False
    head: tuple[str, str] | None = None


# Keyed by AuxBranches.family (see sskd.models.branches).
_ORIGINAL = {
    "cifar_resnet": _Original(),
    "wrn": _Original(head=("bn{}", "head.0")),
    "cifar_resnet50": _Original(),
    "imagenet_resnet": _Original(),
    "shufflev1": _Original(),
    "shufflev2": _Original(head_in_extractor=True),
    "vgg": _Original(stage_children=True),
    "mobilenetv2": _Original(stage_children=True, head=("conv2_{}", "head")),
}


def has_original_branches(state: Mapping[str, Tensor]) -> bool:
    """Whether a state dict holds HSSAKD's released branches (``auxiliary_classifier.*``)."""
    return any(k.startswith(ORIGINAL_BRANCH_PREFIX) for k in state)


def original_branch_modules(branches: nn.Module) -> dict[str, str]:
    """``{their module: our module}`` for the branches of one network.

    ``branches`` is the :class:`~sskd.models.branches.AuxBranches` built for the network
    (:func:`~sskd.models.branches.build_branches`); their names are relative to
    ``auxiliary_classifier``, ours to ``branches``. Branch ``l`` (of ``L``) copies
    ``L - l`` stages (``l = L``: one), as in :func:`~sskd.models.branches.build_branches`.
    """
    family = getattr(branches, "family", None)
    if family not in _ORIGINAL:
        raise ValueError(f"no original branch layout for family {family!r}; "
                         f"known: {', '.join(_ORIGINAL)}")
    layout = _ORIGINAL[family]
    total = len(branches.branches)
    names: dict[str, str] = {}
    for l in range(1, total + 1):
        ours = f"branches.{l - 1}"
        branch = branches.branches.get_submodule(str(l - 1))
        n_stages = total - l if l < total else 1
        stages = [f"{ours}.body"] if n_stages == 1 else [f"{ours}.body.{s}" for s in range(n_stages)]
        if layout.stage_children:
            units = [f"{stage}.{name}" for stage in stages
                     for name, _ in branch.get_submodule(stage[len(ours) + 1:]).named_children()]
        else:
            units = stages
        if layout.head_in_extractor:
            units += [f"{ours}.head.{name}" for name, _ in branch.head.named_children()]
        for i, unit in enumerate(units):
            names[f"block_extractor{l}.{i}"] = unit
        if layout.head is not None:
            theirs, head = layout.head
            names[theirs.format(l)] = f"{ours}.{head}"
        names[f"fc{l}"] = f"{ours}.fc"
    return names


def map_original_branches(state: Mapping[str, Tensor], branches: nn.Module) -> dict[str, Tensor]:
    """The ``auxiliary_classifier.*`` tensors of ``state`` under the names of ``branches``
    (an :class:`~sskd.models.branches.AuxBranches`), ready for ``branches.load_state_dict``.

    Other keys of ``state`` (the backbone) are left out. A key that names no module of the
    original layout keeps its name, so that loading reports it as unexpected.
    """
    names = original_branch_modules(branches)
    mapped: dict[str, Tensor] = {}
    for key, value in state.items():
        if not key.startswith(ORIGINAL_BRANCH_PREFIX):
            continue
        parts = key[len(ORIGINAL_BRANCH_PREFIX):].split(".")
        for depth in (2, 1):  # block_extractor{l}.{i}.*, then fc{l}.*, bn{l}.*, conv2_{l}.*
            module = ".".join(parts[:depth])
            if len(parts) > depth and module in names:
                key = ".".join([names[module]] + parts[depth:])
                break
        mapped[key] = value
    return mapped


def rename_original_backbone(model: nn.Module, state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """``state`` with the keys of SSKD's and HSSAKD's MobileNetV2 classifier
    (``classifier.weight``/``.bias``) renamed to ours (``classifier.0.*``) when ``model``
    is our MobileNetV2 and the checkpoint has that layout; otherwise unchanged."""
    state = dict(state)
    if isinstance(model, MobileNetV2) and "classifier.weight" in state and "classifier.0.weight" not in state:
        for name in ("weight", "bias"):
            if f"classifier.{name}" in state:
                state[f"classifier.0.{name}"] = state.pop(f"classifier.{name}")
    return state
