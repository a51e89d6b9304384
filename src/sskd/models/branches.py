"""HSSAKD's auxiliary branches (Yang et al., IJCAI 2021 / IEEE TNNLS 2022).

"Hierarchical Self-supervised Augmented Knowledge Distillation" (arXiv 2107.13715,
Appendix B) and "Knowledge Distillation Using Hierarchical Self-Supervision Augmented
Distribution" (arXiv 2109.03075) attach ``L`` auxiliary classifiers to intermediate
feature maps of a network. Each one predicts the joint label ``k = M·y + r`` of the
class ``y`` and the rotation ``r`` over ``N·M`` outputs (``M = 4`` rotations).

Design rule (HSSAKD.md §2.2): branch ``l``, fed with tap ``l``, is a *fresh,
independently initialised* copy of every backbone stage after that tap (same block
type, block counts, widths and down-sampling); the branch on the deepest tap is one
extra copy of the last stage with stride 1 (in = out channels). Then comes the
family's head (WRN: BN–ReLU; MobileNetV2 and ShuffleNetV2: 1×1 conv–BN–ReLU), global
average pooling and *one* linear layer to ``N·M`` outputs. Nothing is shared between
branches or with the backbone. The per-family layout, taps and initialisation follow
HSSAKD.md §2.3–2.4; ``docs/branches.md`` lists them with the parameter counts.

>>> model = build_aux_model("resnet8x4", num_classes=100)
>>> out = model(torch.randn(8, 3, 32, 32))
>>> out.logits.shape, [a.shape for a in out.aux_logits]   # [8, 100], 3 × [8, 400]
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.models.resnet import BasicBlock as TorchvisionBasicBlock
from torchvision.models.resnet import Bottleneck as TorchvisionBottleneck

from sskd.models.adapter import FeatureAdapter
from sskd.models.generic_branches import generic_branches
from sskd.models.init import init_conv_bn_fan_out
from sskd.models.mobilenetv2 import InvertedResidual, MobileNetV2, conv_bn_relu
from sskd.models.output import ModelOutput
from sskd.models.registry import build_model
from sskd.models.resnet_bottleneck import CifarBottleneckResNet, make_bottleneck_layer
from sskd.models.resnet_cifar import CifarResNet, make_basic_layer
from sskd.models.shufflenet import ShuffleNetV1, ShuffleNetV2, ShuffleV1Unit, ShuffleV2DownUnit, ShuffleV2Unit
from sskd.models.vgg import VGG, VGG_CONFIGS, make_vgg_block
from sskd.models.wrn import NetworkBlock, WideResNet
from sskd.models.zoo import CIFAR_RESNETS, VGGS, WRNS

__all__ = ["AuxBranch", "AuxBranches", "AuxOutput", "AuxiliaryModel", "build_aux_model",
           "build_branches", "supported_branch_models"]


# --------------------------------------------------------------------------- modules


class AuxBranch(nn.Module):
    """One auxiliary classifier: ``body`` (copied stages) → ``head`` → GAP → ``fc``.

    ``[N, C_tap, H, W] → [N, num_classes · num_rotations]`` (joint class × rotation
    logits, class-major: column ``M·y + r``).
    """

    def __init__(self, body: nn.Module, head: nn.Module | None, embed_dim: int, out_features: int):
        super().__init__()
        self.body = body
        self.head = head if head is not None else nn.Identity()
        self.fc = nn.Linear(embed_dim, out_features)

    def forward(self, x: Tensor) -> Tensor:
        x = self.head(self.body(x))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


class AuxBranches(nn.Module):
    """The ``L`` auxiliary branches of one backbone (HSSAKD.md §2.2–2.3).

    Sub-modules live in ``self.branches`` (an ``nn.ModuleList``); branch ``l`` reads
    ``taps(out)[l]`` of shape ``[N, tap_channels[l], H_l, W_l]`` and returns
    ``[N, num_classes · num_rotations]``.

    Attributes:
        num_branches: ``L`` (3 for CIFAR ResNets, WRNs and ShuffleNets; 4 for VGG,
            MobileNetV2, ResNet50 and the ImageNet ResNets).
        num_classes: ``N``; num_rotations: ``M``.
        tap_indices: which entries of ``ModelOutput.feats`` (or ``preact_feats``) are tapped.
        tap_channels: their channel counts.
        needs_preact: whether the taps come from ``preact_feats`` (the backbone must then
            be called with ``preact=True``). ``False`` for every supported family: the
            released code taps post-activation maps everywhere, and WRN's taps (the raw
            residual sums before the next BN–ReLU) are our WRN's ``feats`` as they are.
    """

    num_branches: int
    num_classes: int
    num_rotations: int
    needs_preact: bool

    def __init__(self, branches: Sequence[AuxBranch], tap_indices: Sequence[int],
                 tap_channels: Sequence[int], num_classes: int, num_rotations: int,
                 needs_preact: bool = False, family: str = ""):
        super().__init__()
        if not (len(branches) == len(tap_indices) == len(tap_channels)):
            raise ValueError("branches, tap_indices and tap_channels must have the same length")
        self.branches = nn.ModuleList(branches)
        self.tap_indices = list(tap_indices)
        self.tap_channels = list(tap_channels)
        self.num_branches = len(branches)
        self.num_classes = num_classes
        self.num_rotations = num_rotations
        self.needs_preact = needs_preact
        self.family = family

    def taps(self, out: ModelOutput) -> list[Tensor]:
        """The tapped maps of a backbone output: ``L`` tensors ``[N, C_l, H_l, W_l]``."""
        source = out.preact_feats if self.needs_preact else out.feats
        if source is None:
            raise ValueError("these branches tap pre-activation maps: call the backbone with preact=True")
        if len(source) <= max(self.tap_indices):
            raise ValueError(f"backbone output has {len(source)} feature maps, branches tap "
                             f"indices {self.tap_indices}")
        taps = [source[i] for i in self.tap_indices]
        for l, (t, c) in enumerate(zip(taps, self.tap_channels)):
            if t.dim() != 4 or t.shape[1] != c:
                raise ValueError(f"branch {l} expects a [N, {c}, H, W] map, got {tuple(t.shape)}")
        return taps

    def forward(self, out: ModelOutput, detach: bool = False) -> list[Tensor]:
        """Args: out, the backbone's :class:`ModelOutput`; detach: cut the gradient at the
        taps (the released code's ``grad=False``, used for a frozen teacher).

        Returns ``L`` tensors ``[N, num_classes · num_rotations]``.
        """
        taps = self.taps(out)
        if detach:
            taps = [t.detach() for t in taps]
        return [branch(t) for branch, t in zip(self.branches, taps)]

    def extra_repr(self) -> str:
        return (f"family={self.family!r}, taps={self.tap_indices}, channels={self.tap_channels}, "
                f"num_classes={self.num_classes}, num_rotations={self.num_rotations}")


class AuxOutput(NamedTuple):
    """What :class:`AuxiliaryModel` returns for ``N`` images.

    Attributes:
        logits: ``[N, K]`` the backbone's classifier.
        aux_logits: ``L`` tensors ``[N, K · M]``, one per branch, shallow to deep.
        backbone: the backbone's full :class:`ModelOutput`.
    """

    logits: Tensor
    aux_logits: list[Tensor]
    backbone: ModelOutput


class AuxiliaryModel(nn.Module):
    """A backbone with its auxiliary branches (the released code's ``*_aux`` wrappers).

    State-dict keys are ``backbone.*`` (exactly those of the plain network, so the
    deployed model is ``self.backbone``) and ``branches.*``.
    """

    def __init__(self, backbone: nn.Module, branches: AuxBranches):
        super().__init__()
        self.backbone = backbone
        self.branches = branches

    def forward(self, x: Tensor, detach: bool = False) -> AuxOutput:
        """Args: x ``[N, 3, H, W]``; detach: stop the branches' gradient at the taps.

        Returns :class:`AuxOutput` ``(logits [N, K], aux_logits L × [N, K·M], backbone)``.
        """
        out = self.backbone(x, preact=True) if self.branches.needs_preact else self.backbone(x)
        return AuxOutput(out.logits, self.branches(out, detach=detach), out)


# --------------------------------------------------------------------------- families


@dataclass
class _Layout:
    """A family's branch recipe.

    ``make_stage(j, in_channels, downsample)`` builds a fresh copy of the backbone stage
    that produces tap ``j`` (``downsample=False``: the stride-1 variant). Branch ``l < L-1``
    chains stages ``l+1 .. L-1`` starting from ``tap_channels[l]``; the last branch is
    ``make_stage(L-1, tap_channels[L-1], False)``.
    """

    tap_indices: list[int]
    tap_channels: list[int]
    make_stage: Callable[[int, int, bool], nn.Module]
    embed_dim: int
    make_head: Callable[[], nn.Module | None] = lambda: None
    init: Callable[[nn.Module], None] = lambda m: None


def _cifar_resnet(net: CifarResNet) -> _Layout:
    # HSSAKD.md §2.3 "CIFAR ResNet": taps layer1..3 after their final ReLU.
    n, widths = net.blocks_per_stage, net.feat_channels[1:4]

    def make_stage(j: int, cin: int, down: bool) -> nn.Module:
        return make_basic_layer(cin, widths[j], n, 2 if down else 1)

    return _Layout([1, 2, 3], list(widths), make_stage, widths[-1],
                   init=lambda m: init_conv_bn_fan_out(m, zero_linear_bias=True))


def _wrn(net: WideResNet) -> _Layout:
    # Taps: the raw outputs of block1..3, before the next BN–ReLU (= our feats[1:4]).
    n, widths = net.blocks_per_stage, net.feat_channels[1:4]

    def make_stage(j: int, cin: int, down: bool) -> nn.Module:
        return NetworkBlock(n, cin, widths[j], 2 if down else 1)

    return _Layout([1, 2, 3], list(widths), make_stage, widths[-1],
                   make_head=lambda: nn.Sequential(nn.BatchNorm2d(widths[-1]), nn.ReLU()),
                   init=lambda m: init_conv_bn_fan_out(m, zero_linear_bias=True))


def _cifar_resnet50(net: CifarBottleneckResNet) -> _Layout:
    layers = [net.layer1, net.layer2, net.layer3, net.layer4]
    widths = net.feat_channels[1:5]
    counts = [len(layer) for layer in layers]

    def make_stage(j: int, cin: int, down: bool) -> nn.Module:
        return make_bottleneck_layer(cin, layers[j][0].conv1.out_channels, counts[j], 2 if down else 1)

    return _Layout([1, 2, 3, 4], list(widths), make_stage, widths[-1], init=init_conv_bn_fan_out)


def _vgg(net: VGG) -> _Layout:
    # Taps: block0, block1, block2 and block4 after ReLU (block3 is folded into the last
    # tapped stage; pool3 is skipped at 32×32). "Down-sampling" is a leading 2×2 max-pool.
    cfg = VGG_CONFIGS[net.config]

    def make_stage(j: int, cin: int, down: bool) -> nn.Module:
        layers: list[nn.Module] = [nn.MaxPool2d(2, 2)] if down else []
        layers += [make_vgg_block(cfg[j], cin), nn.ReLU()]
        if j == 3:  # block3 → ReLU → block4 → ReLU
            layers += [make_vgg_block(cfg[4], cfg[3][-1]), nn.ReLU()]
        return nn.Sequential(*layers)

    widths = [cfg[0][-1], cfg[1][-1], cfg[2][-1], cfg[4][-1]]
    # §2.4 / §8.2.1: the released code's VGG branch initialiser is never called, so the
    # branches keep PyTorch's default initialisation; reproduced here on purpose.
    return _Layout([0, 1, 2, 4], widths, make_stage, widths[-1])


def _mobilenetv2(net: MobileNetV2) -> _Layout:
    # Taps: the outputs of block groups 1, 2, 4, 6 (linear bottlenecks) = feats[1:5]; the
    # network records how it built each group (block_groups) and which form each stage.
    stage_groups, groups = net.stage_groups, net.block_groups
    widths = [groups[g[-1]].channels for g in stage_groups]

    def make_stage(j: int, cin: int, down: bool) -> nn.Module:
        seq = []
        for k, g in enumerate(stage_groups[j]):
            group = groups[g]
            first_stride = 1 if k == 0 and not down else group.stride
            blocks = []
            for stride in [first_stride] + [1] * (group.blocks - 1):
                blocks.append(InvertedResidual(cin, group.channels, stride, group.expansion))
                cin = group.channels
            seq.append(nn.Sequential(*blocks))
        return nn.Sequential(*seq)

    last = net.last_channel
    return _Layout([1, 2, 3, 4], widths, make_stage, last,
                   make_head=lambda: conv_bn_relu(widths[-1], last, 1, 1),
                   init=lambda m: init_conv_bn_fan_out(m, linear_std=0.01))


def _shufflev1(net: ShuffleNetV1) -> _Layout:
    layers = [net.layer1, net.layer2, net.layer3]
    widths = net.feat_channels[1:4]
    counts = [len(layer) for layer in layers]
    groups = net.layer1[0].conv3.groups

    def make_stage(j: int, cin: int, down: bool) -> nn.Module:
        w = widths[j]
        # A stride-2 unit concatenates its pooled input, so its main path is w - cin wide.
        units = [ShuffleV1Unit(cin, w - cin, 2, groups) if down else ShuffleV1Unit(cin, w, 1, groups)]
        units += [ShuffleV1Unit(w, w, 1, groups) for _ in range(counts[j] - 1)]
        return nn.Sequential(*units)

    def init(m: nn.Module) -> None:  # conv normal fan-out, BN 1/0, Linear bias 0
        init_conv_bn_fan_out(m, zero_linear_bias=True)

    return _Layout([1, 2, 3], list(widths), make_stage, widths[-1], init=init)


def _shufflev2(net: ShuffleNetV2) -> _Layout:
    layers = [net.layer1, net.layer2, net.layer3]
    widths = net.feat_channels[1:4]
    counts = [len(layer) - 1 for layer in layers]  # basic units after the DownBlock
    head_out = net.conv2.out_channels

    def make_stage(j: int, cin: int, down: bool) -> nn.Module:
        w = widths[j]
        return nn.Sequential(ShuffleV2DownUnit(cin, w, stride=2 if down else 1),
                             *[ShuffleV2Unit(w) for _ in range(counts[j])])

    def make_head() -> nn.Module:
        return nn.Sequential(nn.Conv2d(widths[-1], head_out, 1, bias=False),
                             nn.BatchNorm2d(head_out), nn.ReLU())

    # PyTorch defaults, as in the released code.
    return _Layout([1, 2, 3], list(widths), make_stage, head_out, make_head=make_head)


def _named_blocks(layer: nn.Module) -> list[nn.Module]:
    """The blocks ``layer.0``, ``layer.1``, … of a traced torchvision stage, by name."""
    named = dict(layer.named_children())
    count = sum(1 for name in named if name.isdigit())
    if sorted(named) != sorted(str(i) for i in range(count)):
        raise TypeError(f"expected blocks named 0..n-1, got {sorted(named)}")
    return [named[str(i)] for i in range(count)]


def _torchvision_resnet(net: FeatureAdapter) -> _Layout:
    # The adapter keeps torchvision's module tree (layerX.Y.*) but not the block classes,
    # so blocks are read by name (layerX.0, layerX.1, …) and their convolutions by attribute.
    layers = [_named_blocks(net.get_submodule(f"layer{i}")) for i in range(1, 5)]
    bottleneck = hasattr(layers[0][0], "conv3")
    block = TorchvisionBottleneck if bottleneck else TorchvisionBasicBlock
    planes = [first.conv3.out_channels // block.expansion if bottleneck else first.conv1.out_channels
              for first in (layer[0] for layer in layers)]
    counts = [len(layer) for layer in layers]
    widths = [p * block.expansion for p in planes]

    def make_stage(j: int, cin: int, down: bool) -> nn.Module:
        stride, out = (2 if down else 1), widths[j]
        downsample = None
        if stride != 1 or cin != out:
            downsample = nn.Sequential(nn.Conv2d(cin, out, 1, stride=stride, bias=False), nn.BatchNorm2d(out))
        blocks = [block(cin, planes[j], stride, downsample)]
        blocks += [block(out, planes[j]) for _ in range(counts[j] - 1)]
        return nn.Sequential(*blocks)

    return _Layout([1, 2, 3, 4], widths, make_stage, widths[-1], init=init_conv_bn_fan_out)


def _family_table() -> dict[str, tuple[str, type, Callable[[nn.Module], _Layout]]]:
    table: dict[str, tuple[str, type, Callable[[nn.Module], _Layout]]] = {}
    for name in CIFAR_RESNETS:
        table[name] = ("cifar_resnet", CifarResNet, _cifar_resnet)
    for name in WRNS:
        table[name] = ("wrn", WideResNet, _wrn)
    for name in VGGS:
        table[name] = ("vgg", VGG, _vgg)
    table["MobileNetV2"] = ("mobilenetv2", MobileNetV2, _mobilenetv2)
    table["ShuffleV1"] = ("shufflev1", ShuffleNetV1, _shufflev1)
    table["ShuffleV2"] = ("shufflev2", ShuffleNetV2, _shufflev2)
    table["ResNet50"] = ("cifar_resnet50", CifarBottleneckResNet, _cifar_resnet50)
    for name in ("resnet18", "resnet34", "resnet50"):
        table[name] = ("imagenet_resnet", FeatureAdapter, _torchvision_resnet)
    return table


_FAMILIES = _family_table()


def supported_branch_models() -> list[str]:
    """Zoo names with the paper's branches: every CIFAR network of the zoo and the
    torchvision ImageNet ResNet-18/34/50. :func:`build_branches` also serves any library
    network (``FeatureAdapter``): the ResNet rule for torchvision ResNets, generic branches
    (:mod:`sskd.models.generic_branches`) for the rest."""
    return list(_FAMILIES)


def build_branches(model_name: str, backbone: nn.Module, num_classes: int | None = None,
                   num_rotations: int = 4) -> AuxBranches:
    """Build HSSAKD's auxiliary branches for ``backbone`` (a ``build_model(model_name)``).

    Args:
        model_name: the zoo name, e.g. ``"resnet8x4"``, ``"wrn_40_2"``, ``"vgg13"``,
            ``"MobileNetV2"``, ``"ShuffleV1"``, ``"ShuffleV2"``, ``"ResNet50"``, ``"resnet34"``.
        backbone: the network; its widths, block counts and strides define the branches.
        num_classes: ``N``; defaults to the backbone's classifier size.
        num_rotations: ``M`` (4: 0°, 90°, 180°, 270°).

    Returns an :class:`AuxBranches` whose branches output ``[batch, N · M]``.
    """
    if model_name not in _FAMILIES and isinstance(backbone, FeatureAdapter):
        if not backbone.torchvision_resnet:  # any other library network: generic branches
            return generic_branches(backbone, num_classes, num_rotations)
        model_name = "resnet18"  # torchvision's ResNet layout, whatever its depth
    if model_name not in _FAMILIES:
        raise ValueError(f"no HSSAKD auxiliary branches for model {model_name!r}; "
                         f"supported: {', '.join(supported_branch_models())} and any torchvision:/timm: network")
    family, cls, layout_of = _FAMILIES[model_name]
    if not isinstance(backbone, cls) or (cls is FeatureAdapter and not backbone.torchvision_resnet):
        raise TypeError(f"{model_name!r} branches need a {cls.__name__} backbone as built by "
                        f"build_model({model_name!r}), got {type(backbone).__name__}")
    if num_classes is None:
        num_classes = getattr(backbone, "num_classes", None)
        if num_classes is None:  # FeatureAdapter: read the classifier
            num_classes = backbone.fc.out_features
    if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive integer, got {num_classes!r}")
    if not isinstance(num_rotations, int) or isinstance(num_rotations, bool) or num_rotations < 1:
        raise ValueError(f"num_rotations must be a positive integer, got {num_rotations!r}")

    lay = layout_of(backbone)
    L = len(lay.tap_indices)
    branches = []
    for l in range(L):
        if l < L - 1:
            stages, cin = [], lay.tap_channels[l]
            for j in range(l + 1, L):
                stages.append(lay.make_stage(j, cin, True))
                cin = lay.tap_channels[j]
        else:  # one more copy of the last stage, stride 1, in = out channels
            stages = [lay.make_stage(L - 1, lay.tap_channels[-1], False)]
        body = stages[0] if len(stages) == 1 else nn.Sequential(*stages)
        branch = AuxBranch(body, lay.make_head(), lay.embed_dim, num_classes * num_rotations)
        lay.init(branch)
        branches.append(branch)
    return AuxBranches(branches, lay.tap_indices, lay.tap_channels, num_classes, num_rotations,
                       needs_preact=False, family=family)


def build_aux_model(name: str, num_classes: int | None = None, num_rotations: int = 4,
                    **model_args) -> AuxiliaryModel:
    """``build_model(name, num_classes, **model_args)`` plus its branches.

    For HSSAKD's MobileNetV2 pass ``stem_stride=1`` (HSSAKD.md §2.3).
    """
    backbone = build_model(name, num_classes=num_classes, **model_args)
    return AuxiliaryModel(backbone, build_branches(name, backbone, num_classes, num_rotations))


def branch_count(model_name: str, **model_args) -> int:
    """How many auxiliary branches ``model_name`` gets, found without allocating weights
    (the network is built on the ``meta`` device). ``ValueError`` if it has none."""
    from sskd.models import build_model

    with torch.device("meta"):
        return build_branches(model_name, build_model(model_name, **model_args)).num_branches
