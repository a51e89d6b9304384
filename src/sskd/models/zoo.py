"""The registered networks: the CIFAR KD benchmark zoo and torchvision's ImageNet models."""

from __future__ import annotations

import torchvision

from sskd.models.adapter import (from_torchvision_mobilenet_v2, from_torchvision_resnet,
                                 from_torchvision_shufflenet_v2)
from sskd.models.mobilenetv2 import MobileNetV2
from sskd.models.registry import register_model
from sskd.models.resnet_bottleneck import CifarBottleneckResNet
from sskd.models.resnet_cifar import CifarResNet
from sskd.models.shufflenet import ShuffleNetV1, ShuffleNetV2
from sskd.models.vgg import VGG
from sskd.models.wrn import WideResNet

CIFAR_RESNETS = {
    "resnet8": (8, (16, 16, 32, 64)), "resnet14": (14, (16, 16, 32, 64)),
    "resnet20": (20, (16, 16, 32, 64)), "resnet32": (32, (16, 16, 32, 64)),
    "resnet44": (44, (16, 16, 32, 64)), "resnet56": (56, (16, 16, 32, 64)),
    "resnet110": (110, (16, 16, 32, 64)),
    "resnet8x4": (8, (32, 64, 128, 256)), "resnet32x4": (32, (32, 64, 128, 256)),
    "resnet14x05": (14, (8, 8, 16, 32)), "resnet20x05": (20, (8, 8, 16, 32)),
    "resnet20x0375": (20, (6, 6, 12, 24)),
}
WRNS = {"wrn_16_1": (16, 1), "wrn_16_2": (16, 2), "wrn_40_1": (40, 1), "wrn_40_2": (40, 2)}
VGGS = {"vgg8": "S", "vgg11": "A", "vgg13": "B", "vgg16": "D", "vgg19": "E"}


def _register_cifar_resnet(name: str, depth: int, filters: tuple[int, int, int, int]) -> None:
    @register_model(name, 32, f"CIFAR ResNet-{depth}, widths {filters}")
    def build(num_classes: int = 100):
        return CifarResNet(depth, filters, num_classes)


def _register_wrn(name: str, depth: int, widen: int) -> None:
    @register_model(name, 32, f"WRN-{depth}-{widen}")
    def build(num_classes: int = 100):
        return WideResNet(depth, widen, num_classes)


def _register_vgg(name: str, config: str) -> None:
    @register_model(name, 32, f"VGG config {config} with batch norm")
    def build(num_classes: int = 100):
        return VGG(config, num_classes)


for _name, (_depth, _filters) in CIFAR_RESNETS.items():
    _register_cifar_resnet(_name, _depth, _filters)
for _name, (_depth, _widen) in WRNS.items():
    _register_wrn(_name, _depth, _widen)
for _name, _config in VGGS.items():
    _register_vgg(_name, _config)


LIGHT_LR = 0.01  # the papers' learning rate for the mobile networks


@register_model("MobileNetV2", 32, "MobileNetV2 ×0.5, expansion 6 (the benchmark's mobile_half); "
                "stem_stride=1 gives HSSAKD's variant", lr=LIGHT_LR)
def mobilenetv2(num_classes: int = 100, stem_stride: int = 2):
    return MobileNetV2(6, 0.5, num_classes, stem_stride=stem_stride)


@register_model("ShuffleV1", 32, "ShuffleNet V1, groups 3, CIFAR stem", lr=LIGHT_LR)
def shufflev1(num_classes: int = 100):
    return ShuffleNetV1(num_classes=num_classes)


@register_model("ShuffleV2", 32, "ShuffleNet V2 ×1, CIFAR stem", lr=LIGHT_LR)
def shufflev2(num_classes: int = 100):
    return ShuffleNetV2(1.0, num_classes)


@register_model("ResNet50", 32, "ResNet-50 (bottleneck [3,4,6,3]) with a CIFAR stem")
def resnet50_cifar(num_classes: int = 100):
    return CifarBottleneckResNet((3, 4, 6, 3), num_classes)


@register_model("resnet18", 224, "torchvision ResNet-18 (ImageNet)")
def resnet18(num_classes: int = 1000):
    return from_torchvision_resnet(torchvision.models.resnet18(num_classes=num_classes))


@register_model("resnet34", 224, "torchvision ResNet-34 (ImageNet)")
def resnet34(num_classes: int = 1000):
    return from_torchvision_resnet(torchvision.models.resnet34(num_classes=num_classes))


@register_model("resnet50", 224, "torchvision ResNet-50 (ImageNet)")
def resnet50(num_classes: int = 1000):
    return from_torchvision_resnet(torchvision.models.resnet50(num_classes=num_classes))


@register_model("mobilenet_v2", 224, "torchvision MobileNetV2 ×1.0 (ImageNet)")
def mobilenet_v2(num_classes: int = 1000):
    return from_torchvision_mobilenet_v2(torchvision.models.mobilenet_v2(num_classes=num_classes))


@register_model("shufflenet_v2", 224, "torchvision ShuffleNetV2 ×1.0 (ImageNet)")
def shufflenet_v2(num_classes: int = 1000):
    return from_torchvision_shufflenet_v2(torchvision.models.shufflenet_v2_x1_0(num_classes=num_classes))
