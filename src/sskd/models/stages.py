"""Stage views: the pieces of a network that produce ``ModelOutput.feats``.

A zoo network keeps the module names of the original code (so checkpoints of the
original repositories load as they are) and describes its depth structure separately
as a list of stages: ``feats[i] = stages[i](feats[i - 1])``, ``feats[-1] → head → pooled``.
Stages are plain objects holding references to registered modules; they own no
parameters, so they add nothing to ``state_dict``. HSSAKD builds its auxiliary
branches from them.
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence

import torch.nn.functional as F
from torch import Tensor, nn

Activation = Optional[Callable[[Tensor], Tensor]]


class Stage:
    """One step of the feature hierarchy: ``[N, C_in, H, W] → [N, C_out, H', W']``."""

    out_channels: int

    def modules(self) -> list[nn.Module]:
        """The registered modules this stage runs, in order (parameters live there)."""
        raise NotImplementedError

    def forward_with_preact(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Return ``(output, output before the stage's final activation)``."""
        raise NotImplementedError

    def __call__(self, x: Tensor) -> Tensor:
        """The output alone; stages whose pre-activation costs extra work skip it here."""
        return self.forward_with_preact(x)[0]


class SequentialStage(Stage):
    """Runs ``layers`` in order, then an optional activation (e.g. a stem or a VGG block)."""

    def __init__(self, layers: Sequence[Callable[[Tensor], Tensor]], out_channels: int,
                 activation: Activation = None):
        self.layers = list(layers)
        self.out_channels = out_channels
        self.activation = activation

    def modules(self) -> list[nn.Module]:
        return [m for m in self.layers if isinstance(m, nn.Module)]

    def forward_with_preact(self, x: Tensor) -> tuple[Tensor, Tensor]:
        for layer in self.layers:
            x = layer(x)
        return (self.activation(x) if self.activation is not None else x), x


class BlockStage(Stage):
    """A sequence of residual blocks whose last block reports its own pre-activation.

    Every block must provide ``forward_with_preact(x) -> (out, preact)``.
    """

    def __init__(self, layer: nn.Sequential, out_channels: int):
        self.layer = layer
        self.out_channels = out_channels

    def modules(self) -> list[nn.Module]:
        return [self.layer]

    def forward_with_preact(self, x: Tensor) -> tuple[Tensor, Tensor]:
        blocks = list(self.layer)
        for block in blocks[:-1]:
            x = block(x)
        return blocks[-1].forward_with_preact(x)

    def __call__(self, x: Tensor) -> Tensor:
        return self.layer(x)


class NormalizedPreactStage(Stage):
    """A stage of pre-activation blocks (WRN): its output is the raw residual sum.

    Its pre-activation, as in RepDistiller, is that sum passed through the batch norm
    that the *next* block applies first. The norm is applied functionally, so that its
    running statistics are not updated a second time in training mode.
    """

    def __init__(self, layer: nn.Module, next_norm: nn.BatchNorm2d, out_channels: int):
        self.layer = layer
        self.next_norm = next_norm
        self.out_channels = out_channels

    def modules(self) -> list[nn.Module]:
        return [self.layer]

    def forward_with_preact(self, x: Tensor) -> tuple[Tensor, Tensor]:
        out = self.layer(x)
        bn = self.next_norm
        use_batch_stats = bn.training or bn.running_mean is None
        pre = F.batch_norm(
            out,
            None if use_batch_stats else bn.running_mean,
            None if use_batch_stats else bn.running_var,
            bn.weight, bn.bias, use_batch_stats, 0.0, bn.eps,
        )
        return out, pre

    def __call__(self, x: Tensor) -> Tensor:
        return self.layer(x)


class PoolHead:
    """``[N, C, H, W] → [N, D]``: optional layers, then global average pooling.

    ``adaptive`` picks ``adaptive_avg_pool2d`` over a full-size ``avg_pool2d`` window:
    the two round differently in the last bit, and each original network used one.
    """

    def __init__(self, layers: Sequence[Callable[[Tensor], Tensor]] = (), adaptive: bool = False):
        self.layers = list(layers)
        self.adaptive = adaptive

    def modules(self) -> list[nn.Module]:
        return [m for m in self.layers if isinstance(m, nn.Module)]

    def __call__(self, x: Tensor) -> Tensor:
        for layer in self.layers:
            x = layer(x)
        if self.adaptive:
            return F.adaptive_avg_pool2d(x, 1).flatten(1)
        return F.avg_pool2d(x, x.shape[-2:]).flatten(1)
