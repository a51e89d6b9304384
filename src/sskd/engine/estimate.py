"""How long a run will take, before it is launched: a few timed steps of every stage.

Each stage is built as the run would build it (its networks, the teacher checkpoint, the
data and batch size, the speed switches) and timed on real batches for a few optimiser
steps after a warm-up, then on a few evaluation batches; the stage's time is projected as
``epochs × (steps per epoch × seconds per step + evaluation per epoch)``. A frozen
network (a teacher-side stage's teacher) is evaluated once per stage, as in a run; a
stage found in the stage cache costs nothing. Nothing is written: no run directory,
checkpoint or cache entry.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from typing import Any, Optional

import torch
from torch import nn

from sskd.config import RunConfig
from sskd.engine.cached_stage import CachedStage
from sskd.engine.data import crop_padding, prepare_data, run_loaders
from sskd.engine.distributed import DistInfo
from sskd.engine.preflight import preflight
from sskd.engine.progress import Progress
from sskd.engine.run import build_stage_method
from sskd.engine.runtime import resolve_device, seed_everything, setup_runtime
from sskd.engine.trainer import StageEnv, StageRunner
from sskd.rules import apply_rules

#: Evaluation batches timed per split (the time is scaled to the whole split).
EVAL_BATCHES = 2


@dataclass
class StageEstimate:
    """The projection of one stage. Times in seconds."""

    name: str
    method: str
    epochs: int
    steps_per_epoch: int
    step_s: float
    eval_first_s: float
    eval_epoch_s: float
    cached: bool = False

    @property
    def total_s(self) -> float:
        if self.cached:
            return 0.0
        return self.epochs * self.steps_per_epoch * self.step_s + self.eval_first_s + \
            (self.epochs - 1) * self.eval_epoch_s


def estimate_run(config: RunConfig, steps: int = 5, warmup: Optional[int] = None) -> list[StageEstimate]:
    """Time ``steps`` training steps (after ``warmup``: default 2, or 5 with ``speed.compile``,
    whose first calls compile and record CUDA graphs) and :data:`EVAL_BATCHES` evaluation
    batches of every stage of ``config`` on its device; returns one estimate per stage."""
    if warmup is None:
        warmup = 5 if config.speed.compile else 2
    if steps < 1 or warmup < 0:
        raise ValueError(f"estimate: need steps >= 1 and warmup >= 0, got steps={steps}, warmup={warmup}")
    apply_rules(config)
    config.validate()
    preflight(config)
    device = resolve_device(config.device)
    setup_runtime(config.speed, device)
    seed_everything(config.seed)
    dist = DistInfo()
    data = prepare_data(config.data, config.seed)
    batches, loaders = run_loaders(data, config.data, device, dist)
    networks = nn.ModuleDict()
    estimates = []
    for k, stage in enumerate(config.stages):
        method = build_stage_method(config, k, networks, data, device)
        cached = CachedStage.find(config, k, method, dist, data, lookup=True)
        env = StageEnv(config, k, device, dist, batches, loaders, data.info.mean, data.info.std,
                       crop_padding(data.train), Progress("none", enabled=False))
        runner = StageRunner(method, env)
        step_s = _time_steps(runner, batches, steps, warmup, device)
        first, later = _time_evaluation(runner, loaders, device)
        estimates.append(StageEstimate(stage.name, stage.method, stage.epochs, len(batches), step_s, first, later,
                                       cached=cached is not None and cached.hit is not None))
    return estimates


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time_steps(runner: StageRunner, batches, steps: int, warmup: int, device: torch.device) -> float:
    """Seconds per training step, over ``steps`` steps after ``warmup`` (the loader's
    batches in turn, restarted if the epoch is shorter)."""
    runner.method.train()
    generator = torch.Generator(device=device).manual_seed(0)
    stream = itertools.cycle(batches) if len(batches) < warmup + steps else iter(batches)
    for _ in range(warmup):
        runner.train_step(*next(stream), generator)
    _sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        runner.train_step(*next(stream), generator)
    _sync(device)
    return (time.perf_counter() - start) / steps


def _time_evaluation(runner: StageRunner, loaders: dict[str, Any], device: torch.device) -> tuple[float, float]:
    """(seconds of the stage's first evaluation, of each later one), each over every split:
    :data:`EVAL_BATCHES` batches timed, scaled to the split's batch count."""
    parts = {split: list(itertools.islice(loader, EVAL_BATCHES)) for split, loader in loaders.items()}
    scale = sum(len(loader) for loader in loaders.values()) / max(1, sum(len(p) for p in parts.values()))
    times = []
    for _ in range(2):
        _sync(device)
        start = time.perf_counter()
        runner.evaluate_epoch(parts)
        _sync(device)
        times.append((time.perf_counter() - start) * scale)
    return times[0], times[1]


def format_estimate(estimates: list[StageEstimate], config: RunConfig) -> str:
    """A table of the stages' projections and the run's total."""
    rows = [f"projected wall time of this run on {resolve_device(config.device)} (amp {config.speed.amp}, "
            f"batch {config.data.batch_size}), from timed steps:",
            f"  {'stage':<22} {'method':<18} {'epochs':>6} {'steps/ep':>8} {'s/step':>8} "
            f"{'eval s/ep':>9} {'total':>10}"]
    for e in estimates:
        total = "cached" if e.cached else duration(e.total_s)
        rows.append(f"  {e.name:<22} {e.method:<18} {e.epochs:>6} {e.steps_per_epoch:>8} {e.step_s:>8.3f} "
                    f"{e.eval_epoch_s:>9.1f} {total:>10}")
    rows.append(f"  total {duration(sum(e.total_s for e in estimates)):>83}")
    return "\n".join(rows)


def duration(seconds: float) -> str:
    """``1h 02m``, ``3m 05s`` or ``12.3s``."""
    if seconds >= 3600:
        return f"{int(seconds // 3600)}h {int(seconds % 3600 // 60):02d}m"
    if seconds >= 60:
        return f"{int(seconds // 60)}m {int(seconds % 60):02d}s"
    return f"{seconds:.1f}s"
