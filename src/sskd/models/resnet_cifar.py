"""CIFAR ResNets of the KD benchmark (He et al., CVPR 2016; CRD/RepDistiller variant).

Depth ``6n + 2`` with post-activation basic blocks, three stages at strides 1/2/2
(SSKD.md §4.2–4.3). Module names follow the original code (``conv1``, ``bn1``,
``layer1..3``, ``fc``) so its checkpoints load unchanged.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from sskd.models.base import ZooNet
from sskd.models.init import init_conv_bn_fan_out
from sskd.models.stages import BlockStage, PoolHead, SequentialStage


def conv3x3(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, 3, stride=stride, padding=1, bias=False)


def projection_shortcut(in_planes: int, out_planes: int, stride: int) -> nn.Sequential:
    """1×1 convolution + BN used when a block changes resolution or width."""
    return nn.Sequential(nn.Conv2d(in_planes, out_planes, 1, stride=stride, bias=False),
                         nn.BatchNorm2d(out_planes))


class BasicBlock(nn.Module):
    """conv3×3–BN–ReLU–conv3×3–BN, plus shortcut, then ReLU: ``[N,C_in,H,W] → [N,C,H/s,W/s]``."""

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1,
                 downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride

    def forward_with_preact(self, x: Tensor) -> tuple[Tensor, Tensor]:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        pre = out + shortcut
        return F.relu(pre), pre

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_with_preact(x)[0]


def make_basic_layer(inplanes: int, planes: int, blocks: int, stride: int) -> nn.Sequential:
    """``blocks`` basic blocks; the first one carries the stride and any projection."""
    downsample = None
    if stride != 1 or inplanes != planes:
        downsample = projection_shortcut(inplanes, planes, stride)
    layers = [BasicBlock(inplanes, planes, stride, downsample)]
    layers += [BasicBlock(planes, planes) for _ in range(blocks - 1)]
    return nn.Sequential(*layers)


class CifarResNet(ZooNet):
    """``ResNet(depth, num_filters)`` of the benchmark; input ``[N, 3, 32, 32]``.

    feats: stem ``w0@32²``, then ``w1@32²``, ``w2@16²``, ``w3@8²``; pooled ``[N, w3]``.
    """

    def __init__(self, depth: int, num_filters: tuple[int, int, int, int], num_classes: int = 100):
        super().__init__()
        if (depth - 2) % 6 != 0:
            raise ValueError(f"CIFAR ResNet depth must be 6n+2, got {depth}")
        n = (depth - 2) // 6
        w0, w1, w2, w3 = num_filters
        self.depth = depth
        self.blocks_per_stage = n
        self.conv1 = nn.Conv2d(3, w0, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(w0)
        self.layer1 = make_basic_layer(w0, w1, n, 1)
        self.layer2 = make_basic_layer(w1, w2, n, 2)
        self.layer3 = make_basic_layer(w2, w3, n, 2)
        self.fc = nn.Linear(w3, num_classes)
        init_conv_bn_fan_out(self)
        self._set_structure(
            [SequentialStage([self.conv1, self.bn1], w0, F.relu),
             BlockStage(self.layer1, w1), BlockStage(self.layer2, w2), BlockStage(self.layer3, w3)],
            PoolHead(), self.fc)
