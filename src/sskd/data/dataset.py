"""Data-set containers: metadata, in-memory uint8 arrays and an ImageNet-style image folder.

Every data set here yields ``(image, label)`` with ``image`` a uint8 tensor ``[3, S, S]``
(CHW, values 0..255) and ``label`` an int64 scalar tensor. Flips, normalisation and every
other augmentation happen later, on the device, on whole batches.
"""

from __future__ import annotations

import copy
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset
from torchvision.transforms import v2

try:
    from torchvision.io import ImageReadMode, decode_image
except ImportError:  # torchvision's decoders are deprecated since 0.29; PIL then decodes everything
    decode_image = None

__all__ = [
    "DatasetFormatError",
    "DatasetInfo",
    "ArrayDataset",
    "ImageFolderDataset",
    "IMAGE_EXTENSIONS",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "as_index_tensor",
    "image_transform",
    "list_class_folders",
    "read_image_rgb",
]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class DatasetFormatError(ValueError):
    """A data-set file or folder is missing or not in the expected format.

    The message always names the path that was looked for and what was expected there.
    """


@dataclass(frozen=True)
class DatasetInfo:
    """Static description of a data set.

    ``image_size`` is the side of the square uint8 images the data set yields; ``mean`` and
    ``std`` are per-channel (R, G, B) statistics of images scaled to [0, 1], used for the
    normalisation done later on the device.
    """

    name: str
    num_classes: int
    image_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    class_names: tuple[str, ...] = ()


def as_index_tensor(indices, length: int) -> torch.Tensor:
    """Convert ``indices`` (tensor, array or sequence of ints) to int64 ``[K]``, checked against ``length``."""
    idx = torch.as_tensor(np.asarray(indices) if not isinstance(indices, torch.Tensor) else indices)
    if idx.ndim != 1:
        raise ValueError(f"indices must be one-dimensional, got shape {tuple(idx.shape)}")
    if idx.numel() == 0:
        return torch.empty(0, dtype=torch.int64)
    if idx.dtype == torch.bool or idx.is_floating_point() or idx.is_complex():
        raise ValueError(f"indices must be integers, got dtype {idx.dtype}")
    idx = idx.to(device="cpu", dtype=torch.int64)
    low, high = int(idx.min()), int(idx.max())
    if low < 0 or high >= length:
        raise ValueError(f"indices must lie in [0, {length}), got values from {low} to {high}")
    return idx


def _check_labels(labels: torch.Tensor, length: int, num_classes: int, what: str) -> None:
    problems = []
    if not isinstance(labels, torch.Tensor):
        problems.append(f"{what} must be a torch.Tensor, got {type(labels).__name__}")
    else:
        if labels.dtype != torch.int64:
            problems.append(f"{what} must be int64, got {labels.dtype}")
        if labels.ndim != 1:
            problems.append(f"{what} must have shape [N], got {tuple(labels.shape)}")
        elif labels.shape[0] != length:
            problems.append(f"{what} has {labels.shape[0]} entries but there are {length} images")
        if not problems and length > 0:
            low, high = int(labels.min()), int(labels.max())
            if low < 0 or high >= num_classes:
                problems.append(
                    f"{what} must lie in [0, {num_classes}) for num_classes={num_classes}, "
                    f"got values from {low} to {high}"
                )
    if problems:
        raise ValueError("; ".join(problems))


class ArrayDataset(Dataset):
    """Images and labels held in memory.

    ``images``: uint8 ``[N, 3, H, W]``, contiguous, with ``H == W == info.image_size``.
    ``labels``: int64 ``[N]`` with values in ``[0, info.num_classes)``.
    Items are ``(uint8 [3, H, W], int64 scalar)``.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, info: DatasetInfo):
        problems = []
        if not isinstance(info, DatasetInfo):
            problems.append(f"info must be a DatasetInfo, got {type(info).__name__}")
        if not isinstance(images, torch.Tensor):
            problems.append(f"images must be a torch.Tensor, got {type(images).__name__}")
        else:
            if images.dtype != torch.uint8:
                problems.append(f"images must be uint8, got {images.dtype}")
            if images.ndim != 4 or images.shape[1] != 3:
                problems.append(f"images must have shape [N, 3, H, W], got {tuple(images.shape)}")
            elif isinstance(info, DatasetInfo) and tuple(images.shape[2:]) != (info.image_size,) * 2:
                problems.append(
                    f"images are {images.shape[2]}x{images.shape[3]} but info.image_size is {info.image_size}"
                )
        if problems:
            raise ValueError(f"invalid ArrayDataset: {'; '.join(problems)}")
        try:
            _check_labels(labels, images.shape[0], info.num_classes, "labels")
        except ValueError as exc:
            raise ValueError(f"invalid ArrayDataset: {exc}") from None
        self.images = images.contiguous()
        self.labels = labels
        self.info = info

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images[index], self.labels[index]

    def subset(self, indices) -> ArrayDataset:
        """A new data set with the images at ``indices`` (copied, in the order given)."""
        idx = as_index_tensor(indices, len(self)).to(self.images.device)
        return ArrayDataset(self.images[idx].contiguous(), self.labels[idx.to(self.labels.device)], self.info)

    def with_labels(self, new_labels) -> ArrayDataset:
        """A new data set with the same images (shared storage) and a copy of ``new_labels`` (int64 ``[N]``)."""
        labels = torch.as_tensor(new_labels).clone()
        return ArrayDataset(self.images, labels, self.info)

    def __repr__(self) -> str:
        return f"ArrayDataset(name={self.info.name!r}, n={len(self)}, image_size={self.info.image_size})"


def list_class_folders(split_dir: Path) -> list[str]:
    """Sorted names of the sub-folders of ``split_dir`` (one per class)."""
    if not split_dir.is_dir():
        raise DatasetFormatError(
            f"expected an image folder {str(split_dir)!r} containing one sub-folder per class"
        )
    return sorted(entry.name for entry in os.scandir(split_dir) if entry.is_dir())


def _scan_samples(split_dir: Path, classes: Sequence[str]) -> list[tuple[str, int]]:
    on_disk = list_class_folders(split_dir)
    unknown = sorted(set(on_disk) - set(classes))
    if unknown:
        raise DatasetFormatError(
            f"{str(split_dir)!r} has class folders not in the given class list: {unknown[:5]}"
        )
    samples = []
    for label, name in enumerate(classes):
        class_dir = split_dir / name
        if not class_dir.is_dir():
            continue
        files = sorted(
            entry.name
            for entry in os.scandir(class_dir)
            if entry.is_file() and entry.name.lower().endswith(IMAGE_EXTENSIONS)
        )
        samples.extend((str(class_dir / f), label) for f in files)
    if not samples:
        raise DatasetFormatError(
            f"expected image files ({', '.join(IMAGE_EXTENSIONS)}) in the class folders of "
            f"{str(split_dir)!r} (layout <root>/<split>/<class_name>/<image>), found none"
        )
    return samples


def read_image_rgb(path: str) -> torch.Tensor:
    """Decode an image file to uint8 ``[3, H, W]`` RGB.

    torchvision's decoder is tried first; PIL reads what it cannot (e.g. BMP).
    """
    if decode_image is not None:
        data = torch.from_numpy(np.fromfile(path, dtype=np.uint8))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                return decode_image(data, mode=ImageReadMode.RGB)
        except RuntimeError:
            pass
    from PIL import Image

    try:
        with Image.open(path) as img:
            array = np.asarray(img.convert("RGB"))
    except OSError as exc:
        raise DatasetFormatError(f"cannot decode image file {path!r}: {exc}") from exc
    return torch.from_numpy(array.copy()).permute(2, 0, 1).contiguous()


def image_transform(image_size: int, train: bool) -> v2.Transform:
    """uint8 ``[3, H, W]`` -> uint8 ``[3, S, S]``.

    Training: ``RandomResizedCrop(S)``; testing: ``Resize(int(S * 256 / 224))`` then ``CenterCrop(S)``.
    """
    if train:
        return v2.RandomResizedCrop(image_size, antialias=True)
    return v2.Compose([v2.Resize(int(image_size * 256 / 224), antialias=True), v2.CenterCrop(image_size)])


class ImageFolderDataset(Dataset):
    """Images read from ``root/<split>/<class_name>/<file>`` (the ImageNet layout).

    Classes are the sorted sub-folder names of ``root/<split>`` unless ``classes`` is given
    (then labels follow that list, so e.g. a validation split with a missing class folder
    still uses the training labels). Files (``.jpg .jpeg .png .bmp .webp``, any case) are
    sorted within each class. Items are ``(uint8 [3, S, S], int64 scalar)`` with
    ``S = image_size``; ``train=None`` means ``split == "train"``.

    Attributes: ``samples`` (list of ``(path, label)``), ``labels`` (int64 ``[N]``), ``info``.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        split: str = "train",
        image_size: int = 224,
        *,
        train: bool | None = None,
        classes: Sequence[str] | None = None,
        name: str = "image_folder",
        mean: tuple[float, float, float] = IMAGENET_MEAN,
        std: tuple[float, float, float] = IMAGENET_STD,
    ):
        if image_size <= 0:
            raise ValueError(f"image_size must be positive, got {image_size}")
        split_dir = Path(root) / split
        classes = tuple(classes) if classes is not None else tuple(list_class_folders(split_dir))
        self.samples = _scan_samples(split_dir, classes)
        self.labels = torch.tensor([label for _, label in self.samples], dtype=torch.int64)
        self.info = DatasetInfo(name, len(classes), image_size, tuple(mean), tuple(std), classes)
        self.split = split
        self.train = split == "train" if train is None else train
        self.transform = image_transform(image_size, self.train)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = self.transform(read_image_rgb(self.samples[index][0]))
        return image.contiguous(), self.labels[index]

    def subset(self, indices) -> ImageFolderDataset:
        """A new data set with the samples at ``indices`` (in the order given)."""
        idx = as_index_tensor(indices, len(self)).tolist()
        new = copy.copy(self)
        new.samples = [self.samples[i] for i in idx]
        new.labels = self.labels[idx].clone() if idx else torch.empty(0, dtype=torch.int64)
        return new

    def with_labels(self, new_labels) -> ImageFolderDataset:
        """A new data set with the same files and labels ``new_labels`` (int64 ``[N]``)."""
        labels = torch.as_tensor(new_labels).clone()
        _check_labels(labels, len(self), self.info.num_classes, "new_labels")
        new = copy.copy(self)
        new.labels = labels
        new.samples = [(path, int(label)) for (path, _), label in zip(self.samples, labels.tolist())]
        return new

    def __repr__(self) -> str:
        return (
            f"ImageFolderDataset(name={self.info.name!r}, split={self.split!r}, n={len(self)}, "
            f"num_classes={self.info.num_classes}, image_size={self.info.image_size}, train={self.train})"
        )
