"""A stage's optimiser and its learning rate, a pure function of the epoch.

The lr is set once at the start of every epoch (never stepped by a scheduler object), so
that a run resumed from the checkpoint of epoch ``e`` trains epoch ``e`` with exactly the
lr an uninterrupted run would use; the checkpoint holds only the optimiser's own state.
"""

from __future__ import annotations

import math
from typing import Iterable

import torch
from torch import nn

from sskd.config import StageConfig


def stage_lr(stage: StageConfig, epoch: int) -> float:
    """Learning rate of 0-based ``epoch`` of a stage of E epochs with W warm-up epochs.

    * warm-up, ``epoch < W``: ``lr·(epoch+1)/(W+1)``, a linear ramp (Goyal et al., 2017,
      per epoch) that would reach ``lr`` at epoch W, where the schedule takes over;
    * ``step`` (the papers'): ``lr · gamma^(number of milestones ≤ epoch)``; milestones
      are epochs of the stage, after the warm-up;
    * ``cosine`` (Loshchilov & Hutter, 2017, without restarts):
      ``lr · ½(1 + cos(π·(epoch−W)/(E−W)))``, ``lr`` at epoch W falling towards 0 (reached
      at epoch E, just after the last one).

    E.g. lr 0.3, E = 6, W = 2, cosine: 0.1, 0.2, 0.3, 0.2561, 0.15, 0.0439.
    """
    warmup = stage.warmup_epochs
    if epoch < warmup:
        return stage.lr * (epoch + 1) / (warmup + 1)
    if stage.schedule == "cosine":
        return stage.lr * 0.5 * (1.0 + math.cos(math.pi * (epoch - warmup) / (stage.epochs - warmup)))
    return stage.lr * stage.gamma ** sum(1 for m in stage.milestones if m <= epoch)


def build_optimizer(stage: StageConfig, params: Iterable[nn.Parameter], fused: bool = False) -> torch.optim.Optimizer:
    """``torch.optim.SGD`` (momentum, nesterov, L2 weight decay in the gradient) or
    ``torch.optim.AdamW`` (decoupled weight decay, default betas (0.9, 0.999)), at
    ``stage.lr``; the trainer overwrites the lr with :func:`stage_lr` every epoch.
    ``fused``: torch's fused kernel (all parameters in one launch; CUDA), else its default
    (``foreach`` where supported); the two update identically and share a state format."""
    impl = {"fused": True} if fused else {}
    if stage.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=stage.lr, weight_decay=stage.weight_decay, **impl)
    if stage.optimizer == "sgd":
        return torch.optim.SGD(params, lr=stage.lr, momentum=stage.momentum,
                               weight_decay=stage.weight_decay, nesterov=stage.nesterov, **impl)
    raise ValueError(f"optimizer: must be sgd or adamw, got {stage.optimizer!r}")
