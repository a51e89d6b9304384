"""Where a resumed run picks up: the latest checkpoint of its run directory.

A checkpoint is written after every epoch (``checkpoints/s<stage>-e<epochs done>``): the
weights of every shared network, and ``state.pt`` with the stage index, the epochs it has
done, how many metric records were logged, what the summary must say about stages already
finished (reused from the cache, epoch kept) and the optimiser and gradient-scaler state.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import torch
from torch import nn

from sskd.engine.checkpoint import CheckpointStore


@dataclass
class ResumePoint:
    """The checkpoint a run resumes from and its state (see the module docstring)."""

    checkpoint: Path
    state: dict[str, Any]

    @classmethod
    def latest(cls, store: CheckpointStore, device: torch.device) -> Optional["ResumePoint"]:
        """The store's latest checkpoint, or None if the run never finished an epoch."""
        checkpoint = store.latest()
        if checkpoint is None:
            return None
        return cls(checkpoint, CheckpointStore.read_state(checkpoint, device))

    @property
    def stage(self) -> int:
        """Index of the stage the checkpoint was written in."""
        return self.state["stage"]

    @property
    def epoch(self) -> int:
        """Epochs of that stage done; training goes on with the next one."""
        return self.state["epoch"]

    @property
    def records(self) -> int:
        """Metric records (lines of ``metrics.jsonl``) written up to the checkpoint."""
        return self.state["records"]

    def finished(self, stage_index: int) -> bool:
        """Whether stage ``stage_index`` ended before the checkpoint (it is not run again)."""
        return stage_index < self.stage

    def restore(self, networks: nn.Module, runner, device: torch.device) -> None:
        """Load the checkpoint's weights into ``networks`` and its optimiser and scaler
        state into ``runner`` (a :class:`sskd.engine.trainer.StageRunner`)."""
        CheckpointStore.load_weights(self.checkpoint, networks, device)
        runner.load_state_dict(self.state)
