"""Device, precision and seeding switches; nothing here knows about methods."""

from __future__ import annotations

import contextlib
import os
import random

import numpy as np
import torch

from sskd.config import SpeedConfig


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """``auto`` → ``cuda:<local_rank>`` when CUDA is available, else ``cpu``."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        name = f"cuda:{local_rank}"
    from sskd.config import ConfigError

    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"device {name!r}: expected auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} was asked for, but CUDA is not available here; use --device cpu")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ConfigError(f"device {name!r} was asked for, but this machine has {torch.cuda.device_count()} "
                          f"CUDA device(s)")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"device {name!r} was asked for, but MPS is not available here; use --device cpu")
    return device


def setup_runtime(speed: SpeedConfig, device: torch.device) -> None:
    """Process-wide switches: flush denormals on CPU, deterministic kernels when asked."""
    if device.type == "cpu":
        torch.set_flush_denormal(True)
    if device.type == "cuda":
        torch.cuda.set_device(device)
        torch.backends.cudnn.benchmark = not speed.deterministic
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    if speed.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=device.type != "cpu")


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes bfloat16 natively (CUDA with bf16, or a CPU with
    AVX512-BF16 or AMX); elsewhere bf16 autocast works but is slow."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
        return any(getattr(torch.cpu, name, lambda: False)() for name in checks)
    return False


def amp_dtype(speed: SpeedConfig) -> torch.dtype | None:
    return {"none": None, "bf16": torch.bfloat16, "fp16": torch.float16}[speed.amp]


def autocast(device: torch.device, speed: SpeedConfig):
    """Mixed-precision context for forward passes (a no-op when ``amp`` is ``none``)."""
    dtype = amp_dtype(speed)
    if dtype is None:
        return contextlib.nullcontext()
    if dtype is torch.float16 and device.type != "cuda":
        raise ValueError("speed.amp=fp16 needs a CUDA device; use bf16 on the CPU")
    return torch.autocast(device_type=device.type, dtype=dtype)


def stage_epoch_seed(seed: int, stage: int, epoch: int, rank: int) -> int:
    """Seed of everything random in one epoch of one rank.

    Deriving every epoch's randomness from ``(seed, stage, epoch, rank)`` makes a run
    resumed at an epoch boundary replay exactly what the uninterrupted run did.
    """
    return int(np.random.SeedSequence([seed, stage, epoch, rank]).generate_state(1, np.uint64)[0] >> 1)


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def to_channels_last_views(views: torch.Tensor) -> torch.Tensor:
    """``[B, V, C, H, W]`` laid out so that ``flatten_views`` yields a channels_last batch."""
    return views.permute(0, 1, 3, 4, 2).contiguous().permute(0, 1, 4, 2, 3)


def stage_build_seed(seed: int, stage: int) -> int:
    """Seed set before a stage builds its networks, so a resumed run builds the same ones."""
    return stage_epoch_seed(seed, stage, 2**31 - 1, 0)
