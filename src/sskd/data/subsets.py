"""Few-shot subsets and symmetric label noise for training sets.

These only ever build new training sets; test sets are never subsampled or relabelled.
Counts use half-up rounding, ``round_half_up(x) = floor(x + 0.5)`` (so 12.5 -> 13), not
Python's round-half-to-even. Both are reproducible for a seed (``torch.Generator``).
"""

from __future__ import annotations

import math

import torch

from sskd.data.dataset import check_labels

__all__ = [
    "round_half_up",
    "class_balanced_subset",
    "symmetric_label_noise",
    "few_shot",
    "with_label_noise",
]


def round_half_up(x: float) -> int:
    """``floor(x + 0.5)``: the count convention used for subsets and label noise."""
    return math.floor(x + 0.5)


def class_balanced_subset(labels: torch.Tensor, fraction: float, seed: int) -> torch.Tensor:
    """Indices (int64 ``[K]``, ascending) keeping ``round_half_up(fraction * n_c)`` samples of every class.

    ``labels``: integer ``[N]``. Each class with ``n_c > 0`` samples keeps at least one.
    ``0 < fraction <= 1``. The kept samples of each class are chosen uniformly at random
    with ``torch.Generator().manual_seed(seed)``.
    """
    if not (0 < fraction <= 1):
        raise ValueError(f"fraction must satisfy 0 < fraction <= 1, got {fraction!r}")
    labels = check_labels(labels)
    n = labels.numel()
    if n == 0:
        return torch.empty(0, dtype=torch.int64)
    generator = torch.Generator().manual_seed(seed)
    perm = torch.randperm(n, generator=generator)
    order = perm[torch.sort(labels[perm], stable=True).indices]
    grouped = labels[order]
    classes, counts = torch.unique_consecutive(grouped, return_counts=True)
    keep_per_class = torch.tensor(
        [max(1, round_half_up(fraction * c)) for c in counts.tolist()], dtype=torch.int64
    )
    starts = torch.cumsum(counts, 0) - counts
    rank_in_class = torch.arange(n) - torch.repeat_interleave(starts, counts)
    keep = rank_in_class < torch.repeat_interleave(keep_per_class, counts)
    return torch.sort(order[keep]).values


def symmetric_label_noise(
    labels: torch.Tensor, fraction: float, num_classes: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Flip exactly ``round_half_up(fraction * N)`` labels to a different class.

    The flipped samples are a uniformly random subset; each gets a label drawn uniformly
    from the ``num_classes - 1`` classes other than its own, so the realised noise rate is
    exactly the fraction (up to rounding), unlike the convention that may redraw the true
    class. Returns ``(noisy_labels int64 [N], flipped_mask bool [N])``; ``labels`` is not modified.
    """
    if not (0 <= fraction <= 1):
        raise ValueError(f"fraction must satisfy 0 <= fraction <= 1, got {fraction!r}")
    labels = check_labels(labels, num_classes=num_classes)
    n = labels.numel()
    num_flipped = round_half_up(fraction * n)
    if num_flipped and num_classes < 2:
        raise ValueError(f"label noise needs num_classes >= 2, got {num_classes}")
    generator = torch.Generator().manual_seed(seed)
    chosen = torch.randperm(n, generator=generator)[:num_flipped]
    offsets = torch.randint(1, max(num_classes, 2), (num_flipped,), generator=generator)
    noisy = labels.clone()
    noisy[chosen] = (labels[chosen] + offsets) % num_classes
    flipped = torch.zeros(n, dtype=torch.bool)
    flipped[chosen] = True
    return noisy, flipped


def few_shot(dataset, fraction: float, seed: int):
    """A class-balanced ``fraction`` of a training set (ArrayDataset or ImageFolderDataset) via ``subset``."""
    return dataset.subset(class_balanced_subset(dataset.labels, fraction, seed))


def with_label_noise(dataset, fraction: float, seed: int):
    """A training set with symmetric label noise at ``fraction`` (via ``with_labels``); the original is kept."""
    noisy, _ = symmetric_label_noise(dataset.labels, fraction, dataset.info.num_classes, seed)
    return dataset.with_labels(noisy)
