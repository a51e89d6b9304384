"""Model registry: ``build_model(name, num_classes=…)`` and ``list_models()``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from torch import nn

from sskd.models.external import library_builder, split_library_name
from sskd.registry import Registry


#: The papers' base learning rate (SGD, batch 64) for a network they train.
DEFAULT_LR = 0.05


@dataclass(frozen=True)
class ModelEntry:
    """A network: its builder, native input side, description, and the base learning rate
    the papers train it with (SSKD.md §2.1/§3.5, BASELINES.md §1.3: 0.01 for MobileNetV2,
    ShuffleV1 and ShuffleV2, 0.05 otherwise)."""

    name: str
    builder: Callable[..., nn.Module]
    input_size: int
    description: str
    lr: float = DEFAULT_LR


MODELS: Registry[ModelEntry] = Registry("model")


def register_model(name: str, input_size: int, description: str, lr: float = DEFAULT_LR):
    """Decorator registering ``builder(num_classes, **kwargs) -> nn.Module`` under ``name``."""

    def wrap(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        MODELS.add(name, ModelEntry(name, builder, input_size, description, lr))
        return builder

    return wrap


def list_models() -> list[str]:
    """Registered model names, in registration order (CIFAR zoo first, then ImageNet)."""
    return MODELS.names()


def model_entry(name: str) -> ModelEntry:
    """The registry entry of ``name``: a zoo name, or ``torchvision:<name>`` /
    ``timm:<name>`` for any classifier of those libraries (:mod:`sskd.models.external`).
    An unknown name lists the valid ones."""
    if split_library_name(name) is not None:
        builder, size, description = library_builder(name)
        return ModelEntry(name, builder, size, description)
    return MODELS.get(name)


def build_model(name: str, num_classes: int | None = None, **kwargs) -> nn.Module:
    """Build a freshly initialised zoo model; its forward returns a ``ModelOutput``.

    ``num_classes`` defaults to the network's own default: 100 for the CIFAR zoo, 1000
    for the ImageNet networks.
    """
    entry = model_entry(name)
    if num_classes is None:
        return entry.builder(**kwargs)
    if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive integer, got {num_classes!r}")
    return entry.builder(num_classes=num_classes, **kwargs)
