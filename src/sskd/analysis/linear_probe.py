"""Linear-probe transfer of a trained network's representation to another data set.

HSSAKD §6.6 (Yang et al., "Hierarchical Self-supervised Augmented Knowledge Distillation",
TNNLS 2022; the release's ``eval_rep.py``): the network is frozen in eval mode (weights and
BN statistics fixed) and only a new linear layer ``[D] -> [K]`` is trained on its pooled
embedding (the vector its own classifier reads) for the target data set's K classes:
SGD nesterov, lr 0.1, momentum 0.9, weight decay 0, batch 64, 100 epochs, lr × 0.1 at
epochs 30/60/90 (0-based, set at the start of each epoch). Training images get
RandomResizedCrop(S) and a horizontal flip, test images a resize to S, S being the
network's input side; both are normalised with the target data set's mean and std.

Shapes: a split is held on the device as uint8 ``[N, 3, L, L]`` (L: the data set's side;
image folders are read at ``image_size``, by default S, with a plain resize and square
centre crop); views are float ``[B, 3, S, S]``; embeddings ``[B, D]``; logits ``[B, K]``.
Each split is read once and held whole on the device (TinyImageNet's training set at
L = 64: 1.2 GB). Augmentation is batched on the device and drawn from one
``torch.Generator`` seeded with ``seed``, which also shuffles the batches; the linear
layer is initialised from ``seed`` too. The same seed gives the same history (bit for bit
on a CPU; on a GPU up to cuDNN's choice of kernels).

The test features never change (frozen network, deterministic test view), so they are
computed once. ``augment=False`` also computes the training features once, from the
test view, and trains on those: much faster, but not the paper's protocol. The paper
reports the best test accuracy over the epochs; here both the last epoch and the best
one (labelled as selected on ``test/top1``) are reported.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any, Callable, NamedTuple, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.ops import roi_align
from torchvision.transforms import v2

from sskd.config import SpeedConfig
from sskd.data import ArrayDataset, load_dataset, make_loader
from sskd.data.augment import normalize, random_hflip, sample_resized_crop_boxes, to_float
from sskd.data.dataset import DatasetInfo
from sskd.data.registry import DATASET_ALIASES, FOLDER_DATASETS
from sskd.engine.runtime import autocast, resolve_device, setup_runtime
from sskd.engine.saved_network import SavedNetwork, locate_saved_network
from sskd.engine.trainer import NonFiniteLossError
from sskd.methods.frozen import frozen_forward

SELECTED_ON = "test/top1"
AMP_MODES = ("none", "bf16", "fp16")
#: Images per batch when a split is read or its features are computed once.
FEATURE_BATCH = 256


class Split(NamedTuple):
    """A data-set split on the device: uint8 ``[N, 3, L, L]``, int64 ``[N]``, its metadata."""

    images: Tensor
    labels: Tensor
    info: DatasetInfo


def linear_probe(checkpoint: str | Path, dataset: str, data_root: Optional[str] = None,
                 model: Optional[str] = None, epochs: int = 100, lr: float = 0.1, momentum: float = 0.9,
                 weight_decay: float = 0.0, nesterov: bool = True, milestones: Sequence[int] = (30, 60, 90),
                 gamma: float = 0.1, batch_size: int = 64, augment: bool = True, seed: int = 0,
                 device: str = "auto", amp: str = "none", train_split: str = "train",
                 test_split: str = "test", log: Optional[Callable[[str], None]] = None, *,
                 image_size: Optional[int] = None, source_classes: Optional[int] = None) -> dict[str, Any]:
    """Train a linear layer on the frozen embedding of ``checkpoint`` for ``dataset``.

    ``checkpoint``: a run directory, its ``model.safetensors``, or any state dict with
    ``model``; it is built with the classes it was trained with (its metadata's, or
    ``source_classes``), and its own classifier is left unused. ``image_size``: side at
    which image folders are read (default: the network's input side S; e.g. 64 for
    TinyImageNet cuts the random crops from the full-resolution images, as the paper's
    torchvision pipeline does). ``log`` receives one line per epoch.

    Returns the JSON-able record ``checkpoint, model, dataset, feature_dim, num_classes
    (the target's), train_images, test_images, augment, epochs, lr, batch_size, seed,
    last_epoch {epoch, test/top1}, best_epoch {epoch, test/top1, selected_on}, history
    [{epoch, train/loss, test/top1}]`` (epochs counted from 1, accuracies in %). The best
    epoch is chosen on the test set, as the paper reports it, so it is optimistic; the last
    epoch is the honest number.
    """
    _check_options(epochs, lr, momentum, weight_decay, nesterov, milestones, gamma, batch_size, seed, amp,
                   image_size)
    speed = SpeedConfig(amp=amp)
    dev = resolve_device(device)
    setup_runtime(speed, dev)
    saved = locate_saved_network(checkpoint, model=model)
    side = _input_side(saved)
    network = _frozen_network(saved, source_classes, dev)
    train = _read_split(dataset, data_root, train_split, image_size or side, dev)
    test = _read_split(dataset, data_root, test_split, image_size or side, dev)
    if test.info.num_classes != train.info.num_classes:
        raise ValueError(f"{dataset}: split {test_split!r} has {test.info.num_classes} classes but "
                         f"{train_split!r} has {train.info.num_classes}")
    mean, std = train.info.mean, train.info.std

    def embed(x: Tensor) -> Tensor:
        with autocast(dev, speed):
            return frozen_forward(lambda rows: network(rows).pooled, x, speed.frozen_rows).float()

    def test_view(images: Tensor) -> Tensor:
        return normalize(_resize(to_float(images), side), mean, std)

    def train_view(images: Tensor, generator: torch.Generator) -> Tensor:
        return normalize(_random_resized_crop_flip(to_float(images), side, generator), mean, std)

    test_feats = _features(embed, test_view, test.images)
    cached = None if augment else _features(embed, test_view, train.images)
    generator = torch.Generator(device=dev).manual_seed(seed)

    def features_of(idx: Tensor) -> Tensor:
        return cached[idx] if cached is not None else embed(train_view(train.images[idx], generator))

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        head = nn.Linear(test_feats.shape[1], train.info.num_classes).to(dev)
    optimizer = torch.optim.SGD(head.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay,
                                nesterov=nesterov)
    history = []
    for epoch in range(epochs):
        epoch_lr = lr * gamma ** sum(1 for m in milestones if m <= epoch)
        for group in optimizer.param_groups:
            group["lr"] = epoch_lr
        order = torch.randperm(train.labels.shape[0], generator=generator, device=dev)
        record = _epoch(head, optimizer, features_of, order, train.labels, test_feats, test.labels, batch_size)
        if not math.isfinite(record["train/loss"]):
            raise NonFiniteLossError(f"linear probe: the training loss became {record['train/loss']} at epoch "
                                     f"{epoch + 1} (lr {epoch_lr:.4g}); try a smaller lr")
        history.append({"epoch": epoch + 1, **record})
        if log is not None:
            log(f"[probe] epoch {epoch + 1}/{epochs} | lr {epoch_lr:.4g} | loss {record['train/loss']:.4f} | "
                f"test top1 {record['test/top1']:.2f}")
    best = max(history, key=lambda r: (r["test/top1"], -r["epoch"]))
    return {"checkpoint": str(saved.path), "model": saved.model, "dataset": train.info.name,
            "feature_dim": int(test_feats.shape[1]), "num_classes": train.info.num_classes,
            "train_images": int(train.labels.shape[0]), "test_images": int(test.labels.shape[0]),
            "augment": bool(augment), "epochs": epochs, "lr": float(lr), "batch_size": batch_size, "seed": seed,
            "last_epoch": {"epoch": epochs, "test/top1": history[-1]["test/top1"]},
            "best_epoch": {"epoch": best["epoch"], "test/top1": best["test/top1"], "selected_on": SELECTED_ON},
            "history": history}


def _epoch(head: nn.Linear, optimizer: torch.optim.Optimizer, features_of: Callable[[Tensor], Tensor],
           order: Tensor, labels: Tensor, test_feats: Tensor, test_labels: Tensor,
           batch_size: int) -> dict[str, float]:
    """One pass over ``order`` (int64 ``[N]``) in batches, then the test top-1 of ``head`` on
    ``test_feats`` ``[M, D]``: ``{"train/loss", "test/top1"}``, read from the device once."""
    loss_sum = torch.zeros((), device=order.device)
    for start in range(0, order.shape[0], batch_size):
        idx = order[start:start + batch_size]
        loss = F.cross_entropy(head(features_of(idx)), labels[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss_sum += loss.detach() * idx.shape[0]
    with torch.inference_mode():
        correct = (head(test_feats).argmax(1) == test_labels).sum()
    loss_total, correct = torch.stack([loss_sum.double(), correct.double()]).tolist()
    return {"train/loss": loss_total / order.shape[0], "test/top1": 100.0 * correct / test_labels.shape[0]}


def _check_options(epochs, lr, momentum, weight_decay, nesterov, milestones, gamma, batch_size, seed, amp,
                   image_size) -> None:
    """One ``ValueError`` naming the first option out of range."""
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be an integer >= 1, got {epochs!r}")
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr!r}")
    if momentum < 0 or weight_decay < 0:
        raise ValueError(f"momentum and weight_decay must be >= 0, got {momentum!r} and {weight_decay!r}")
    if nesterov and momentum == 0:
        raise ValueError("nesterov needs momentum > 0")
    if not 0 < gamma <= 1:
        raise ValueError(f"gamma must be in (0, 1], got {gamma!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    if amp not in AMP_MODES:
        raise ValueError(f"amp must be one of {', '.join(AMP_MODES)}; got {amp!r}")
    if image_size is not None and (isinstance(image_size, bool) or not isinstance(image_size, int)
                                   or image_size < 1):
        raise ValueError(f"image_size must be an integer >= 1, got {image_size!r}")
    steps = list(milestones)
    if any(isinstance(m, bool) or not isinstance(m, int) for m in steps) or steps != sorted(set(steps)):
        raise ValueError(f"milestones must be strictly increasing integer epochs, got {tuple(steps)}")
    late = [m for m in steps if not 0 < m < epochs]
    if late:
        raise ValueError(f"milestones {late} are not inside (0, epochs={epochs}); pass milestones that fit "
                         f"the epochs (--milestones with no value for none)")


def _input_side(saved: SavedNetwork) -> int:
    """S: the side the network was trained on (its metadata's ``image_size``), else its
    zoo entry's native input side."""
    from sskd.models import model_entry

    return int(saved.meta.get("image_size") or model_entry(saved.model).input_size)


def _frozen_network(saved: SavedNetwork, source_classes: Optional[int], dev: torch.device) -> nn.Module:
    """The saved network with its trained classes, on ``dev``, in eval mode, without gradients."""
    network = saved.build(source_classes or saved.meta.get("num_classes"))
    network.requires_grad_(False)
    return network.eval().to(dev)


def _read_split(dataset: str, root: Optional[str], split: str, side: int, dev: torch.device) -> Split:
    """The whole split as uint8 on ``dev``; image folders are read at ``side``."""
    key = str(dataset).strip().lower()
    folder = DATASET_ALIASES.get(key, key) in FOLDER_DATASETS
    data = load_dataset(dataset, root=root, split=split, **({"image_size": side, "train": False} if folder else {}))
    if len(data) == 0:
        raise ValueError(f"{dataset} split {split!r}{f' under {root}' if root else ''} holds no images")
    if isinstance(data, ArrayDataset):
        return Split(data.images.to(dev), data.labels.to(dev), data.info)
    # The folder's own test transform crops a 224/256 margin; the paper's test view is a plain Resize.
    data = copy.copy(data)
    data.transform = v2.Compose([v2.Resize(side, antialias=True), v2.CenterCrop(side)])
    images = torch.empty((len(data), 3, side, side), dtype=torch.uint8)
    start = 0
    workers = 0 if len(data) <= FEATURE_BATCH else None  # worker processes only pay off beyond one batch
    for batch, _ in make_loader(data, FEATURE_BATCH, shuffle=False, seed=0, num_workers=workers,
                                pin_memory=False):
        images[start:start + batch.shape[0]] = batch
        start += batch.shape[0]
    return Split(images.to(dev), data.labels.to(dev), data.info)


def _features(embed: Callable[[Tensor], Tensor], view: Callable[[Tensor], Tensor], images: Tensor) -> Tensor:
    """``embed(view(images))`` for uint8 ``[N, 3, L, L]`` in chunks: float32 ``[N, D]``."""
    return torch.cat([embed(view(images[start:start + FEATURE_BATCH]))
                      for start in range(0, images.shape[0], FEATURE_BATCH)])


def _resize(x: Tensor, side: int) -> Tensor:
    """``Resize(S)`` of square float ``[B, 3, L, L]``: bilinear, antialiased as torchvision's."""
    if x.shape[-1] == side and x.shape[-2] == side:
        return x
    return F.interpolate(x, size=(side, side), mode="bilinear", align_corners=False, antialias=True)


def _random_resized_crop_flip(x: Tensor, side: int, generator: torch.Generator) -> Tensor:
    """``RandomResizedCrop(S)`` (torchvision's scale and ratio) then ``RandomHorizontalFlip``:
    ``[B, 3, L, L]`` -> ``[B, 3, S, S]``.

    The boxes are drawn as torchvision draws them; each is resampled with ``roi_align``,
    which averages ``ceil(box / S)``² bilinear samples per output pixel: plain bilinear when
    upsampling, area averaging when shrinking (``augment.resized_crop`` would alias there).
    """
    b = x.shape[0]
    top, left, h, w = sample_resized_crop_boxes(b, x.shape[-2], x.shape[-1], generator=generator,
                                                device=x.device).unbind(1)
    rows = torch.arange(b, device=x.device, dtype=x.dtype)
    boxes = torch.stack([rows, left, top, left + w, top + h], dim=1).to(x.dtype)
    crops = roi_align(x, boxes, (side, side), spatial_scale=1.0, sampling_ratio=-1, aligned=True)
    return random_hflip(crops, generator)
