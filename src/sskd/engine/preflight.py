"""Checks of a run config against what is installed, before anything is loaded or written."""

from __future__ import annotations

import dataclasses
import inspect
import os

import torch

from sskd.config import ConfigError, RunConfig, build_dataclass
from sskd.data.registry import FOLDER_DATASETS


def preflight(config: RunConfig, machine_checks: bool = True) -> None:
    """Raise :class:`ConfigError` naming the key for any model, data set, method, argument
    or device that cannot work; cheap (builds nothing, reads no data). ``machine_checks``
    False leaves out what depends on where the run will happen (the teacher checkpoint's
    file, the device): a plan made now for a run elsewhere or later."""
    from sskd.data import list_datasets
    from sskd.methods import method_class
    from sskd.models import model_entry

    try:
        entry = model_entry(config.model.name)
    except ValueError as exc:
        raise ConfigError(f"model.name: {exc}") from None
    try:
        inspect.signature(entry.builder).bind(num_classes=1, **config.model.args)
    except TypeError as exc:
        raise ConfigError(f"model.args: {config.model.name} does not take {config.model.args} ({exc})") from None
    if config.teacher.name is not None:
        try:
            model_entry(config.teacher.name)
        except ValueError as exc:
            raise ConfigError(f"teacher.name: {exc}") from None
        checkpoint = config.teacher.checkpoint
        if machine_checks and checkpoint is not None and os.path.isdir(checkpoint):
            raise ConfigError(f"teacher.checkpoint: {checkpoint!r} is a folder, not a file; expected a .safetensors "
                              f"or .pth file (for a run directory: {os.path.join(checkpoint, 'model.safetensors')})")
        if machine_checks and checkpoint is not None and not os.path.isfile(checkpoint):
            raise ConfigError(f"teacher.checkpoint: no such file {config.teacher.checkpoint!r}")
    if config.data.name.lower() not in list_datasets():
        raise ConfigError(f"data.name: unknown data set {config.data.name!r}; valid: {', '.join(list_datasets())}")
    if config.data.image_size is not None and config.data.name.lower() not in FOLDER_DATASETS:
        raise ConfigError(f"data.image_size: only image folders are resized; {config.data.name} "
                          f"has a fixed size")
    for k, stage in enumerate(config.stages):
        try:
            cls = method_class(stage.method)
        except ValueError as exc:
            raise ConfigError(f"stages[{k}].method: {exc}") from None
        if stage.args and not dataclasses.fields(cls.Hparams):
            raise ConfigError(f"stages[{k}].args: method {stage.method!r} takes no arguments, got {stage.args}")
        try:
            cls.check_hparams(build_dataclass(cls.Hparams, stage.args, f"stages[{k}].args"))
        except ValueError as exc:
            if isinstance(exc, ConfigError):
                raise
            raise ConfigError(f"stages[{k}].args: {exc}") from None
        if cls.needs_teacher and (config.teacher.name is None or config.teacher.checkpoint is None):
            raise ConfigError(f"teacher: method {stage.method!r} (stages[{k}]) needs a teacher: set "
                              f"teacher.name and teacher.checkpoint (--teacher, --teacher-ckpt)")
        try:
            cls.check_run(config, k)
        except ValueError as exc:
            raise ConfigError(f"stages[{k}] ({stage.method}): {exc}") from None
    try:
        device = torch.device("cpu" if config.device == "auto" else config.device)
    except RuntimeError as exc:
        raise ConfigError(f"device: {exc}") from None
    if machine_checks:
        _check_device(config, device)


def _check_device(config: RunConfig, device: torch.device) -> None:
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"device: {config.device!r} asked for, but MPS is not available here")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device: {config.device!r} asked for, but CUDA is not available here")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ConfigError(f"device: {config.device!r} asked for, but this machine has "
                          f"{torch.cuda.device_count()} CUDA device(s)")
    if device.index is not None and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise ConfigError(f"device: {config.device!r} names one GPU, but under torchrun every process "
                          f"needs its own: use 'cuda' (each process takes its LOCAL_RANK)")
