"""A whole run: every stage in turn, each skipped, reused from the cache or trained.

:class:`~sskd.engine.run_state.RunState` opens the run (directory, data, loaders, the
checkpoint to resume from); a stage that ended before that checkpoint is only rebuilt
(the checkpoint's weights fill its networks), a cacheable stage found in the stage cache
is loaded (:mod:`sskd.engine.cached_stage`), any other is trained epoch by epoch with a
checkpoint after each (:class:`_EpochEnd`); the last stage's network is exported as
``model.safetensors`` and the run ends with its summary (:mod:`sskd.engine.summary`).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, Optional

import torch
from torch import nn

from sskd.config import RunConfig
from sskd.engine.cached_stage import CachedStage
from sskd.engine.checkpoint import export_model
from sskd.engine.distributed import barrier, broadcast_object, init_distributed, shutdown
from sskd.engine.plots import plot_run
from sskd.engine.preflight import preflight
from sskd.engine.run_state import RunDirectoryError, RunState
from sskd.engine.runtime import seed_everything, stage_build_seed
from sskd.engine.selection import EpochSelector
from sskd.engine.summary import epoch_line, format_summary, run_summary
from sskd.engine.trainer import StageEnv, StageRunner
from sskd.methods import Method, MethodContext, build_method
from sskd.rules import apply_rules

__all__ = ["RunDirectoryError", "checkpoint_tag", "format_summary", "train"]


def checkpoint_tag(stage_index: int, epochs_done: int) -> str:
    return f"s{stage_index:02d}-e{epochs_done:04d}"


def train(config: RunConfig, run_dir: Optional[str | Path] = None, resume: bool = False,
          stream=None) -> dict[str, Any]:
    """Run every stage of ``config``; returns the summary (also ``<run>/summary.json``).

    With ``resume=True``, ``run_dir`` must hold a checkpoint of this run: training goes on
    from the last completed epoch and, with deterministic settings, ends with the same
    weights as an uninterrupted run.
    """
    apply_rules(config, network_args=not resume)  # a resumed run's weights fit its recorded args
    config.validate()
    preflight(config)
    stream = stream or sys.stderr
    dist = init_distributed(config.device)
    try:
        return _train(config, run_dir, resume, stream, dist)
    finally:
        shutdown(dist)


def _train(config, run_dir, resume, stream, dist) -> dict[str, Any]:
    started = time.perf_counter()
    run = RunState.open(config, run_dir, resume, stream, dist)
    try:
        for k in range(len(config.stages)):
            _run_stage(run, k)
        return _finish(run, time.perf_counter() - started)
    finally:
        run.close()


def _run_stage(run: RunState, k: int) -> None:
    """Build stage ``k``'s method (its networks join the run's), then skip, reuse or train it."""
    config, stage = run.config, run.config.stages[k]
    method = build_stage_method(config, k, run.networks, run.data, run.device)
    _check_checkpointed(method, run.networks, stage.method)
    if run.resume_from is not None and run.resume_from.finished(k):
        return  # finished before the checkpoint, which holds its networks' weights
    # A stage resumed part-way still fills the cache when it ends, but is not replaced by it.
    cached = CachedStage.find(config, k, method, run.dist, run.data, lookup=run.resume_from is None)
    if cached is not None and cached.hit is not None:
        _reuse_cached(run, k, method, cached)
    else:
        _train_stage(run, k, method, cached)


def build_stage_method(config: RunConfig, k: int, networks: nn.ModuleDict, data, device: torch.device) -> Method:
    """Stage ``k``'s method on ``device`` (channels_last if asked), its networks joining
    ``networks``, built from the stage's own seed so that a resumed run builds the same ones.
    ``data`` is the run's :class:`~sskd.engine.data.RunData`."""
    seed_everything(stage_build_seed(config.stage_seed(k), k))
    context = MethodContext(config, config.stages[k], data.info.num_classes, networks,
                            image_size=data.info.image_size, train_labels=data.train.labels)
    method = build_method(context, f"stages[{k}]").to(device)
    if config.speed.channels_last:
        method = method.to(memory_format=torch.channels_last)
    return method


def _reuse_cached(run: RunState, k: int, method: Method, cached: CachedStage) -> None:
    stage = run.config.stages[k]
    run.cached[stage.name] = cached.reuse(run.networks[method.export_key()], stage.epochs)
    run.progress.message(f"[{stage.name}] reused {cached.hit} (trained before for this "
                         f"teacher checkpoint and these settings)")
    if k == len(run.config.stages) - 1:
        _export(run, k, method)


def _train_stage(run: RunState, k: int, method: Method, cached: Optional[CachedStage]) -> None:
    """Train stage ``k`` from its first epoch or from the checkpoint resumed from, keep the
    selected epoch's weights, fill the cache entry if any, and export."""
    stage = run.config.stages[k]
    env = StageEnv(run.config, k, run.device, run.dist, run.batches_for(method), run.loaders,
                   run.data.info.mean, run.data.info.std, run.crop_padding, run.progress)
    runner = StageRunner(method, env)
    start_epoch = _take_up_checkpoint(run, runner, stage.name)
    selector = EpochSelector(stage.select, k, run.path)
    runner.run(start_epoch, _EpochEnd(run, k, runner, selector))
    selector.restore(run.networks, run.device)
    stage_records = run.stage_records(stage.name)
    chosen = (selector.best(stage_records) or stage_records[-1]) if stage_records else None
    if chosen is not None:
        run.exported[stage.name] = {"epoch": chosen["epoch"], "selected_on": stage.select}
    if run.records_dir is not None and cached is not None:
        cached.fill(run.networks[method.export_key()], run.config.teacher.checkpoint, chosen)
    _export(run, k, method)


def _take_up_checkpoint(run: RunState, runner: StageRunner, stage_name: str) -> int:
    """The epoch to start from: 0, or after loading the checkpoint resumed from (weights,
    optimiser, the metric records up to it), the epochs it had done."""
    point = run.resume_from
    if point is None:
        return 0
    point.restore(run.networks, runner, run.device)
    if run.records_dir is not None:
        run.records[:] = run.records_dir.truncate_metrics(point.records)
    run.progress.message(f"resumed {run.path} at stage {stage_name!r} after epoch {point.epoch}")
    run.resume_from = None
    return point.epoch


class _EpochEnd:
    """Called after each epoch of stage ``k``: keep its record, snapshot it if it is the
    selected epoch so far, log it, checkpoint, and print its line."""

    def __init__(self, run: RunState, k: int, runner: StageRunner, selector: EpochSelector):
        self.run, self.k, self.runner, self.selector = run, k, runner, selector
        self.stage = run.config.stages[k]

    def __call__(self, epoch: int, record: dict[str, Any]) -> None:
        run = self.run
        run.records.append(record)
        try:  # the snapshot first: a checkpoint never names a selected epoch it lacks
            self.selector.after_epoch(run.stage_records(self.stage.name), run.networks, run.dist.is_main)
            problem = None
        except KeyError as exc:
            problem = ValueError(f"stages[{self.k}].{exc.args[0]}")
        if run.records_dir is not None:
            run.records_dir.log_epoch(record, len(run.records))
            state = {"stage": self.k, "epoch": epoch + 1, "records": len(run.records), "cached": run.cached,
                     "exported": run.exported, **self.runner.state_dict()}
            run.store.save(checkpoint_tag(self.k, epoch + 1), run.networks, state)
        if problem is not None:
            raise problem
        run.progress.message(epoch_line(record, self.stage.epochs))
        barrier(run.dist)


def _export(run: RunState, k: int, method: Method) -> None:
    """Write stage ``k``'s network as ``model.safetensors`` (rank 0; each stage overwrites
    the previous one's, so the run ends with its last stage's)."""
    if run.records_dir is not None:
        export_model(method.export_network(run.networks), run.path / "model.safetensors",
                     _export_metadata(run.config, run.data.info, method.export_key(), k))


def _finish(run: RunState, wall_time_s: float) -> dict[str, Any]:
    """Write the summary and plots (rank 0); every rank returns the summary."""
    summary: dict[str, Any] = {}
    if run.records_dir is not None:
        summary = run_summary(run.config, run.records, run.path, run.data.val is not None, run.exported,
                              run.cached, wall_time_s)
        plot_run(run.records, run.path / "plots")  # before the summary, which marks the run finished
        run.records_dir.write_summary(summary)
        run.records_dir.close()
        run.progress.message(format_summary(summary))
    return broadcast_object(summary, run.dist)


def _check_checkpointed(method: nn.Module, networks: nn.ModuleDict, name: str) -> None:
    """Every trained parameter must live in the shared networks, which checkpoints save."""
    kept = {id(p) for p in networks.parameters()}
    stray = [n for n, p in method.named_parameters() if p.requires_grad and id(p) not in kept]
    if stray:
        raise ValueError(f"method {name!r} trains parameters outside the run's networks "
                         f"({', '.join(stray[:3])}); create them with context.network(...) so that "
                         f"checkpoints hold them")


def _export_metadata(config: RunConfig, info, key: str, stage_index: int) -> dict[str, Any]:
    """What ``model.safetensors`` says about itself: the network, its model and arguments,
    and the data it was trained on (classes and their names, normalisation, image size)."""
    model = config.teacher if key.startswith("teacher") else config.model
    return {"network": key, "model": model.name, "model_args": model.args,
            "num_classes": info.num_classes, "class_names": list(info.class_names), "dataset": info.name,
            "mean": list(info.mean), "std": list(info.std), "image_size": info.image_size,
            "stage": config.stages[stage_index].name}
