"""The data a run needs: train / validation / test sets and their loaders."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Optional

import torch

from sskd.config import DataConfig
from sskd.data import (ArrayDataset, DatasetInfo, ImageFolderDataset, class_balanced_subset, few_shot,
                       load_dataset, make_loader, with_label_noise)
from sskd.data.dataset import DatasetFormatError
from sskd.data.folder_check import check_image_folder
from sskd.engine.distributed import DistInfo


@dataclass
class RunData:
    """``train`` is what the students train on (few-shot subset, noisy labels);
    ``clean_train`` the same images with their true labels, for the stages that train on
    the teacher's side (SSKD's head, HSSAKD's branches): the teacher is trained on clean
    data (SSKD Fig. 4b). Without label noise the two are the same object."""

    info: DatasetInfo
    train: object
    val: Optional[object]
    test: object
    clean_train: object = None

    def __post_init__(self):
        if self.clean_train is None:
            self.clean_train = self.train


def prepare_data(cfg: DataConfig, seed: int) -> RunData:
    """Load the data set, hold out a class-balanced validation split if asked, then apply
    the few-shot fraction and label noise to what is left for training (never to the
    validation or test sets; teacher-side stages read ``clean_train``)."""
    kwargs = {"image_size": cfg.image_size} if cfg.image_size else {}
    train = load_dataset(cfg.name, root=cfg.root, split="train", **kwargs)
    test = load_dataset(cfg.name, root=cfg.root, split="test", **kwargs)
    val = None
    if cfg.val_fraction > 0:
        val_idx = class_balanced_subset(train.labels, cfg.val_fraction, seed)
        keep = torch.ones(len(train), dtype=torch.bool)
        keep[val_idx] = False
        val = train.subset(val_idx)
        if isinstance(val, ImageFolderDataset):
            val = val.for_evaluation()
        train = train.subset(torch.nonzero(keep).flatten())
    if cfg.train_fraction < 1:
        train = few_shot(train, cfg.train_fraction, seed)
    clean = train
    if cfg.label_noise > 0:
        train = with_label_noise(train, cfg.label_noise, seed)
    return RunData(train.info, train, val, test, clean)


def folder_problem(data: RunData, cfg: DataConfig) -> Optional[str]:
    """Why the run's image folders cannot be trained on (a file that cannot be opened), or
    ``None``; warns when images are smaller than ``image_size`` (they are upsampled)."""
    for split, part in (("train", data.train), ("test", data.test)):
        if not isinstance(part, ImageFolderDataset):
            continue
        what = f"data.root {cfg.root} ({split})"
        try:
            report = check_image_folder(part, what)
        except DatasetFormatError as exc:
            return str(exc)
        if report.smaller:
            warnings.warn(f"{what}: {report.smaller} of {report.images} images are smaller than "
                          f"image_size {part.info.image_size} and will be upsampled", stacklevel=2)
    return None


def run_loaders(data: RunData, cfg: DataConfig, device: torch.device, info: DistInfo):
    """``(training batches, {split: evaluation loader})`` of a run: ``test``, and ``val`` when
    held out. The training order comes from ``set_epoch`` alone (seed 0), so a stage with its
    own seed sees the same batches whatever the run's seed."""
    loaders = {"test": eval_loader(data.test, cfg, device, info)}
    if data.val is not None:
        loaders["val"] = eval_loader(data.val, cfg, device, info)
    return train_loader(data.train, cfg, 0, device, info), loaders


def crop_padding(train) -> int:
    """Padding of the training crops: CIFAR-style pad-4 crops for in-memory sets; none for
    image folders, whose loader already random-resize-crops (HSSAKD.md §1.2)."""
    return 0 if isinstance(train, ImageFolderDataset) else 4


def shard(dataset, info: DistInfo):
    """This rank's share of an evaluation set: every ``world_size``-th item, no padding."""
    if not info.enabled:
        return dataset
    return dataset.subset(torch.arange(info.rank, len(dataset), info.world_size))


def train_loader(dataset, cfg: DataConfig, seed: int, device: torch.device, info: DistInfo):
    if cfg.batch_size % info.world_size:
        raise ValueError(f"data.batch_size={cfg.batch_size} (the global batch) must be divisible "
                         f"by the number of processes, {info.world_size}")
    on_device = device if cfg.on_device and isinstance(dataset, ArrayDataset) else None
    return make_loader(dataset, cfg.batch_size // info.world_size, shuffle=True, seed=seed,
                       drop_last=cfg.drop_last, device=on_device, num_workers=cfg.workers,
                       num_replicas=info.world_size, rank=info.rank, with_indices=True,
                       pin_memory=device.type == "cuda")


def eval_loader(dataset, cfg: DataConfig, device: torch.device, info: DistInfo):
    part = shard(dataset, info)
    on_device = device if cfg.on_device and isinstance(part, ArrayDataset) else None
    return make_loader(part, cfg.eval_batch_size, shuffle=False, seed=0, device=on_device,
                       num_workers=cfg.workers, pin_memory=device.type == "cuda")
