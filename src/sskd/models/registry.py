"""Model registry: ``build_model(name, num_classes=…)`` and ``list_models()``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from torch import nn

from sskd.registry import Registry


@dataclass(frozen=True)
class ModelEntry:
    name: str
    builder: Callable[..., nn.Module]
    input_size: int
    description: str


MODELS: Registry[ModelEntry] = Registry("model")


def register_model(name: str, input_size: int, description: str):
    """Decorator registering ``builder(num_classes, **kwargs) -> nn.Module`` under ``name``."""

    def wrap(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        MODELS.add(name, ModelEntry(name, builder, input_size, description))
        return builder

    return wrap


def list_models() -> list[str]:
    """Registered model names, in registration order (CIFAR zoo first, then ImageNet)."""
    return MODELS.names()


def model_entry(name: str) -> ModelEntry:
    """The registry entry of ``name``; an unknown name lists the valid ones."""
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
