"""Model registry: ``build_model(name, num_classes=…)`` and ``list_models()``."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Callable

from torch import nn


@dataclass(frozen=True)
class ModelEntry:
    name: str
    builder: Callable[..., nn.Module]
    input_size: int
    description: str


_REGISTRY: dict[str, ModelEntry] = {}


def register_model(name: str, input_size: int, description: str):
    """Decorator registering ``builder(num_classes, **kwargs) -> nn.Module`` under ``name``."""

    def wrap(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is already registered")
        _REGISTRY[name] = ModelEntry(name, builder, input_size, description)
        return builder

    return wrap


def list_models() -> list[str]:
    """Registered model names, in registration order (CIFAR zoo first, then ImageNet)."""
    return list(_REGISTRY)


def model_entry(name: str) -> ModelEntry:
    """The registry entry of ``name``; an unknown name lists the valid ones."""
    try:
        return _REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ValueError(f"unknown model {name!r}.{hint} Valid models: {', '.join(_REGISTRY)}") from None


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
