"""STL-10 from the official binary files in ``stl10_binary/``.

``<split>_X.bin`` is raw uint8, 27,648 bytes per image: 3 channels of 96x96 stored
column-major, so each channel is read as ``[w, h]`` and transposed. ``<split>_y.bin`` holds
one uint8 label 1..10 per image, shifted here to 0..9. The 100,000-image ``unlabeled`` split
is not read (it has no labels, and the linear-probe protocol uses train/test only).

Mean and std are (0.5, 0.5, 0.5): the HSAKD linear-probe protocol normalises STL-10 images
to [-1, 1] rather than using the data set's own statistics.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from sskd.data.dataset import ArrayDataset, DatasetFormatError, DatasetInfo, require_folder

__all__ = ["load_stl10", "stl10_info", "STL10_CLASSES", "STL10_IMAGE_BYTES"]

FOLDER = "stl10_binary"
STL10_IMAGE_BYTES = 3 * 96 * 96
STL10_CLASSES = ("airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck")
_SPLITS = ("train", "test")
_MEAN = (0.5, 0.5, 0.5)
_STD = (0.5, 0.5, 0.5)


def stl10_info() -> DatasetInfo:
    """STL-10 metadata without reading files."""
    return DatasetInfo("stl10", 10, 96, _MEAN, _STD, STL10_CLASSES)


def _folder(root: Path) -> Path:
    require_folder(root, f"the STL-10 folder {FOLDER!r}")
    for candidate in (root / FOLDER, root):
        if (candidate / "class_names.txt").is_file():
            return candidate
    for candidate in (root / FOLDER, root):
        if candidate.name == FOLDER and candidate.is_dir():
            return candidate
    raise DatasetFormatError(
        f"expected the STL-10 folder {FOLDER!r} (files train_X.bin, train_y.bin, test_X.bin, "
        f"test_y.bin, class_names.txt) under {str(root)!r}"
    )


def _require(path: Path) -> Path:
    if not path.is_file():
        raise DatasetFormatError(
            f"missing STL-10 file {str(path)!r} (expected the {FOLDER} files from stl10_binary.tar.gz)"
        )
    return path


def _read_class_names(path: Path) -> tuple[str, ...]:
    names = tuple(line.strip() for line in _require(path).read_text().splitlines() if line.strip())
    if len(names) != 10:
        raise DatasetFormatError(f"{str(path)!r} should list 10 class names, one per line; found {len(names)}")
    return names


def load_stl10(root: str | os.PathLike, split: str = "train") -> ArrayDataset:
    """STL-10 ``split`` ("train": 5,000, "test": 8,000).

    Images uint8 ``[N, 3, 96, 96]`` (rows = height), labels int64 ``[N]`` in 0..9.
    """
    if split not in _SPLITS:
        raise ValueError(f"STL-10 split must be one of {list(_SPLITS)}, got {split!r}")
    folder = _folder(Path(root))
    x_path, y_path = _require(folder / f"{split}_X.bin"), _require(folder / f"{split}_y.bin")
    names = _read_class_names(folder / "class_names.txt")

    x_bytes, n_labels = x_path.stat().st_size, y_path.stat().st_size
    if x_bytes % STL10_IMAGE_BYTES:
        raise DatasetFormatError(
            f"{str(x_path)!r} has {x_bytes} bytes, not a multiple of {STL10_IMAGE_BYTES} "
            "(one 3x96x96 uint8 image)"
        )
    if x_bytes // STL10_IMAGE_BYTES != n_labels:
        raise DatasetFormatError(
            f"{str(x_path)!r} holds {x_bytes // STL10_IMAGE_BYTES} images "
            f"but {str(y_path)!r} holds {n_labels} labels"
        )
    labels = np.fromfile(y_path, dtype=np.uint8).astype(np.int64)
    if labels.size and (labels.min() < 1 or labels.max() > 10):
        raise DatasetFormatError(
            f"{str(y_path)!r}: labels must lie in 1..10, got {labels.min()}..{labels.max()}"
        )
    images = np.fromfile(x_path, dtype=np.uint8).reshape(-1, 3, 96, 96).transpose(0, 1, 3, 2)
    info = DatasetInfo("stl10", 10, 96, _MEAN, _STD, names)
    return ArrayDataset(torch.from_numpy(np.ascontiguousarray(images)), torch.from_numpy(labels - 1), info)
