"""Data sets by name: ``load_dataset``, ``dataset_info`` and ``list_datasets``."""

from __future__ import annotations

import os
from pathlib import Path

from torch.utils.data import Dataset

from sskd.data.cifar import cifar10_info, cifar100_info, load_cifar10, load_cifar100
from sskd.data.dataset import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    DatasetInfo,
    ImageFolderDataset,
    list_class_folders,
)
from sskd.data.digits import digits_info, load_digits
from sskd.data.stl10 import load_stl10, stl10_info
from sskd.data.svhn import load_svhn, svhn_info
from sskd.errors import UserError

__all__ = ["FOLDER_DATASETS", "load_dataset", "dataset_info", "list_datasets", "UnknownDatasetError",
           "canonical_dataset"]

_ARRAY_LOADERS = {
    "cifar100": (load_cifar100, cifar100_info),
    "cifar10": (load_cifar10, cifar10_info),
    "stl10": (load_stl10, stl10_info),
    "svhn": (load_svhn, svhn_info),
    "digits": (load_digits, digits_info),
}
FOLDER_DATASETS = ("imagenet", "image_folder")
#: Other names accepted for a data set (``--dataset folder`` is an image folder).
DATASET_ALIASES = {"folder": "image_folder"}
_NEEDS_NO_ROOT = ("digits",)
IMAGENET_NUM_CLASSES = 1000


class UnknownDatasetError(KeyError, UserError):
    """No data set of that name; catchable as ``KeyError`` or ``ValueError``."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def list_datasets() -> list[str]:
    """The names ``load_dataset`` accepts, sorted."""
    return sorted([*_ARRAY_LOADERS, *FOLDER_DATASETS])


def canonical_dataset(name: str) -> str:
    """The registered name of data set ``name`` (aliases resolved); unknown names list the valid ones."""
    key = str(name).strip().lower()
    key = DATASET_ALIASES.get(key, key)
    if key not in list_datasets():
        raise UnknownDatasetError(f"unknown data set {name!r}; valid names: {', '.join(list_datasets())}")
    return key


def _folder_split(name: str, split: str) -> str:
    return "val" if name == "imagenet" and split == "test" else split


def load_dataset(name: str, root: str | os.PathLike | None = None, split: str = "train", **kwargs) -> Dataset:
    """Load data set ``name``'s ``split`` from ``root``.

    Array data sets ("cifar100", "cifar10", "stl10", "svhn", "digits") return an
    ``ArrayDataset``; "imagenet" and "image_folder" return an ``ImageFolderDataset`` reading
    ``root/<split>/<class>/<file>`` (``kwargs`` go to it, e.g. ``image_size``). For both,
    when ``root/train`` exists its class folders define the labels and ``num_classes`` of
    every split (as ``dataset_info`` reports them), so a split missing a class folder keeps
    the training labels; without ``root/train`` a split numbers its own class folders. For
    "imagenet", split "test" reads the folder ``val``. "digits" is embedded and ignores ``root``.
    """
    key = canonical_dataset(name)
    if root is None and key not in _NEEDS_NO_ROOT:
        raise ValueError(
            f"data set {key!r} is read from local files: pass root=<folder holding the {key} files>"
        )
    if key in _ARRAY_LOADERS:
        return _ARRAY_LOADERS[key][0](root, split, **kwargs)
    folder_split = _folder_split(key, split)
    train_dir = Path(root) / "train"
    if folder_split != "train" and "classes" not in kwargs and train_dir.is_dir():
        kwargs["classes"] = list_class_folders(train_dir)
    return ImageFolderDataset(root, folder_split, name=key, **kwargs)


def dataset_info(name: str, root: str | os.PathLike | None = None, **kwargs) -> DatasetInfo:
    """``name``'s metadata, without reading image files.

    Folder data sets count their classes from ``root/train`` when ``root`` is given; without
    it "imagenet" reports the 1,000 ILSVRC-2012 classes (no names) and "image_folder" is an
    error. ``image_size`` (default 224), ``mean`` and ``std`` may be passed for folder data sets.
    CIFAR-100 class names are only known once the ``meta`` file is read, so they are empty here.
    """
    key = canonical_dataset(name)
    if key in _ARRAY_LOADERS:
        return _ARRAY_LOADERS[key][1]()
    classes: tuple[str, ...] = ()
    if root is not None:
        classes = tuple(list_class_folders(Path(root) / "train"))
        num_classes = len(classes)
    elif key == "imagenet":
        num_classes = IMAGENET_NUM_CLASSES
    else:
        raise ValueError(
            "dataset_info('image_folder') needs root=<folder with train/<class>/...> to count classes"
        )
    return DatasetInfo(
        key,
        num_classes,
        kwargs.get("image_size", 224),
        tuple(kwargs.get("mean", IMAGENET_MEAN)),
        tuple(kwargs.get("std", IMAGENET_STD)),
        classes,
    )
