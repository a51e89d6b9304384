"""A whole run: data, networks, every stage in turn, checkpoints, resume, summary."""

from __future__ import annotations

import dataclasses
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import torch
from torch import nn

from sskd.config import RunConfig
from sskd.data import ImageFolderDataset
from sskd.engine.checkpoint import CheckpointStore, export_model
from sskd.engine.data import eval_loader, prepare_data, train_loader
from sskd.engine.distributed import barrier, broadcast_object, init_distributed, shutdown
from sskd.engine.plots import plot_run
from sskd.engine.preflight import preflight
from sskd.engine.progress import Progress
from sskd.engine.rundir import RunDirectory, split_scores, default_run_name, stage_summary
from sskd.engine.selection import EpochSelector
from sskd.engine.stage_cache import StageCache, cache_directory, stage_cache_key
from sskd.engine.runtime import resolve_device, seed_everything, setup_runtime, stage_build_seed
from sskd.engine.trainer import StageEnv, StageRunner
from sskd.methods import MethodContext, build_method


def checkpoint_tag(stage_index: int, epochs_done: int) -> str:
    return f"s{stage_index:02d}-e{epochs_done:04d}"


def train(config: RunConfig, run_dir: Optional[str | Path] = None, resume: bool = False,
          stream=None) -> dict[str, Any]:
    """Run every stage of ``config``; returns the summary (also ``<run>/summary.json``).

    With ``resume=True``, ``run_dir`` must hold a checkpoint of this run: training goes on
    from the last completed epoch and, with deterministic settings, ends with the same
    weights as an uninterrupted run.
    """
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
    device = resolve_device(config.device, dist.local_rank)
    setup_runtime(config.speed, device)
    seed_everything(config.seed)
    if run_dir is None:
        run_dir = Path(config.output.dir) / (config.output.name or default_run_name(config))
    run_path = Path(broadcast_object(str(run_dir), dist))
    problem = broadcast_object(_run_dir_problem(run_path, resume) if dist.is_main else None, dist)
    if problem:
        raise RunDirectoryError(problem)
    store = CheckpointStore(run_path, config.output.keep_checkpoints)
    checkpoint = store.latest() if resume else None
    saved = CheckpointStore.read_state(checkpoint, device) if checkpoint is not None else None
    data = prepare_data(config.data, config.seed)
    records_dir = RunDirectory(run_path, config.output.tensorboard) if dist.is_main else None
    progress = Progress(config.output.progress, enabled=dist.is_main, every=config.output.log_every,
                        stream=stream)
    networks = nn.ModuleDict()
    records: list[dict[str, Any]] = []
    cached: dict[str, dict[str, Any]] = {}
    exported: dict[str, dict[str, Any]] = {}
    if saved is not None:  # what the summary says about stages finished before the checkpoint
        cached.update(saved.get("cached", {}))
        exported.update(saved.get("exported", {}))
    if records_dir is not None and not resume:
        records_dir.write_config(config)
    if records_dir is not None and resume and checkpoint is None:
        records_dir.truncate_metrics(0)
        progress.message(f"{run_path} has no checkpoint yet: starting it over from its config")

    loaders = {"test": eval_loader(data.test, config.data, device, dist)}
    if data.val is not None:
        loaders["val"] = eval_loader(data.val, config.data, device, dist)
    # Seed 0: each epoch's order comes from set_epoch(stage_epoch_seed(stage seed, ...)) alone,
    # so a stage with its own seed sees the same batches whatever the run's seed.
    train_batches = train_loader(data.train, config.data, 0, device, dist)

    for k, stage in enumerate(config.stages):
        seed_everything(stage_build_seed(config.stage_seed(k), k))
        context = MethodContext(config, stage, data.info.num_classes, networks)
        method = build_method(context, f"stages[{k}]").to(device)
        if config.speed.channels_last:
            method = method.to(memory_format=torch.channels_last)
        env = StageEnv(config, k, device, dist, train_batches, loaders, data.info.mean, data.info.std,
                       crop_padding(data.train), progress)
        _check_checkpointed(method, networks, stage.method)
        if saved is not None and k < saved["stage"]:
            continue  # finished before the checkpoint; its networks are loaded below
        # A stage resumed part-way still fills the cache when it ends, but is not replaced by it.
        cache_entry = _stage_cache_entry(config, k, method, dist, data, lookup=saved is None)
        if cache_entry is not None and cache_entry.hit is not None:
            meta = cache_entry.cache.load(cache_entry.hit, networks[method.export_key()])
            cached[stage.name] = {"cached_from": str(cache_entry.hit), "epochs": stage.epochs,
                                  "scores": meta.get("scores", {})}
            progress.message(f"[{stage.name}] reused {cache_entry.hit} (trained before for this "
                             f"teacher checkpoint and these settings)")
            if records_dir is not None and k == len(config.stages) - 1:
                export_model(method.export_network(networks), run_path / "model.safetensors",
                             _export_metadata(config, data.info, method.export_key(), k))
            continue
        runner = StageRunner(method, env)
        start_epoch = 0
        if saved is not None:
            CheckpointStore.load_weights(checkpoint, networks, device)
            runner.load_state_dict(saved)
            start_epoch = saved["epoch"]
            if records_dir is not None:
                records[:] = records_dir.truncate_metrics(saved["records"])
            progress.message(f"resumed {run_path} at stage {stage.name!r} after epoch {start_epoch}")
            saved = None

        selector = EpochSelector(stage.select, k, run_path)

        def on_epoch_end(epoch: int, record: dict[str, Any], k=k, runner=runner, stage=stage,
                         selector=selector) -> None:
            records.append(record)
            try:  # the snapshot first: a checkpoint never names a selected epoch it lacks
                selector.after_epoch([r for r in records if r["stage"] == stage.name], networks, dist.is_main)
                problem = None
            except KeyError as exc:
                problem = ValueError(f"stages[{k}].{exc.args[0]}")
            if records_dir is not None:
                records_dir.log_epoch(record, len(records))
                state = {"stage": k, "epoch": epoch + 1, "records": len(records), "cached": cached,
                         "exported": exported, **runner.state_dict()}
                store.save(checkpoint_tag(k, epoch + 1), networks, state)
            if problem is not None:
                raise problem
            progress.message(_epoch_line(record, stage.epochs))
            barrier(dist)

        runner.run(start_epoch, on_epoch_end)
        selector.restore(networks, device)
        stage_records = [r for r in records if r["stage"] == stage.name]
        chosen = (selector.best(stage_records) or stage_records[-1]) if stage_records else None
        if chosen is not None:
            exported[stage.name] = {"epoch": chosen["epoch"], "selected_on": stage.select}
        if records_dir is not None and cache_entry is not None:
            cache_entry.cache.save(stage.method, cache_entry.key, networks[method.export_key()],
                                   {"teacher_checkpoint": config.teacher.checkpoint,
                                    "scores": split_scores(chosen)})
        if records_dir is not None:
            export_model(method.export_network(networks), run_path / "model.safetensors",
                         _export_metadata(config, data.info, method.export_key(), k))

    summary: dict[str, Any] = {}
    if records_dir is not None:
        summary = _summarise(config, records, run_path, data.val is not None)
        for name, choice in exported.items():
            summary["stages"].setdefault(name, {})["exported_epoch"] = choice
        summary["stages"].update(cached)
        summary["wall_time_s"] = round(time.perf_counter() - started, 1)
        records_dir.write_summary(summary)
        plot_run(records, run_path / "plots")
        records_dir.close()
        progress.message(format_summary(summary))
    return broadcast_object(summary, dist)


@dataclass
class _CacheEntry:
    cache: StageCache
    key: dict[str, Any]
    hit: Optional[Path]


def _stage_cache_entry(config: RunConfig, k: int, method, dist, data, lookup: bool) -> Optional[_CacheEntry]:
    """The cache entry of stage ``k`` if its method is cacheable and caching is on; ``hit``
    is the cached file if ``lookup`` and there is one (decided on rank 0, the same on every
    rank)."""
    if not (method.cacheable and config.output.cache):
        return None
    cache = StageCache(cache_directory(config))
    fingerprint = {"root": str(Path(config.data.root).resolve()) if config.data.root else None,
                   "train_images": len(data.train), "num_classes": data.info.num_classes,
                   "class_names": list(data.info.class_names)}
    key = stage_cache_key(config, k, dist.world_size, dataclasses.asdict(method.hparams), fingerprint)
    hit = cache.lookup(config.stages[k].method, key) if dist.is_main and lookup else None
    hit = broadcast_object(str(hit) if hit else None, dist)
    return _CacheEntry(cache, key, Path(hit) if hit else None)


def crop_padding(train_set) -> int:
    """CIFAR-style pad-4 crops for in-memory sets; none for image folders, whose loader
    already random-resize-crops (HSSAKD.md §1.2)."""
    return 0 if isinstance(train_set, ImageFolderDataset) else 4


class RunDirectoryError(ValueError):
    """The run directory cannot be used as asked."""


def _run_dir_problem(run_path: Path, resume: bool) -> str | None:
    if resume:
        if not (run_path / "checkpoints" / "latest").is_file() and not (run_path / "config.yaml").is_file():
            return f"--resume: no checkpoint under {run_path / 'checkpoints'} and no config.yaml in {run_path}"
        return None  # without a checkpoint (killed in its first epoch): started over from its config
    if run_path.exists() and any(run_path.iterdir()):
        return (f"run directory {run_path} already holds a run; pick another --name, "
                f"or continue it with --resume {run_path}")
    return None


def _check_checkpointed(method: nn.Module, networks: nn.ModuleDict, name: str) -> None:
    """Every trained parameter must live in the shared networks, which checkpoints save."""
    kept = {id(p) for p in networks.parameters()}
    stray = [n for n, p in method.named_parameters() if p.requires_grad and id(p) not in kept]
    if stray:
        raise ValueError(f"method {name!r} trains parameters outside the run's networks "
                         f"({', '.join(stray[:3])}); create them with context.network(...) so that "
                         f"checkpoints hold them")


def _export_metadata(config: RunConfig, info, key: str, stage_index: int) -> dict[str, Any]:
    model = config.teacher if key.startswith("teacher") else config.model
    return {"network": key, "model": model.name, "model_args": model.args,
            "num_classes": info.num_classes, "dataset": info.name, "mean": list(info.mean),
            "std": list(info.std), "image_size": info.image_size,
            "stage": config.stages[stage_index].name}


def _epoch_line(record: dict[str, Any], epochs: int) -> str:
    parts = [f"[{record['stage']}] epoch {record['epoch']}/{epochs}", f"lr {record['lr']:.4g}",
             f"loss {record['train/loss']:.4f}", f"train top1 {record['train/top1']:.2f}"]
    if "val/top1" in record:
        parts.append(f"val top1 {record['val/top1']:.2f}")
    parts += [f"test top1 {record['test/top1']:.2f}", f"{record['images_per_s']:.0f} img/s",
              f"{record['time_s']:.1f}s"]
    return " | ".join(parts)


def _summarise(config: RunConfig, records: list[dict[str, Any]], run_path: Path, has_val: bool) -> dict[str, Any]:
    stages = {}
    for stage in config.stages:
        mine = [r for r in records if r["stage"] == stage.name]
        stages[stage.name] = stage_summary(mine, "val/top1" if has_val else None)
    return {"run_dir": str(run_path), "model": config.model.name, "dataset": config.data.name,
            "seed": config.seed, "stages": stages}


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
