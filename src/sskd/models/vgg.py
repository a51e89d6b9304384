"""VGG with batch norm (Simonyan & Zisserman, ICLR 2015), the KD benchmark's CIFAR variant.

Five blocks of conv3×3 (with bias) + BN (+ ReLU between convs; the block's last ReLU is
applied outside it); 2×2 max-pools after blocks 0–2, after block 3 only for 64×64
inputs; global average pool; one linear layer (SSKD.md §4.3). Original names are kept.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from sskd.models.base import ZooNet
from sskd.models.init import init_conv_bn_fan_out
from sskd.models.stages import PoolHead, SequentialStage

VGG_CONFIGS: dict[str, list[list[int]]] = {
    "S": [[64], [128], [256], [512], [512]],
    "A": [[64], [128], [256, 256], [512, 512], [512, 512]],
    "B": [[64, 64], [128, 128], [256, 256], [512, 512], [512, 512]],
    "D": [[64, 64], [128, 128], [256, 256, 256], [512, 512, 512], [512, 512, 512]],
    "E": [[64, 64], [128, 128], [256] * 4, [512] * 4, [512] * 4],
}


def make_vgg_block(widths: list[int], in_channels: int) -> nn.Sequential:
    """conv–BN(–ReLU–conv–BN)…: the trailing ReLU is left to the caller."""
    layers: list[nn.Module] = []
    for width in widths:
        layers += [nn.Conv2d(in_channels, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
        in_channels = width
    return nn.Sequential(*layers[:-1])


class PoolForLargeInput(nn.Module):
    """The benchmark's ``pool3`` between blocks 3 and 4: a 2×2 max-pool applied only for
    64×64 inputs (an 8×8 map at this depth); 32×32 inputs pass through unchanged."""

    def __init__(self):
        super().__init__()
        self.pool = nn.MaxPool2d(2, 2)

    def forward(self, x: Tensor) -> Tensor:
        return self.pool(x) if x.shape[-1] == 8 else x


class VGG(ZooNet):
    """VGG-BN on ``[N, 3, 32, 32]``.

    feats (all after ReLU): ``64@32²``, ``128@16²``, ``256@8²``, ``512@4²``, ``512@4²``;
    pooled ``[N, 512]``.
    """

    def __init__(self, config: str, num_classes: int = 100):
        super().__init__()
        cfg = VGG_CONFIGS[config]
        self.config = config
        self.block0 = make_vgg_block(cfg[0], 3)
        self.block1 = make_vgg_block(cfg[1], cfg[0][-1])
        self.block2 = make_vgg_block(cfg[2], cfg[1][-1])
        self.block3 = make_vgg_block(cfg[3], cfg[2][-1])
        self.block4 = make_vgg_block(cfg[4], cfg[3][-1])
        self.pool0 = nn.MaxPool2d(2, 2)
        self.pool1 = nn.MaxPool2d(2, 2)
        self.pool2 = nn.MaxPool2d(2, 2)
        self.pool3 = PoolForLargeInput()
        self.classifier = nn.Linear(512, num_classes)
        init_conv_bn_fan_out(self, linear_std=0.01)
        widths = [c[-1] for c in cfg]
        self._set_structure(
            [SequentialStage([self.block0], widths[0], F.relu),
             SequentialStage([self.pool0, self.block1], widths[1], F.relu),
             SequentialStage([self.pool1, self.block2], widths[2], F.relu),
             SequentialStage([self.pool2, self.block3], widths[3], F.relu),
             SequentialStage([self.pool3, self.block4], widths[4], F.relu)],
            PoolHead(adaptive=True), self.classifier)
