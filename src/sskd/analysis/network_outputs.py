"""A saved network's outputs over a data-set split, streamed batch by batch.

Each network runs in eval mode under ``torch.inference_mode`` on view 0 of the test-time
``standard`` view maker (normalisation only), as :func:`sskd.engine.evaluate.evaluate`
does. Per batch of B images each network gives its logits [B, K] and its pooled
penultimate embedding [B, D] (RepDistiller's ``feats[-1]``), as float32 CPU tensors;
nothing of earlier batches is kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, NamedTuple, Optional, Sequence

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from sskd.config import SpeedConfig
from sskd.data import ImageFolderDataset, load_dataset, make_loader, make_views
from sskd.data.dataset import DatasetInfo
from sskd.data.registry import FOLDER_DATASETS
from sskd.data.views import ViewMaker
from sskd.engine.runtime import autocast, resolve_device, setup_runtime
from sskd.engine.saved_network import SavedNetwork
from sskd.methods.frozen import frozen_forward

AMP_MODES = ("none", "bf16", "fp16")


class Outputs(NamedTuple):
    """One network's outputs for a batch of B images (float32, CPU)."""

    logits: Tensor  # [B, K]
    pooled: Tensor  # [B, D]


@dataclass
class OpenedNetwork:
    """A saved network on its device, in eval mode, with the view maker of its inputs."""

    saved: SavedNetwork
    network: nn.Module
    maker: ViewMaker


def start_runtime(device: str, amp: str) -> tuple[torch.device, SpeedConfig]:
    """The device named by ``device`` (``auto``, ``cpu``, ``cuda``, ``cuda:N``) set up for
    inference with mixed precision ``amp`` (``none``, ``bf16``, ``fp16``)."""
    if amp not in AMP_MODES:
        raise ValueError(f"amp must be one of {', '.join(AMP_MODES)}; got {amp!r}")
    speed = SpeedConfig(amp=amp)
    dev = resolve_device(device)
    setup_runtime(speed, dev)
    return dev, speed


def load_split(dataset: str, data_root: Optional[str], split: str, image_size: Optional[int] = None) -> Dataset:
    """``split`` of ``dataset`` with test-time preprocessing; ``image_size`` (a checkpoint's
    metadata) sets the side of images read from a folder, as ``sskd evaluate`` does."""
    size = {"image_size": image_size} if dataset in FOLDER_DATASETS and image_size else {}
    data = load_dataset(dataset, root=data_root, split=split, **size)
    return data.for_evaluation() if isinstance(data, ImageFolderDataset) else data


def network_classes(saved: SavedNetwork, info: DatasetInfo) -> int:
    """The checkpoint's number of classes, the data set's when its metadata does not say."""
    return int(saved.meta.get("num_classes") or info.num_classes)


def open_network(saved: SavedNetwork, info: DatasetInfo, device: torch.device) -> OpenedNetwork:
    """Build ``saved`` on ``device``; its inputs are normalised with the mean and std of its
    metadata when it gives them, else with the data set's."""
    network = saved.build(network_classes(saved, info)).to(device).eval()
    maker = make_views("standard", mean=saved.meta.get("mean", info.mean),
                       std=saved.meta.get("std", info.std), train=False)
    return OpenedNetwork(saved, network, maker)


def _logits_and_pooled(network: nn.Module):
    def forward(rows: Tensor) -> Outputs:
        out = network(rows)
        return Outputs(out.logits, out.pooled)
    return forward


@torch.inference_mode()
def stream_outputs(networks: Sequence[OpenedNetwork], data: Dataset, batch_size: int,
                   device: torch.device, speed: SpeedConfig) -> Iterator[tuple[list[Outputs], Tensor]]:
    """For each batch of ``data`` in order: every network's :class:`Outputs` on the same
    images, and the labels int64 [B] (CPU)."""
    if batch_size < 1:
        raise ValueError(f"batch size must be at least 1; got {batch_size}")
    loader = make_loader(data, batch_size, shuffle=False, seed=0, pin_memory=device.type == "cuda")
    for images, labels in loader:
        images = images.to(device, non_blocking=True)
        labels = labels.to(device, non_blocking=True)
        outputs = []
        for opened in networks:
            x = opened.maker(images, labels).views[:, 0]
            with autocast(device, speed):
                logits, pooled = frozen_forward(_logits_and_pooled(opened.network), x, speed.frozen_rows)
            outputs.append(Outputs(logits.float().cpu(), pooled.float().cpu()))
        yield outputs, labels.cpu()
