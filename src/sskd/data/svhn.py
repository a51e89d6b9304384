"""SVHN (cropped digits) from the official MATLAB files ``<split>_32x32.mat`` directly under ``root``.

Each file holds ``X``: uint8 ``(32, 32, 3, N)`` (height, width, channel, image) and ``y``:
``(N, 1)`` with the digit 0 stored as 10; labels are returned as 0..9.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import scipy.io
import torch

from sskd.data.dataset import ArrayDataset, DatasetFormatError, DatasetInfo, require_folder

__all__ = ["load_svhn", "svhn_info", "SVHN_CLASSES"]

SVHN_CLASSES = tuple(str(d) for d in range(10))
_SPLITS = ("train", "test", "extra")
_MEAN = (0.4377, 0.4438, 0.4728)
_STD = (0.1980, 0.2010, 0.1970)


def svhn_info() -> DatasetInfo:
    """SVHN metadata without reading files."""
    return DatasetInfo("svhn", 10, 32, _MEAN, _STD, SVHN_CLASSES)


def load_svhn(root: str | os.PathLike, split: str = "train") -> ArrayDataset:
    """SVHN ``split`` ("train": 73,257, "test": 26,032, "extra": 531,131).

    Images uint8 ``[N, 3, 32, 32]``, labels int64 ``[N]`` in 0..9.
    """
    if split not in _SPLITS:
        raise ValueError(f"SVHN split must be one of {list(_SPLITS)}, got {split!r}")
    path = require_folder(root, f"the official SVHN file {split}_32x32.mat") / f"{split}_32x32.mat"
    if not path.is_file():
        raise DatasetFormatError(
            f"missing SVHN file {str(path)!r} (expected the official {path.name} directly under the root)"
        )
    try:
        mat = scipy.io.loadmat(path)
    except Exception as exc:
        raise DatasetFormatError(
            f"cannot read {str(path)!r} as a MATLAB file ({type(exc).__name__}: {exc})"
        ) from exc
    missing = [key for key in ("X", "y") if key not in mat]
    if missing:
        raise DatasetFormatError(f"{str(path)!r} has no variable(s) {missing}; expected 'X' and 'y'")
    x, y = mat["X"], mat["y"]
    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[:3] != (32, 32, 3):
        raise DatasetFormatError(f"{str(path)!r}: 'X' should be uint8 (32, 32, 3, N), got {x.dtype} {x.shape}")
    labels = np.asarray(y).reshape(-1).astype(np.int64)
    if labels.shape[0] != x.shape[3]:
        raise DatasetFormatError(
            f"{str(path)!r}: 'X' has {x.shape[3]} images but 'y' has {labels.shape[0]} labels"
        )
    if labels.size and (labels.min() < 1 or labels.max() > 10):
        raise DatasetFormatError(f"{str(path)!r}: 'y' must lie in 1..10, got {labels.min()}..{labels.max()}")
    labels[labels == 10] = 0
    images = np.ascontiguousarray(x.transpose(3, 2, 0, 1))
    return ArrayDataset(torch.from_numpy(images), torch.from_numpy(labels), svhn_info())
