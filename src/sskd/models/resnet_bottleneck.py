"""ResNet50 with a CIFAR stem (He et al., CVPR 2016; the benchmark's ``resnetv2.py``).

Bottleneck blocks [3, 4, 6, 3], 3×3 stride-1 stem without max-pool, stage widths
64/128/256/512 × 4 (SSKD.md §4.2). Original module names are kept.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from sskd.models.base import ZooNet
from sskd.models.init import init_conv_bn_fan_out
from sskd.models.stages import BlockStage, PoolHead, SequentialStage


class Bottleneck(nn.Module):
    """1×1–BN–ReLU, 3×3 (stride)–BN–ReLU, 1×1 (×4)–BN, plus shortcut, then ReLU."""

    expansion = 4

    def __init__(self, in_planes: int, planes: int, stride: int = 1):
        super().__init__()
        out = planes * self.expansion
        self.conv1 = nn.Conv2d(in_planes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != out:
            self.shortcut = nn.Sequential(nn.Conv2d(in_planes, out, 1, stride=stride, bias=False),
                                          nn.BatchNorm2d(out))

    def forward_with_preact(self, x: Tensor) -> tuple[Tensor, Tensor]:
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        pre = self.bn3(self.conv3(out)) + self.shortcut(x)
        return F.relu(pre), pre

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_with_preact(x)[0]


def make_bottleneck_layer(in_planes: int, planes: int, blocks: int, stride: int) -> nn.Sequential:
    layers = [Bottleneck(in_planes, planes, stride)]
    layers += [Bottleneck(planes * Bottleneck.expansion, planes) for _ in range(blocks - 1)]
    return nn.Sequential(*layers)


class CifarBottleneckResNet(ZooNet):
    """On ``[N, 3, 32, 32]``: feats ``64@32²``, ``256@32²``, ``512@16²``, ``1024@8²``,
    ``2048@4²``; pooled ``[N, 2048]``."""

    def __init__(self, num_blocks=(3, 4, 6, 3), num_classes: int = 100):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        widths = (64, 128, 256, 512)
        strides = (1, 2, 2, 2)
        in_planes = 64
        layers = []
        for planes, count, stride in zip(widths, num_blocks, strides):
            layers.append(make_bottleneck_layer(in_planes, planes, count, stride))
            in_planes = planes * Bottleneck.expansion
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.linear = nn.Linear(512 * Bottleneck.expansion, num_classes)
        init_conv_bn_fan_out(self)
        self._set_structure(
            [SequentialStage([self.conv1, self.bn1], 64, F.relu)]
            + [BlockStage(layer, w * Bottleneck.expansion) for layer, w in zip(layers, widths)],
            PoolHead(adaptive=True), self.linear)
