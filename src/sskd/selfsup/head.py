"""Heads on the pooled embedding (SSKD, Xu et al., ECCV 2020, Sec. 3.1; SSKD.md §2.2)."""

from __future__ import annotations

from torch import nn


class ProjectionHead(nn.Sequential):
    """``Linear(D, D) → ReLU → Linear(D, D)`` on the pooled embedding ``[N, D] → [N, D]``.

    No batch norm and no normalisation: the cosine similarity normalises. Module names
    ``0`` and ``2`` match the released code's ``proj_head.0`` / ``proj_head.2``.
    """

    def __init__(self, dim: int):
        super().__init__(nn.Linear(dim, dim), nn.ReLU(inplace=True), nn.Linear(dim, dim))


class PredictionHead(nn.Sequential):
    """``Linear(D, D) → ReLU → Linear(D, K)``: the projection head's shape with ``K``
    pretext classes as outputs, ``[N, D] → [N, K]`` (rotation and jigsaw tasks)."""

    def __init__(self, dim: int, num_classes: int):
        super().__init__(nn.Linear(dim, dim), nn.ReLU(inplace=True), nn.Linear(dim, num_classes))
