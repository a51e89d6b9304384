"""The check every writer runs: the exported file's logits against PyTorch's on fixed inputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import torch
from torch import Tensor, nn

from sskd.export.errors import ExportError

TOLERANCE = 1e-4  # max abs logit difference allowed in fp32


def sample_batch(meta: dict[str, Any], n: int = 4, seed: int = 0) -> Tensor:
    """``n`` seeded random RGB images in [0, 1] at the input size, normalised with the run's
    mean and std: float ``[n, 3, S, S]``, the same for every call with the same arguments."""
    size = meta["input_size"]
    images = torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed))
    mean = torch.tensor(meta["mean"], dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(meta["std"], dtype=torch.float32).view(1, 3, 1, 1)
    return (images - mean) / std


def check_logits(exported: Callable[[Tensor], Tensor], model: nn.Module, meta: dict[str, Any],
                 what: str, path: Path) -> float:
    """Max abs difference between ``exported(x)`` and ``model(x)`` (logits ``[N, K]``) over a
    fixed batch of 4 images and one of a single image (so a batch axis fixed at export
    time fails here); :class:`ExportError` if it exceeds :data:`TOLERANCE`."""
    worst = 0.0
    for x in (sample_batch(meta, n=4, seed=0), sample_batch(meta, n=1, seed=1)):
        with torch.no_grad():
            want = model(x)
            got = torch.as_tensor(exported(x))
        if got.shape != want.shape:
            raise ExportError(f"{path}: {what} gives logits of shape {tuple(got.shape)} for input "
                              f"{tuple(x.shape)}; expected {tuple(want.shape)}")
        worst = max(worst, (got.float() - want.float()).abs().max().item())
    if not worst <= TOLERANCE:
        raise ExportError(f"{path}: {what} logits differ from PyTorch's by {worst:.3g} (max abs) on a "
                          f"fixed batch; expected at most {TOLERANCE:g} in fp32")
    return worst
