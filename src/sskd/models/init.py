"""Weight initialisation schemes of the original model code (SSKD.md §4.2)."""

from __future__ import annotations

from typing import Optional

from torch import nn


def init_conv_bn_fan_out(model: nn.Module, linear_std: Optional[float] = None,
                         zero_linear_bias: bool = False) -> None:
    """Kaiming-normal (fan-out, ReLU gain) convolutions with zero bias; norms 1/0.

    ``N(0, sqrt(2 / (k² · C_out)))`` is the same distribution, so this covers the CIFAR
    ResNets, ResNet50, WRN, VGG and MobileNetV2 of the benchmark. Linear layers keep
    PyTorch's default unless ``linear_std`` (weights ``N(0, linear_std)``, bias 0) or
    ``zero_linear_bias`` is given.
    """
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            if linear_std is not None:
                nn.init.normal_(m.weight, 0.0, linear_std)
            if linear_std is not None or zero_linear_bias:
                nn.init.zeros_(m.bias)
