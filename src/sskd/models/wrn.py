"""Wide residual networks WRN-d-k (Zagoruyko & Komodakis, BMVC 2016), benchmark variant.

Pre-activation blocks, dropout 0, widths ``16, 16k, 32k, 64k``; stage features are
the raw residual sums (before BN–ReLU), the pooled vector comes after a final
BN–ReLU (SSKD.md §4.2, BASELINES.md §1.1). Original module names are kept.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from sskd.models.base import ZooNet
from sskd.models.init import init_conv_bn_fan_out
from sskd.models.stages import NormalizedPreactStage, PoolHead, SequentialStage


class WideBasicBlock(nn.Module):
    """BN–ReLU–conv3×3–BN–ReLU–conv3×3 plus shortcut (1×1 conv on the activated input
    when the width changes): ``[N, C_in, H, W] → [N, C_out, H/s, W/s]``."""

    def __init__(self, in_planes: int, out_planes: int, stride: int):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = nn.Conv2d(in_planes, out_planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_planes)
        self.conv2 = nn.Conv2d(out_planes, out_planes, 3, stride=1, padding=1, bias=False)
        self.equal_in_out = in_planes == out_planes
        self.convShortcut = None if self.equal_in_out else nn.Conv2d(
            in_planes, out_planes, 1, stride=stride, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        act = F.relu(self.bn1(x))
        out = self.conv2(F.relu(self.bn2(self.conv1(act))))
        shortcut = x if self.equal_in_out else self.convShortcut(act)
        return shortcut + out


class NetworkBlock(nn.Module):
    """``nb_layers`` wide blocks; the first carries the stride and the width change."""

    def __init__(self, nb_layers: int, in_planes: int, out_planes: int, stride: int):
        super().__init__()
        self.layer = nn.Sequential(*[
            WideBasicBlock(in_planes if i == 0 else out_planes, out_planes, stride if i == 0 else 1)
            for i in range(nb_layers)])

    def forward(self, x: Tensor) -> Tensor:
        return self.layer(x)


class WideResNet(ZooNet):
    """WRN-depth-widen_factor; input ``[N, 3, 32, 32]``.

    feats: ``16@32²`` (conv1), ``16k@32²``, ``32k@16²``, ``64k@8²``; pooled ``[N, 64k]``.
    """

    def __init__(self, depth: int, widen_factor: int, num_classes: int = 100):
        super().__init__()
        if (depth - 4) % 6 != 0:
            raise ValueError(f"WRN depth must be 6n+4, got {depth}")
        n = (depth - 4) // 6
        ch = [16, 16 * widen_factor, 32 * widen_factor, 64 * widen_factor]
        self.depth, self.widen_factor, self.blocks_per_stage = depth, widen_factor, n
        self.conv1 = nn.Conv2d(3, ch[0], 3, stride=1, padding=1, bias=False)
        self.block1 = NetworkBlock(n, ch[0], ch[1], 1)
        self.block2 = NetworkBlock(n, ch[1], ch[2], 2)
        self.block3 = NetworkBlock(n, ch[2], ch[3], 2)
        self.bn1 = nn.BatchNorm2d(ch[3])
        self.fc = nn.Linear(ch[3], num_classes)
        init_conv_bn_fan_out(self, zero_linear_bias=True)
        self._set_structure(
            [SequentialStage([self.conv1], ch[0]),
             NormalizedPreactStage(self.block1, self.block2.layer[0].bn1, ch[1]),
             NormalizedPreactStage(self.block2, self.block3.layer[0].bn1, ch[2]),
             NormalizedPreactStage(self.block3, self.bn1, ch[3])],
            PoolHead([self.bn1, F.relu]), self.fc)
