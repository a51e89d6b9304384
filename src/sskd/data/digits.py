"""The embedded scikit-learn digits data set (1,797 real 8x8 handwritten digits), needing no files.

Pixels (0..16) are scaled to uint8 with ``round(v * 255 / 16)``, upsampled to 32x32 with
bilinear interpolation (``align_corners=False``), rounded, and replicated to 3 channels.
The train/test split is fixed: stratified by class, 25 % test, ``random_state=0``, giving
1,347 training and 450 test images; indices within each split are in ascending order.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

from sskd.data.dataset import ArrayDataset, DatasetInfo

__all__ = [
    "load_digits",
    "digits_info",
    "digits_arrays",
    "DIGITS_SPLIT_SEED",
    "DIGITS_TEST_FRACTION",
    "DIGITS_MEAN",
    "DIGITS_STD",
]

DIGITS_SPLIT_SEED = 0
DIGITS_TEST_FRACTION = 0.25
DIGITS_IMAGE_SIZE = 32
# Per-channel mean and population std of the training split's images scaled to [0, 1];
# the three channels are identical copies.
DIGITS_MEAN = (0.3053, 0.3053, 0.3053)
DIGITS_STD = (0.3234, 0.3234, 0.3234)
_SPLITS = ("train", "test")


def digits_info() -> DatasetInfo:
    """Digits metadata (10 classes "0".."9", 32x32)."""
    return DatasetInfo(
        "digits", 10, DIGITS_IMAGE_SIZE, DIGITS_MEAN, DIGITS_STD, tuple(str(d) for d in range(10))
    )


@lru_cache(maxsize=1)
def _prepared() -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    from sklearn.datasets import load_digits as sk_load_digits
    from sklearn.model_selection import train_test_split

    bunch = sk_load_digits()
    pixels = np.rint(bunch.data * 255.0 / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    upsampled = F.interpolate(
        torch.from_numpy(pixels), size=(DIGITS_IMAGE_SIZE,) * 2, mode="bilinear", align_corners=False
    )
    images = upsampled.round().clamp(0, 255).to(torch.uint8).expand(-1, 3, -1, -1).contiguous()
    labels = torch.from_numpy(bunch.target.astype(np.int64))
    train_idx, test_idx = train_test_split(
        np.arange(len(labels)),
        test_size=DIGITS_TEST_FRACTION,
        stratify=bunch.target,
        random_state=DIGITS_SPLIT_SEED,
    )
    splits = {"train": torch.from_numpy(np.sort(train_idx)), "test": torch.from_numpy(np.sort(test_idx))}
    return images, labels, splits


def digits_arrays(split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Fresh copies of ``split``'s images uint8 ``[N, 3, 32, 32]`` and labels int64 ``[N]``."""
    if split not in _SPLITS:
        raise ValueError(f"digits split must be one of {list(_SPLITS)}, got {split!r}")
    images, labels, splits = _prepared()
    idx = splits[split]
    return images[idx].contiguous(), labels[idx].clone()


def load_digits(root=None, split: str = "train") -> ArrayDataset:
    """Digits ``split`` ("train": 1,347, "test": 450) as uint8 ``[N, 3, 32, 32]``; ``root`` is ignored."""
    images, labels = digits_arrays(split)
    return ArrayDataset(images, labels, digits_info())
