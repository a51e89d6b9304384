"""SSKD's selective transfer (Xu et al., ECCV 2020, Sec. 3.3; SSKD.md §3.4): keep every
row the teacher gets right, plus the ``floor(k · #wrong)`` wrong rows whose ground truth
the teacher ranks highest. Computed on the device, without host synchronisation."""

from __future__ import annotations

import torch
from torch import Tensor


def error_rank(scores: Tensor, targets: Tensor) -> Tensor:
    """Rank of the ground truth in each row: the number of entries scoring strictly higher.

    ``scores [M, C]``, ``targets [M]`` → int64 ``[M]``; 0 means the top-1 is correct. Ties
    with the ground truth do not count against it (the original code broke them by an
    unspecified sort order). Monotone transforms (softmax, temperature) leave it unchanged.
    """
    target_scores = scores.gather(1, targets.view(-1, 1))
    return (scores > target_scores).sum(dim=1)


def selective_mask(rank: Tensor, keep_ratio: float) -> Tensor:
    """Bool ``[M]``: all rows with ``rank == 0`` and the ``floor(keep_ratio · W)`` wrong rows
    of smallest rank (``W`` = number of wrong rows); ties at the cut go to the lower index.

    ``keep_ratio`` 1 keeps every row, 0 only the correct ones.
    """
    if not 0.0 <= keep_ratio <= 1.0:
        raise ValueError(f"keep_ratio must be in [0, 1], got {keep_ratio}")
    m = rank.numel()
    wrong = (rank > 0).sum()
    n_keep = (m - wrong) + torch.floor(wrong.to(torch.float64) * keep_ratio).to(torch.int64)
    order = torch.sort(rank, stable=True).indices
    keep_sorted = torch.arange(m, device=rank.device) < n_keep
    return torch.zeros(m, dtype=torch.bool, device=rank.device).scatter(0, order, keep_sorted)
