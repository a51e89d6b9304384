"""Epoch statistics accumulated on the device, read back once at the end of an epoch."""

from __future__ import annotations

import torch
from torch import Tensor

from sskd.engine.distributed import DistInfo, all_reduce_sum


class DeviceMeter:
    """Sums of per-sample quantities over an epoch, kept on the device.

    ``add(name, value, weight)`` adds ``value · weight`` (a batch mean times the batch
    size, or a count times 100 for a percentage); :meth:`means` syncs once, sums over
    ranks, and returns each total divided by the total count, plus that count as ``"n"``.
    """

    def __init__(self, device: torch.device):
        self.device = device
        self.dtype = torch.float32 if device.type == "mps" else torch.float64
        self.sums: dict[str, Tensor] = {}
        self.count = torch.zeros((), dtype=self.dtype, device=device)

    def add_count(self, n: int | Tensor) -> None:
        self.count += n

    def add(self, name: str, value: Tensor, weight: int | Tensor) -> None:
        total = value.detach().to(self.dtype) * weight
        if name in self.sums:
            self.sums[name] += total
        else:
            self.sums[name] = total.clone()

    def means(self, info: DistInfo) -> dict[str, float]:
        names = sorted(self.sums)
        packed = torch.stack([self.sums[n] for n in names] + [self.count])
        all_reduce_sum(packed, info)
        values = packed.tolist()
        count = values[-1]
        means = {n: (v / count if count else float("nan")) for n, v in zip(names, values[:-1])}
        return {**means, "n": count}


def topk_correct(logits: Tensor, labels: Tensor, ks: tuple[int, ...] = (1, 5)) -> list[Tensor]:
    """Number of rows whose label is among the top-k scores, for each k (device tensors)."""
    kmax = min(max(ks), logits.shape[1])
    top = logits.topk(kmax, dim=1).indices
    hits = top == labels.unsqueeze(1)
    return [hits[:, : min(k, kmax)].any(dim=1).sum() for k in ks]
