"""Which epoch of a stage its later stages and ``model.safetensors`` get.

``select: last`` (the default) keeps the last epoch. ``select: <split>/<metric>`` (e.g.
``val/top1``) keeps the epoch where that metric of the epoch records was highest (the
earliest on ties); a pattern with ``*`` takes the highest of the matching metrics, so
``val/teacher_ss_top1_b*`` is HSSAKD's released teacher rule (best branch's joint
accuracy, HSSAKD.md §3.3) on a validation split: its weights are snapshotted to
``checkpoints/best-s<stage>.safetensors`` whenever it improves, and restored when the stage
ends. A ``test/`` metric is allowed but never implied, and the summary names the metric
the epoch was selected on.
"""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path
from typing import Any, Optional

import torch
from safetensors.torch import load_file, save_file
from torch import nn

LAST = "last"


class EpochSelector:
    """Tracks the selected epoch of one stage (see the module docstring)."""

    def __init__(self, select: str, stage_index: int, run_path: Path):
        self.select = select
        self.path = run_path / "checkpoints" / f"best-s{stage_index:02d}.safetensors"

    @property
    def keeps_last(self) -> bool:
        return self.select == LAST

    def best(self, stage_records: list[dict[str, Any]]) -> Optional[dict[str, Any]]:
        """The selected record among a stage's records so far (None for ``last``)."""
        if self.keeps_last or not stage_records:
            return None
        if any(self.value(r) is None for r in stage_records):
            keys = sorted(k for k in stage_records[-1] if "/" in k)
            raise KeyError(f"select: the epoch records have no {self.select!r}; they have {', '.join(keys)}")
        return max(stage_records, key=lambda r: (self.value(r), -r["epoch"]))

    def value(self, record: dict[str, Any]) -> Optional[float]:
        """The selection metric of one epoch record (the highest match of a ``*`` pattern)."""
        if "*" not in self.select:
            return record.get(self.select)
        values = [v for k, v in record.items() if fnmatch.fnmatchcase(k, self.select)]
        return max(values) if values else None

    def after_epoch(self, stage_records: list[dict[str, Any]], networks: nn.Module, is_main: bool) -> None:
        """Snapshot the weights if the epoch just finished is the new selected one."""
        best = self.best(stage_records)
        if best is not None and best is stage_records[-1] and is_main:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f".{self.path.name}.tmp")
            state = {k: v.detach().contiguous().cpu() for k, v in networks.state_dict().items()}
            save_file(state, str(tmp))
            os.replace(tmp, self.path)

    def restore(self, networks: nn.Module, device: torch.device) -> None:
        """Load the selected epoch's weights back (every process reads the same file)."""
        if self.keeps_last:
            return
        state = load_file(str(self.path), device=str(device))
        networks.load_state_dict(state)
