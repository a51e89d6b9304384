"""Data-set containers: metadata, in-memory uint8 arrays and an ImageNet-style image folder.

Every data set here yields ``(image, label)`` with ``image`` a uint8 tensor ``[3, S, S]``
(CHW, values 0..255) and ``label`` an int64 scalar tensor. Flips, normalisation and every
other augmentation happen later, on the device, on whole batches.
"""

from __future__ import annotations

import copy
import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset
from torchvision.transforms import v2

from sskd.errors import UserError

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
    "check_labels",
    "image_transform",
    "item_seed",
    "list_class_folders",
    "random_resized_crop_params",
    "read_image_rgb",
    "require_folder",
]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class DatasetFormatError(UserError):
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


def check_labels(
    labels,
    what: str = "labels",
    *,
    length: int | None = None,
    num_classes: int | None = None,
    require_int64: bool = False,
) -> torch.Tensor:
    """Check a label tensor and return it as int64 ``[N]`` on the CPU.

    ``labels`` must be a one-dimensional integer tensor (exactly int64 when
    ``require_int64``), with ``length`` entries and values in ``[0, num_classes)`` when
    those are given. Every problem found is reported in one ``ValueError`` naming ``what``.
    """
    if not isinstance(labels, torch.Tensor):
        raise ValueError(f"{what} must be an integer tensor [N], got {type(labels).__name__}")
    problems = []
    if require_int64:
        if labels.dtype != torch.int64:
            problems.append(f"{what} must be int64, got {labels.dtype}")
    elif labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        problems.append(f"{what} must be an integer tensor [N], got {labels.dtype} {tuple(labels.shape)}")
    if labels.ndim != 1:
        problems.append(f"{what} must have shape [N], got {tuple(labels.shape)}")
    elif length is not None and labels.shape[0] != length:
        problems.append(f"{what} has {labels.shape[0]} entries but there are {length} images")
    if not problems and num_classes is not None and labels.numel() > 0:
        low, high = int(labels.min()), int(labels.max())
        if low < 0 or high >= num_classes:
            problems.append(
                f"{what} must lie in [0, {num_classes}) for num_classes={num_classes}, "
                f"got values from {low} to {high}"
            )
    if problems:
        raise ValueError("; ".join(problems))
    return labels.to(device="cpu", dtype=torch.int64)


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
            check_labels(labels, length=images.shape[0], num_classes=info.num_classes, require_int64=True)
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


def require_folder(root: str | os.PathLike, expected: str) -> Path:
    """``root`` as a ``Path``; a :class:`DatasetFormatError` saying what was ``expected`` in
    it if it does not exist or is not a folder."""
    root = Path(root)
    if not root.exists():
        raise DatasetFormatError(f"data root {str(root)!r} does not exist; expected a folder holding {expected}")
    if not root.is_dir():
        raise DatasetFormatError(f"data root {str(root)!r} is a file, not a folder; expected a folder holding "
                                 f"{expected}")
    return root


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

    torchvision's decoder is tried first; PIL reads what it cannot (e.g. BMP). Deeper images
    (e.g. 16-bit PNGs, which torchvision decodes to uint16) are rescaled to 0..255.
    """
    if decode_image is not None:
        data = torch.from_numpy(np.fromfile(path, dtype=np.uint8))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                image = decode_image(data, mode=ImageReadMode.RGB)
        except RuntimeError:
            pass
        else:
            if image.dtype != torch.uint8:
                image = v2.functional.to_dtype(image, torch.uint8, scale=True)
            return image
    from PIL import Image

    try:
        with Image.open(path) as img:
            array = np.asarray(img.convert("RGB"))
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise DatasetFormatError(f"cannot decode image file {path!r} ({' '.join(str(exc).split())}): expected "
                                 f"a complete {', '.join(IMAGE_EXTENSIONS)} image; replace or remove "
                                 f"the file") from exc
    return torch.from_numpy(array.copy()).permute(2, 0, 1).contiguous()


def item_seed(seed: int, index: int) -> int:
    """A 63-bit seed for item ``index`` of an epoch whose crop seed is ``seed``."""
    state = np.random.SeedSequence([seed, index]).generate_state(1, dtype=np.uint64)[0]
    return int(state) >> 1


def random_resized_crop_params(
    height: int,
    width: int,
    scale: Sequence[float],
    ratio: Sequence[float],
    generator: torch.Generator | None = None,
) -> dict[str, int]:
    """``RandomResizedCrop``'s crop box (``top, left, height, width``), drawn from ``generator``.

    The same draws, in the same order, as torchvision's ``v2.RandomResizedCrop``; with
    ``generator=None`` they come from torch's global generator.
    """
    area = height * width
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target_area = area * torch.empty(1).uniform_(scale[0], scale[1], generator=generator).item()
        aspect = math.exp(torch.empty(1).uniform_(log_ratio[0], log_ratio[1], generator=generator).item())
        w = int(round(math.sqrt(target_area * aspect)))
        h = int(round(math.sqrt(target_area / aspect)))
        if 0 < w <= width and 0 < h <= height:
            top = int(torch.randint(0, height - h + 1, size=(1,), generator=generator).item())
            left = int(torch.randint(0, width - w + 1, size=(1,), generator=generator).item())
            return dict(top=top, left=left, height=h, width=w)
    in_ratio = width / height
    if in_ratio < min(ratio):
        w, h = width, int(round(width / min(ratio)))
    elif in_ratio > max(ratio):
        w, h = int(round(height * max(ratio))), height
    else:
        w, h = width, height
    return dict(top=(height - h) // 2, left=(width - w) // 2, height=h, width=w)


def eval_resize(image_size: int) -> int:
    """The shorter side an image is resized to before its centre ``image_size`` crop at test
    time (the ImageNet convention, 256 for 224)."""
    return int(image_size * 256 / 224)


def image_transform(image_size: int, train: bool) -> v2.Transform:
    """uint8 ``[3, H, W]`` -> uint8 ``[3, S, S]``.

    Training: ``RandomResizedCrop(S)``; testing: ``Resize(eval_resize(S))`` then ``CenterCrop(S)``.
    """
    if train:
        return v2.RandomResizedCrop(image_size, antialias=True)
    return v2.Compose([v2.Resize(eval_resize(image_size), antialias=True), v2.CenterCrop(image_size)])


class ImageFolderDataset(Dataset):
    """Images read from ``root/<split>/<class_name>/<file>`` (the ImageNet layout).

    Classes are the sorted sub-folder names of ``root/<split>`` unless ``classes`` is given
    (then labels follow that list, so e.g. a validation split with a missing class folder
    still uses the training labels). Files (``.jpg .jpeg .png .bmp .webp``, any case) are
    sorted within each class. Items are ``(uint8 [3, S, S], int64 scalar)`` with
    ``S = image_size``; ``train=None`` means ``split == "train"``.

    Training crops: with ``crop_seed=None`` (the default) ``RandomResizedCrop`` draws from
    torch's global generator. With an integer ``crop_seed`` the crop of item ``i`` is drawn
    from a generator seeded with ``item_seed(crop_seed, i)``, so it depends only on
    ``(crop_seed, i)``: not on worker processes, batch composition or earlier draws.
    ``make_loader`` sets it from ``(seed, epoch)`` on its own copy of the data set.

    Attributes: ``samples`` (list of ``(path, label)``), ``labels`` (int64 ``[N]``), ``info``,
    ``crop_seed``.
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
        crop_seed: int | None = None,
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
        self.crop_seed = crop_seed

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = read_image_rgb(self.samples[index][0])
        crop = self.transform
        if self.crop_seed is not None and isinstance(crop, v2.RandomResizedCrop):
            generator = torch.Generator().manual_seed(item_seed(self.crop_seed, int(index)))
            params = random_resized_crop_params(image.shape[-2], image.shape[-1], crop.scale, crop.ratio, generator)
            image = v2.functional.resized_crop(
                image, **params, size=list(crop.size), interpolation=crop.interpolation, antialias=crop.antialias
            )
        else:
            image = crop(image)
        return image.contiguous(), self.labels[index]

    def for_evaluation(self) -> ImageFolderDataset:
        """A shallow copy that uses the test-time transform (resize + centre crop)."""
        new = copy.copy(self)
        new.train = False
        new.transform = image_transform(self.info.image_size, False)
        return new

    def with_crop_seed(self, crop_seed: int | None) -> ImageFolderDataset:
        """A shallow copy (same files and labels) whose training crops use ``crop_seed``."""
        new = copy.copy(self)
        new.crop_seed = crop_seed
        return new

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
        check_labels(
            labels, "new_labels", length=len(self), num_classes=self.info.num_classes, require_int64=True
        )
        new = copy.copy(self)
        new.labels = labels
        new.samples = [(path, int(label)) for (path, _), label in zip(self.samples, labels.tolist())]
        return new

    def __repr__(self) -> str:
        return (
            f"ImageFolderDataset(name={self.info.name!r}, split={self.split!r}, n={len(self)}, "
            f"num_classes={self.info.num_classes}, image_size={self.info.image_size}, train={self.train})"
        )
