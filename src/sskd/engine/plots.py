"""PNG curves of a run's losses and accuracies (matplotlib, no display needed)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def plot_run(records: list[dict[str, Any]], out_dir: Path) -> list[Path]:
    """``loss.png`` (every ``train/`` loss term and the test loss) and ``accuracy.png``
    (train/val/test top-1) over the run's epochs, stages one after another."""
    out_dir.mkdir(parents=True, exist_ok=True)
    if not records:
        return []
    x = list(range(1, len(records) + 1))
    boundaries = [i + 0.5 for i in range(1, len(records)) if records[i]["stage"] != records[i - 1]["stage"]]
    written = []
    for name, keys, ylabel in (
        ("loss", sorted({k for r in records for k in r if k.startswith("train/") and k != "train/top1"} | {"test/loss"}), "loss"),
        ("accuracy", ["train/top1", "val/top1", "test/top1"], "top-1 accuracy (%)"),
    ):
        fig, ax = plt.subplots(figsize=(7, 4))
        for key in keys:
            ys = [r.get(key) for r in records]
            if any(y is not None for y in ys):
                ax.plot(x, [float("nan") if y is None else y for y in ys], label=key)
        for b in boundaries:
            ax.axvline(b, color="grey", linestyle=":", linewidth=1)
        ax.set_xlabel("epoch (all stages)")
        ax.set_ylabel(ylabel)
        if name == "loss":
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        path = out_dir / f"{name}.png"
        tmp = out_dir / f".{name}.png.tmp"  # replaced whole: a kill never leaves half an image
        try:
            fig.savefig(tmp, dpi=110, format="png")
            os.replace(tmp, path)
        finally:
            plt.close(fig)
            tmp.unlink(missing_ok=True)
        written.append(path)
    return written
