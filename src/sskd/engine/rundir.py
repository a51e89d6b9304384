"""The run directory: effective config, per-epoch metrics, TensorBoard, summary.

Layout::

    <run>/config.yaml           the effective configuration
    <run>/metrics.jsonl         one JSON record per epoch (see :meth:`RunDirectory.log_epoch`)
    <run>/tb/                   TensorBoard events, when tensorboard is installed
    <run>/checkpoints/          resumable checkpoints (see sskd.engine.checkpoint)
    <run>/model.safetensors     the trained network, loadable with ``sskd eval``
    <run>/plots/*.png           loss and accuracy curves
    <run>/summary.json          last-epoch and best-epoch accuracies per stage

Each of these files is replaced whole (written to a temporary file, then renamed), so a
run killed at any moment leaves it complete, old or new; the temporary files a kill leaves
behind are deleted when the run directory is opened again. TensorBoard's event files are
appended to (its reader skips a record cut short).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

from sskd.config import RunConfig, dump_config
from sskd.engine.checkpoint import TMP_SUFFIX, atomic_write_text, remove_temporaries


def default_run_name(config: RunConfig) -> str:
    methods = "-".join(dict.fromkeys(s.method for s in config.stages))
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{config.data.name}-{config.model.name}-{methods}"


class RunDirectory:
    """Writes the run's records (rank 0 only)."""

    def __init__(self, path: Path, tensorboard: bool = True):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        for folder in (self.path, self.path / "plots", self.path / "checkpoints"):
            remove_temporaries(folder)
        self.metrics_path = self.path / "metrics.jsonl"
        self._tensorboard = tensorboard
        self._tb = None

    def _writer(self):
        """The TensorBoard writer, opened at the first record (after ``config.yaml``, so
        that a run killed before writing it leaves an empty folder), or None."""
        if self._tb is None and self._tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # tensorboard is optional
                self._tensorboard = False
                return None
            self._tb = SummaryWriter(str(self.path / "tb"))
        return self._tb

    def write_config(self, config: RunConfig, name: str | Path = "config.yaml") -> None:
        """Write ``config`` as ``<run>/<name>`` (its folder must exist)."""
        path = self.path / name
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TMP_SUFFIX)
        os.close(fd)
        try:
            dump_config(config, tmp)
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def read_metrics(self) -> list[dict[str, Any]]:
        if not self.metrics_path.is_file():
            return []
        return [json.loads(line) for line in self.metrics_path.read_text().splitlines() if line.strip()]

    def truncate_metrics(self, keep: int) -> list[dict[str, Any]]:
        """Keep the first ``keep`` records (those covered by the checkpoint being resumed);
        anything after them, a half-written line included, is dropped."""
        lines = self.metrics_path.read_text().splitlines()[:keep] if self.metrics_path.is_file() else []
        atomic_write_text(self.metrics_path, "".join(line + "\n" for line in lines))
        return [json.loads(line) for line in lines]

    def log_epoch(self, record: dict[str, Any], global_epoch: int) -> None:
        """Append ``record`` (``stage``, ``epoch``, ``lr``, ``train/<term>``, ``test/top1``, …);
        the file is replaced whole, so that a kill never leaves half a line."""
        before = self.metrics_path.read_text() if self.metrics_path.is_file() else ""
        atomic_write_text(self.metrics_path, before + json.dumps(record) + "\n")
        tb = self._writer()
        if tb is not None:
            for key, value in record.items():
                if isinstance(value, (int, float)) and key not in ("epoch", "stage_index"):
                    tb.add_scalar(f"{record['stage']}/{key}", value, global_epoch)
            tb.flush()

    def write_summary(self, summary: dict[str, Any]) -> None:
        atomic_write_text(self.path / "summary.json", json.dumps(summary, indent=2) + "\n")

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()


def stage_summary(records: list[dict[str, Any]], select_on: Optional[str]) -> dict[str, Any]:
    """Last-epoch and best-epoch accuracies of one stage's records.

    ``select_on`` is ``"val/top1"`` when a validation split exists: the best epoch is then
    chosen on validation accuracy and its test accuracy reported. Without one, the best
    epoch is chosen on test accuracy, as the original papers did, and labelled so.
    """
    if not records:
        return {}
    last = records[-1]
    key = select_on or "test/top1"
    best = max(records, key=lambda r: (r.get(key, float("-inf")), -r["epoch"]))
    return {
        "epochs": last["epoch"],
        "last_epoch": split_scores(last),
        "best_epoch": {"epoch": best["epoch"], "selected_on": key, **split_scores(best)},
    }


def split_scores(record: dict[str, Any]) -> dict[str, Any]:
    """A record's accuracies on the evaluation splits (``test/top1``, ``val/ss_top1``, ...)."""
    return {k: v for k, v in record.items()
            if k.startswith(("test/", "val/")) and not k.endswith("loss")}
