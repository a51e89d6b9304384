"""ShuffleNet V1 (Zhang et al., CVPR 2018) and V2 (Ma et al., ECCV 2018), CIFAR variants
of the KD benchmark: a 1×1 stem with 24 channels and no stem down-sampling
(SSKD.md §4.2). PyTorch's default initialisation, as in the original code.
Original module names are kept.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sskd.models.base import ZooNet
from sskd.models.stages import BlockStage, PoolHead, SequentialStage


def channel_shuffle(x: Tensor, groups: int) -> Tensor:
    """``[N, g·c, H, W]`` → interleave the ``g`` groups' channels."""
    n, c, h, w = x.shape
    return x.view(n, groups, c // groups, h, w).transpose(1, 2).reshape(n, c, h, w)


class ShuffleV1Unit(nn.Module):
    """Grouped 1×1 – shuffle – depthwise 3×3 – grouped 1×1. Stride 2 concatenates an
    average-pooled shortcut (output width = ``out_planes + in_planes``)."""

    def __init__(self, in_planes: int, out_planes: int, stride: int, groups: int):
        super().__init__()
        self.stride = stride
        mid = out_planes // 4
        g = 1 if in_planes == 24 else groups
        self.groups_in = g
        self.conv1 = nn.Conv2d(in_planes, mid, 1, groups=g, bias=False)
        self.bn1 = nn.BatchNorm2d(mid)
        self.conv2 = nn.Conv2d(mid, mid, 3, stride=stride, padding=1, groups=mid, bias=False)
        self.bn2 = nn.BatchNorm2d(mid)
        self.conv3 = nn.Conv2d(mid, out_planes, 1, groups=groups, bias=False)
        self.bn3 = nn.BatchNorm2d(out_planes)
        self.shortcut = nn.Sequential(nn.AvgPool2d(3, stride=2, padding=1)) if stride == 2 else nn.Sequential()

    def forward_with_preact(self, x: Tensor) -> tuple[Tensor, Tensor]:
        out = channel_shuffle(F.relu(self.bn1(self.conv1(x))), self.groups_in)
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        res = self.shortcut(x)
        pre = torch.cat([out, res], 1) if self.stride == 2 else out + res
        return F.relu(pre), pre

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_with_preact(x)[0]


class ShuffleNetV1(ZooNet):
    """ShuffleNet V1 on ``[N, 3, 32, 32]``; feats ``24@32²``, ``240@16²``, ``480@8²``,
    ``960@4²`` (groups 3); pooled ``[N, 960]``."""

    def __init__(self, out_planes=(240, 480, 960), num_blocks=(4, 8, 4), groups: int = 3,
                 num_classes: int = 100):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 24, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(24)
        in_planes = 24
        layers = []
        for width, count in zip(out_planes, num_blocks):
            units = []
            for i in range(count):
                units.append(ShuffleV1Unit(in_planes, width - (in_planes if i == 0 else 0),
                                           2 if i == 0 else 1, groups))
                in_planes = width
            layers.append(nn.Sequential(*units))
        self.layer1, self.layer2, self.layer3 = layers
        self.linear = nn.Linear(out_planes[2], num_classes)
        self._set_structure(
            [SequentialStage([self.conv1, self.bn1], 24, F.relu)]
            + [BlockStage(layer, width) for layer, width in zip(layers, out_planes)],
            PoolHead(), self.linear)


class ShuffleV2Unit(nn.Module):
    """Split channels in half; one half passes, the other goes 1×1–dw3×3–1×1; concat, shuffle."""

    def __init__(self, in_channels: int, split_ratio: float = 0.5):
        super().__init__()
        self.split_ratio = split_ratio
        c = int(in_channels * split_ratio)
        self.conv1 = nn.Conv2d(c, c, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, stride=1, padding=1, groups=c, bias=False)
        self.bn2 = nn.BatchNorm2d(c)
        self.conv3 = nn.Conv2d(c, c, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(c)

    def _split_branch(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """The passing half and the other half's branch before its final ReLU."""
        c = int(x.size(1) * self.split_ratio)
        x1, x2 = x[:, :c], x[:, c:]
        out = F.relu(self.bn1(self.conv1(x2)))
        out = self.bn2(self.conv2(out))
        return x1, self.bn3(self.conv3(out))

    def forward_with_preact(self, x: Tensor) -> tuple[Tensor, Tensor]:
        x1, pre = self._split_branch(x)
        return channel_shuffle(torch.cat([x1, F.relu(pre)], 1), 2), torch.cat([x1, pre], 1)

    def forward(self, x: Tensor) -> Tensor:
        x1, pre = self._split_branch(x)
        return channel_shuffle(torch.cat([x1, F.relu(pre)], 1), 2)


class ShuffleV2DownUnit(nn.Module):
    """Both branches stride 2 (left: dw3×3–1×1; right: 1×1–dw3×3–1×1); concat, shuffle."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 2):
        super().__init__()
        mid = out_channels // 2
        self.conv1 = nn.Conv2d(in_channels, in_channels, 3, stride=stride, padding=1,
                               groups=in_channels, bias=False)
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv2 = nn.Conv2d(in_channels, mid, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(mid)
        self.conv3 = nn.Conv2d(in_channels, mid, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(mid)
        self.conv4 = nn.Conv2d(mid, mid, 3, stride=stride, padding=1, groups=mid, bias=False)
        self.bn4 = nn.BatchNorm2d(mid)
        self.conv5 = nn.Conv2d(mid, mid, 1, bias=False)
        self.bn5 = nn.BatchNorm2d(mid)

    def forward(self, x: Tensor) -> Tensor:
        left = F.relu(self.bn2(self.conv2(self.bn1(self.conv1(x)))))
        right = self.bn4(self.conv4(F.relu(self.bn3(self.conv3(x)))))
        right = F.relu(self.bn5(self.conv5(right)))
        return channel_shuffle(torch.cat([left, right], 1), 2)


SHUFFLEV2_CONFIGS = {
    0.5: ((48, 96, 192, 1024), (3, 7, 3)),
    1.0: ((116, 232, 464, 1024), (3, 7, 3)),
    1.5: ((176, 352, 704, 1024), (3, 7, 3)),
    2.0: ((224, 488, 976, 2048), (3, 7, 3)),
}


class ShuffleNetV2(ZooNet):
    """ShuffleNet V2 on ``[N, 3, 32, 32]``; size 1: feats ``24@32²``, ``116@16²``,
    ``232@8²``, ``464@4²``; pooled ``[N, 1024]`` (after 1×1 conv–BN–ReLU)."""

    def __init__(self, net_size: float = 1.0, num_classes: int = 100):
        super().__init__()
        out_channels, num_blocks = SHUFFLEV2_CONFIGS[net_size]
        self.conv1 = nn.Conv2d(3, 24, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(24)
        in_channels = 24
        layers = []
        for width, count in zip(out_channels[:3], num_blocks):
            layers.append(nn.Sequential(ShuffleV2DownUnit(in_channels, width),
                                        *[ShuffleV2Unit(width) for _ in range(count)]))
            in_channels = width
        self.layer1, self.layer2, self.layer3 = layers
        self.conv2 = nn.Conv2d(out_channels[2], out_channels[3], 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels[3])
        self.linear = nn.Linear(out_channels[3], num_classes)
        self._set_structure(
            [SequentialStage([self.conv1, self.bn1], 24, F.relu)]
            + [BlockStage(layer, width) for layer, width in zip(layers, out_channels[:3])],
            PoolHead([self.conv2, self.bn2, F.relu]), self.linear)
