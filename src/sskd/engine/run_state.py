"""What every stage of a run shares, opened from its config: the run directory (new, or
the one being resumed), the data and loaders, the shared networks, and the records."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import torch
from torch import nn

import yaml

from sskd.config import RunConfig
from sskd.data.dataset import DatasetFormatError
from sskd.engine.checkpoint import CheckpointStore, is_temporary
from sskd.engine.data import RunData, crop_padding, folder_problem, prepare_data, run_loaders, train_loader
from sskd.engine.distributed import DistInfo, broadcast_object
from sskd.engine.progress import Progress
from sskd.engine.resume import ResumePoint
from sskd.engine.run_lock import LOCK_NAME, RunDirectoryError, RunLock
from sskd.engine.rundir import RunDirectory, default_run_name
from sskd.engine.runtime import resolve_device, seed_everything, setup_runtime

__all__ = ["RunDirectoryError", "RunState"]

#: The config its checkpoints were trained with; ``--resume`` refuses a config.yaml edited since.
CHECKPOINT_CONFIG = Path("checkpoints") / "config.yaml"
#: Keys a resumed run may change: where and how fast it runs, what it prints, where its data lies.
RESUME_MAY_CHANGE = ("device", "speed.", "about.", "output.dir", "output.name", "output.progress",
                     "output.log_every", "output.tensorboard", "output.keep_checkpoints", "data.root",
                     "data.workers", "data.eval_batch_size", "data.check_images")


@dataclass
class RunState:
    """A run between its stages. ``records_dir`` is None except on rank 0, the only
    process that writes; ``resume_from`` is the checkpoint still to be taken up, until the
    stage it was written in starts (then None); ``cached`` and ``exported`` are what the
    summary says about stages reused from the cache and about the epoch each handed on."""

    config: RunConfig
    dist: DistInfo
    device: torch.device
    path: Path
    store: CheckpointStore
    data: RunData
    records_dir: Optional[RunDirectory]
    progress: Progress
    loaders: dict[str, Any]
    train_batches: Any
    resume_from: Optional[ResumePoint]
    networks: nn.ModuleDict = field(default_factory=nn.ModuleDict)
    records: list[dict[str, Any]] = field(default_factory=list)
    cached: dict[str, dict[str, Any]] = field(default_factory=dict)
    exported: dict[str, dict[str, Any]] = field(default_factory=dict)
    lock: Optional[RunLock] = None
    _clean_batches: Any = None

    @classmethod
    def open(cls, config: RunConfig, run_dir: Optional[str | Path], resume: bool, stream,
             dist: DistInfo) -> "RunState":
        """Set up the device and seeds, check the run directory, read the checkpoint to
        resume from, load the data and write the config (a new run) or drop the metric
        records of a resumed run that never reached its first checkpoint."""
        device = resolve_device(config.device, dist.local_rank)
        setup_runtime(config.speed, device)
        seed_everything(config.seed)
        path = _run_path(config, run_dir, resume, dist)
        store = CheckpointStore(path, config.output.keep_checkpoints)
        resume_from = ResumePoint.latest(store, device) if resume else None
        if resume_from is not None:
            problem = broadcast_object(_changed_config(config, path) if dist.is_main else None, dist)
            if problem:
                raise RunDirectoryError(problem)
        data = prepare_data(config.data, config.seed)
        if config.data.check_images and not resume:  # once, on rank 0, before anything is written
            problem = broadcast_object(folder_problem(data, config.data) if dist.is_main else None, dist)
            if problem:
                raise DatasetFormatError(problem)
        lock = _lock(path, resume, dist)
        try:
            return cls._open_locked(config, dist, device, path, store, data, resume, resume_from, stream, lock)
        except BaseException:
            if lock is not None:
                lock.release()
            raise

    @classmethod
    def _open_locked(cls, config, dist, device, path, store, data, resume, resume_from, stream, lock) -> "RunState":
        records_dir = RunDirectory(path, config.output.tensorboard) if dist.is_main else None
        progress = Progress(config.output.progress, enabled=dist.is_main, every=config.output.log_every,
                            stream=stream)
        if records_dir is not None and not resume:
            records_dir.write_config(config)
        if records_dir is not None and resume_from is None:
            (path / CHECKPOINT_CONFIG).parent.mkdir(exist_ok=True)
            records_dir.write_config(config, CHECKPOINT_CONFIG)
        if records_dir is not None and resume and resume_from is None:
            records_dir.truncate_metrics(0)
            progress.message(f"{path} has no checkpoint yet: starting it over from its config")
        train_batches, loaders = run_loaders(data, config.data, device, dist)
        run = cls(config, dist, device, path, store, data, records_dir, progress, loaders, train_batches,
                  resume_from, lock=lock)
        if resume_from is not None:  # what the summary says about stages finished before the checkpoint
            run.cached.update(resume_from.state.get("cached", {}))
            run.exported.update(resume_from.state.get("exported", {}))
        return run

    def batches_for(self, method) -> Any:
        """The training batches of a stage: the clean labels for a teacher-side method
        (see :class:`sskd.engine.data.RunData`), the run's labels otherwise."""
        if not method.teacher_side or self.data.clean_train is self.data.train:
            return self.train_batches
        if self._clean_batches is None:
            self._clean_batches = train_loader(self.data.clean_train, self.config.data, 0, self.device, self.dist)
        return self._clean_batches

    def close(self) -> None:
        """Let another process use the run directory."""
        if self.lock is not None:
            self.lock.release()
            self.lock = None

    @property
    def crop_padding(self) -> int:
        return crop_padding(self.data.train)

    def stage_records(self, stage_name: str) -> list[dict[str, Any]]:
        """The epoch records of one stage so far."""
        return [r for r in self.records if r["stage"] == stage_name]


def _run_path(config: RunConfig, run_dir: Optional[str | Path], resume: bool, dist: DistInfo) -> Path:
    """The run directory (``output.dir/output.name`` or a default name unless given), the
    same on every rank; refused if it cannot be used as asked."""
    if run_dir is None:
        run_dir = Path(config.output.dir) / (config.output.name or default_run_name(config))
    path = Path(broadcast_object(str(run_dir), dist))
    problem = broadcast_object(_run_dir_problem(path, resume) if dist.is_main else None, dist)
    if problem:
        raise RunDirectoryError(problem)
    return path


def _run_dir_problem(run_path: Path, resume: bool, locked: bool = False) -> str | None:
    busy = None if locked else RunLock.holder(run_path)
    if busy:
        return busy
    if resume:
        if not (run_path / "checkpoints" / "latest").is_file() and not (run_path / "config.yaml").is_file():
            return f"--resume: no checkpoint under {run_path / 'checkpoints'} and no config.yaml in {run_path}"
        if (run_path / "summary.json").is_file() and (run_path / "model.safetensors").is_file():
            return (f"--resume {run_path}: the run has finished (its summary.json and model.safetensors "
                    f"come after its last checkpoint); nothing to resume: start a new run with another --name")
        return None  # without a checkpoint (killed in its first epoch): started over from its config
    if run_path.exists() and any(p.name != LOCK_NAME and not is_temporary(p.name) for p in run_path.iterdir()):
        return (f"run directory {run_path} already holds a run; pick another --name, "
                f"or continue it with --resume {run_path}")
    return None


def _lock(path: Path, resume: bool, dist: DistInfo) -> Optional[RunLock]:
    """Rank 0 locks the run directory for the run's life (see :mod:`sskd.engine.run_lock`),
    then checks it again: another process may have taken it since the first check."""
    lock, problem = None, None
    if dist.is_main:
        try:
            lock = RunLock.acquire(path)
            problem = _run_dir_problem(path, resume, locked=True)
        except RunDirectoryError as exc:
            problem = str(exc)
        if problem and lock is not None:
            lock.release()
    problem = broadcast_object(problem, dist)
    if problem:
        raise RunDirectoryError(problem)
    return lock


def _changed_config(config: RunConfig, run_path: Path) -> str | None:
    """Why ``config`` (the run's config.yaml) cannot go on from the checkpoints, if it cannot:
    a key that changes what is trained differs from the config they were written with."""
    reference = run_path / CHECKPOINT_CONFIG
    if not reference.is_file():
        return None  # written by a version that kept no copy
    try:
        before = yaml.safe_load(reference.read_text())
    except (OSError, ValueError, yaml.YAMLError):
        return None
    for key, now, was in _differences(config.to_dict(), before, ""):
        if not key.startswith(RESUME_MAY_CHANGE):
            return (f"--resume {run_path}: its config.yaml no longer matches the config its checkpoints "
                    f"were trained with ({key}: {now!r}, was {was!r}); put it back, or start a new run")
    return None


def _differences(now: Any, was: Any, key: str):
    if isinstance(now, dict) and isinstance(was, dict):
        for name in list(now) + [n for n in was if n not in now]:
            yield from _differences(now.get(name), was.get(name), f"{key}.{name}" if key else str(name))
    elif isinstance(now, list) and isinstance(was, list) and len(now) == len(was) and key == "stages":
        for i, (a, b) in enumerate(zip(now, was)):
            yield from _differences(a, b, f"{key}[{i}]")
    elif now != was:
        yield key, now, was
