"""What a run reports: one line per epoch, and the summary of every stage at its end."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sskd.config import RunConfig
from sskd.engine.rundir import stage_summary


def epoch_line(record: dict[str, Any], epochs: int) -> str:
    """``[stage] epoch e/E | lr | loss | train top1 | val top1 | test top1 | img/s | time``."""
    parts = [f"[{record['stage']}] epoch {record['epoch']}/{epochs}", f"lr {record['lr']:.4g}",
             f"loss {record['train/loss']:.4f}", f"train top1 {record['train/top1']:.2f}"]
    if "val/top1" in record:
        parts.append(f"val top1 {record['val/top1']:.2f}")
    parts += [f"test top1 {record['test/top1']:.2f}", f"{record['images_per_s']:.0f} img/s",
              f"{record['time_s']:.1f}s"]
    return " | ".join(parts)


def run_summary(config: RunConfig, records: list[dict[str, Any]], run_path: Path, has_val: bool,
                exported: dict[str, dict[str, Any]], cached: dict[str, dict[str, Any]],
                wall_time_s: float) -> dict[str, Any]:
    """Last-epoch and best-epoch scores of every trained stage (best on ``val/top1`` when
    there is a validation split), the epoch each handed on (``exported``), and the stages
    reused from the cache (``cached``, which replace their entry)."""
    stages = {}
    for stage in config.stages:
        mine = [r for r in records if r["stage"] == stage.name]
        stages[stage.name] = stage_summary(mine, "val/top1" if has_val else None)
    for name, choice in exported.items():
        stages.setdefault(name, {})["exported_epoch"] = choice
    stages.update(cached)
    return {"run_dir": str(run_path), "model": config.model.name, "dataset": config.data.name,
            "seed": config.seed, "stages": stages, "wall_time_s": round(wall_time_s, 1)}


def format_summary(summary: dict[str, Any]) -> str:
    """A short table: last-epoch and best-epoch test top-1 per stage, labelled."""
    lines = [f"run {summary['run_dir']}  ({summary['model']} on {summary['dataset']}, seed {summary['seed']}, "
             f"{summary.get('wall_time_s', float('nan')):.0f} s)"]
    for name, s in summary["stages"].items():
        if not s:
            continue
        if "cached_from" in s:
            scores = " ".join(f"{k} {v:.2f}" for k, v in s["scores"].items())
            lines.append(f"  [{name}] reused from {s['cached_from']}: {scores}")
            continue
        last, best = s["last_epoch"], s["best_epoch"]
        line = (f"  [{name}] last epoch ({s['epochs']}): test top1 {last['test/top1']:.2f}"
                f" top5 {last['test/top5']:.2f}")
        if "val/top1" in last:
            line += f" val top1 {last['val/top1']:.2f}"
        line += (f" | best epoch ({best['epoch']}, selected on {best['selected_on']}):"
                 f" test top1 {best['test/top1']:.2f}")
        choice = s.get("exported_epoch", {})
        if choice.get("selected_on", "last") != "last":
            line += f" | kept: epoch {choice['epoch']} (highest {choice['selected_on']})"
        lines.append(line)
    return "\n".join(lines)
