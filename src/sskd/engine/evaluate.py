"""Top-1/top-5 accuracy of a network on a data set (view 0, test-time preprocessing)."""

from __future__ import annotations

from typing import Iterable

import torch
import torch.nn.functional as F
from torch import nn

from sskd.config import SpeedConfig
from sskd.data.views import ViewMaker
from sskd.engine.distributed import DistInfo
from sskd.engine.meter import DeviceMeter, topk_correct
from sskd.data.registry import FOLDER_DATASETS
from sskd.engine.runtime import autocast, to_channels_last_views
from sskd.methods.frozen import frozen_forward


@torch.inference_mode()
def evaluate(network: nn.Module, loader: Iterable, maker: ViewMaker, device: torch.device,
             speed: SpeedConfig, info: DistInfo) -> dict[str, float]:
    """Returns ``{"loss", "top1", "top5"}`` (accuracies in %) over every rank's shard.

    ``loader`` yields uint8 ``[B, 3, H, W]`` and labels ``[B]``; ``maker`` is the
    test-time ``standard`` view maker (normalisation only).
    """
    was_training = network.training
    network.eval()
    meter = DeviceMeter(device)
    for images, labels in loader:
        images = images.to(device, non_blocking=True)
        labels = labels.to(device, non_blocking=True)
        x = maker(images, labels).views[:, 0]
        if speed.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast(device, speed):
            logits = frozen_forward(lambda rows: network(rows).logits, x, speed.frozen_rows)
        logits = logits.float()
        n = labels.shape[0]
        top1, top5 = topk_correct(logits, labels)
        meter.add("loss", F.cross_entropy(logits, labels), n)
        meter.add("top1", top1, 100.0)
        meter.add("top5", top5, 100.0)
        meter.add_count(n)
    network.train(was_training)
    scores = meter.means(info)
    scores.pop("n")
    return scores


@torch.inference_mode()
def evaluate_method(method, loader: Iterable, maker: ViewMaker, device: torch.device,
                    speed: SpeedConfig, info: DistInfo, seed: int = 0) -> dict[str, float]:
    """The method's own test metrics (:meth:`Method.eval_metrics`) over every rank's shard.

    ``maker`` is the method's ``eval_views`` maker in test mode; its random draws, if any,
    come from a generator seeded with ``seed``, so every epoch sees the same views.
    """
    was_training = method.training
    method.eval()
    generator = torch.Generator(device=device).manual_seed(seed)
    meter = DeviceMeter(device)
    for images, labels in loader:
        images = images.to(device, non_blocking=True)
        labels = labels.to(device, non_blocking=True)
        batch = maker(images, labels, generator)
        if speed.channels_last:
            batch = batch._replace(views=to_channels_last_views(batch.views))
        with autocast(device, speed):
            metrics = method.eval_metrics(batch)
        n = labels.shape[0]
        for name, value in metrics.items():
            meter.add(name, value.float(), n)
        meter.add_count(n)
    method.train(was_training)
    scores = meter.means(info)
    scores.pop("n")
    return scores


def evaluate_checkpoint(checkpoint: str, model: str | None = None, dataset: str | None = None,
                        data_root: str | None = None, split: str = "test", batch_size: int = 256,
                        device: str = "auto", amp: str = "none",
                        num_classes: int | None = None) -> dict[str, object]:
    """Top-1/top-5 of a saved network on a data set split.

    ``checkpoint``: a run directory or its ``model.safetensors`` (model, classes and data
    set come from its metadata), or any ``.safetensors``/``.pth`` state dict — including
    the original codebases' checkpoints — together with ``model``.
    """
    from sskd.data import load_dataset, make_loader, make_views
    from sskd.engine.checkpoint import CheckpointError
    from sskd.engine.distributed import DistInfo
    from sskd.engine.runtime import resolve_device, setup_runtime
    from sskd.engine.saved_network import locate_saved_network

    saved = locate_saved_network(checkpoint, model=model, dataset=dataset)
    path, meta = saved.path, saved.meta
    if saved.dataset is None:
        raise CheckpointError(f"{path}: the checkpoint does not name its data set; pass --dataset")
    dataset = saved.dataset
    size = {"image_size": meta["image_size"]} if dataset in FOLDER_DATASETS and "image_size" in meta else {}
    data = load_dataset(dataset, root=data_root, split=split, **size)
    network = saved.build(num_classes or meta.get("num_classes") or data.info.num_classes)
    speed = SpeedConfig(amp=amp)
    dev = resolve_device(device)
    setup_runtime(speed, dev)
    network.to(dev)
    maker = make_views("standard", mean=data.info.mean, std=data.info.std, train=False)
    loader = make_loader(data, batch_size, shuffle=False, seed=0, pin_memory=dev.type == "cuda")
    scores = evaluate(network, loader, maker, dev, speed, DistInfo())
    return {"checkpoint": str(path), "model": saved.model, "dataset": dataset, "split": split,
            "images": len(data), **scores}
