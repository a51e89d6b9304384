"""Tiny run directories for the export tests, written without training."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from sskd.engine.checkpoint import export_model
from sskd.models import build_model

RUN_META = {"network": "student", "model": "resnet8", "model_args": {}, "num_classes": 10,
            "class_names": [f"digit {i}" for i in range(10)], "dataset": "digits",
            "mean": [0.3053, 0.3053, 0.3053], "std": [0.3234, 0.3234, 0.3234], "image_size": 32,
            "stage": "student"}


def with_random_bn_stats(network: nn.Module) -> nn.Module:
    """Random BatchNorm running statistics (so that an export in train mode would give other
    logits); returns ``network`` in eval mode."""
    g = torch.Generator().manual_seed(1)
    for m in network.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
    return network.eval()


def write_run(run: Path, net: nn.Module | None = None, **meta) -> nn.Module:
    """Save ``net`` (default a seeded ResNet-8, 10 classes) as ``run/model.safetensors``
    with a run's metadata (``meta`` overrides :data:`RUN_META`); returns the network."""
    torch.manual_seed(0)
    network = with_random_bn_stats(net or build_model("resnet8", num_classes=10))
    run.mkdir(parents=True, exist_ok=True)
    export_model(network, run / "model.safetensors", {**RUN_META, **meta})
    return network


def logits_of(network: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The eval-mode logits ``[N, K]`` of a zoo network for ``x`` ``[N, 3, S, S]``."""
    with torch.no_grad():
        return network.eval()(x).logits


def images(n: int = 3, size: int = 32) -> torch.Tensor:
    """``n`` seeded normalised-looking inputs ``[n, 3, size, size]`` (a batch size the export
    checks do not use)."""
    return torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(7))
