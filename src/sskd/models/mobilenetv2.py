"""MobileNetV2 (Sandler et al., CVPR 2018), the KD benchmark's CIFAR variant.

``mobile_half``: expansion 6, width 0.5, stem stride 2, stage strides
1,1,2,2,1,2,1; 1×1 conv to 1280 before pooling (SSKD.md §4.2, BASELINES.md §1.1).
HSSAKD's code uses the same network with a stride-1 stem (HSSAKD.md §2.3); pass
``stem_stride=1`` for it (same parameters, 4× the activations). Original names kept.
"""

from __future__ import annotations

from typing import NamedTuple

from torch import Tensor, nn

from sskd.models.base import ZooNet
from sskd.models.init import init_conv_bn_fan_out
from sskd.models.stages import PoolHead, SequentialStage

# (expansion t, channels c, blocks n, first stride s) before width scaling.
INVERTED_RESIDUAL_SETTING = [
    (1, 16, 1, 1), (None, 24, 2, 1), (None, 32, 3, 2), (None, 64, 4, 2),
    (None, 96, 3, 1), (None, 160, 3, 2), (None, 320, 1, 1),
]
# Which of the seven block groups end a feature stage (RepDistiller's f1..f4).
STAGE_ENDS = (1, 2, 4, 6)


class BlockGroup(NamedTuple):
    """One entry of ``blocks`` as built: ``blocks`` inverted residuals of ``expansion``
    giving ``channels`` (after width scaling), the first with ``stride``."""

    expansion: int
    channels: int
    blocks: int
    stride: int


def conv_bn_relu(inp: int, oup: int, kernel: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(inp, oup, kernel, stride, kernel // 2, bias=False),
                         nn.BatchNorm2d(oup), nn.ReLU(inplace=True))


class InvertedResidual(nn.Module):
    """1×1 expand–BN–ReLU, 3×3 depthwise–BN–ReLU, 1×1 linear projection–BN;
    identity shortcut when stride 1 and widths match.

    ``in_channels``, ``out_channels``, ``stride`` and ``expansion`` record how the block
    was built (plain attributes: the state dict holds only ``conv.*``)."""

    def __init__(self, inp: int, oup: int, stride: int, expand_ratio: int):
        super().__init__()
        hidden = inp * expand_ratio
        self.in_channels, self.out_channels = inp, oup
        self.stride, self.expansion = stride, expand_ratio
        self.use_res_connect = stride == 1 and inp == oup
        self.conv = nn.Sequential(
            nn.Conv2d(inp, hidden, 1, 1, 0, bias=False), nn.BatchNorm2d(hidden), nn.ReLU(inplace=True),
            nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden), nn.ReLU(inplace=True),
            nn.Conv2d(hidden, oup, 1, 1, 0, bias=False), nn.BatchNorm2d(oup),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class MobileNetV2(ZooNet):
    """MobileNetV2(T, width) on ``[N, 3, 32, 32]``.

    feats with the default stride-2 stem (width 0.5): ``16@16²``, ``12@16²``, ``16@8²``,
    ``48@4²``, ``160@2²`` (linear-bottleneck outputs, so pre- and post-activation agree);
    pooled ``[N, 1280]``.
    """

    def __init__(self, expansion: int = 6, width_mult: float = 0.5, num_classes: int = 100,
                 stem_stride: int = 2):
        super().__init__()
        in_ch = int(32 * width_mult)
        self.conv1 = conv_bn_relu(3, in_ch, 3, stem_stride)
        self.blocks = nn.ModuleList()
        #: ``blocks[g]`` as built (:class:`BlockGroup`).
        self.block_groups: list[BlockGroup] = []
        for t, c, n, s in INVERTED_RESIDUAL_SETTING:
            group = BlockGroup(t or expansion, int(c * width_mult), n, s)
            layers = []
            for stride in [s] + [1] * (n - 1):
                layers.append(InvertedResidual(in_ch, group.channels, stride, group.expansion))
                in_ch = group.channels
            self.blocks.append(nn.Sequential(*layers))
            self.block_groups.append(group)
        starts = (0,) + tuple(end + 1 for end in STAGE_ENDS[:-1])
        #: The indices into ``blocks`` that make feature stage 1..4 (``feats[1:]``).
        self.stage_groups: list[list[int]] = [list(range(a, b + 1)) for a, b in zip(starts, STAGE_ENDS)]
        self.last_channel = 1280
        self.conv2 = conv_bn_relu(in_ch, self.last_channel, 1, 1)
        self.classifier = nn.Sequential(nn.Linear(self.last_channel, num_classes))
        init_conv_bn_fan_out(self, linear_std=0.01)
        stages = [SequentialStage([self.conv1], int(32 * width_mult))]
        for groups in self.stage_groups:
            stages.append(SequentialStage([self.blocks[g] for g in groups],
                                          self.block_groups[groups[-1]].channels))
        self._set_structure(stages, PoolHead([self.conv2]), self.classifier[0])
