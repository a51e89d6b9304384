"""Checkpoints: weights in safetensors, the rest loaded with ``weights_only=True``.

A run's checkpoints live in ``<run>/checkpoints/<tag>/`` (``weights.safetensors`` with
every network of the run, ``state.pt`` with the optimiser state, stage and epoch).
Each is written into a temporary folder that is then renamed, and the ``latest`` file
naming the newest one is itself replaced atomically, so a kill at any moment leaves
the previous complete checkpoint in place.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Optional

import torch
from safetensors.torch import load_file, save_file
from torch import nn

LATEST = "latest"
WEIGHTS = "weights.safetensors"
STATE = "state.pt"


class CheckpointError(ValueError):
    """A checkpoint that cannot be used as asked; the message says why and where."""


def _contiguous_state(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().contiguous().cpu() for k, v in module.state_dict().items()}


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync(path.parent)


class CheckpointStore:
    """Save and find the run's checkpoints (rank 0 writes; any rank reads)."""

    def __init__(self, run_dir: Path, keep: int = 2):
        self.dir = Path(run_dir) / "checkpoints"
        self.keep = keep

    def save(self, tag: str, networks: nn.Module, state: dict[str, Any]) -> Path:
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=self.dir, prefix=f".tmp-{tag}-"))
        save_file(_contiguous_state(networks), str(tmp / WEIGHTS))
        torch.save(state, tmp / STATE)
        for path in (tmp / WEIGHTS, tmp / STATE, tmp):
            _fsync(path)
        final = self.dir / tag
        if final.exists():  # a re-run epoch: move the old copy aside, never leave a gap
            os.replace(final, Path(tempfile.mkdtemp(dir=self.dir, prefix=f".tmp-old-{tag}-")) / tag)
        os.replace(tmp, final)
        _fsync(self.dir)
        atomic_write_text(self.dir / LATEST, tag)
        self._prune(tag)
        return final

    def _prune(self, newest: str) -> None:
        tags = sorted(p.name for p in self.dir.iterdir() if p.is_dir() and not p.name.startswith("."))
        for old in [t for t in tags if t != newest][: max(0, len(tags) - self.keep)]:
            shutil.rmtree(self.dir / old, ignore_errors=True)
        for junk in self.dir.glob(".tmp-*"):
            shutil.rmtree(junk, ignore_errors=True)

    def latest(self) -> Optional[Path]:
        pointer = self.dir / LATEST
        if not pointer.is_file():
            return None
        path = self.dir / pointer.read_text().strip()
        if not (path / WEIGHTS).is_file() or not (path / STATE).is_file():
            raise CheckpointError(f"{pointer} names {path.name!r}, which is incomplete or missing")
        return path

    @staticmethod
    def read_state(path: Path, device: torch.device) -> dict[str, Any]:
        """The checkpoint's optimiser state, stage and epoch (``weights_only=True``)."""
        return torch.load(path / STATE, map_location=device, weights_only=True)

    @staticmethod
    def load_weights(path: Path, networks: nn.Module, device: torch.device) -> None:
        weights = load_file(str(path / WEIGHTS), device=str(device))
        load_state_checked(networks, weights, str(path / WEIGHTS))

    @classmethod
    def load(cls, path: Path, networks: nn.Module, device: torch.device) -> dict[str, Any]:
        state = cls.read_state(path, device)
        cls.load_weights(path, networks, device)
        return state


def load_state_checked(module: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """``load_state_dict(strict=True)`` with one error listing every difference."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = [f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
              for k in sorted(set(own) & set(state)) if own[k].shape != state[k].shape]
    if missing or unexpected or shapes:
        lines = [f"{source} does not fit the model:"]
        if missing:
            lines.append(f"  missing keys ({len(missing)}): {', '.join(missing[:10])}" + (" …" if len(missing) > 10 else ""))
        if unexpected:
            lines.append(f"  unexpected keys ({len(unexpected)}): {', '.join(unexpected[:10])}" + (" …" if len(unexpected) > 10 else ""))
        if shapes:
            lines.append(f"  shape differences ({len(shapes)}): " + "; ".join(shapes[:10]))
        raise CheckpointError("\n".join(lines))
    module.load_state_dict(state, strict=True)


def export_model(model: nn.Module, path: Path, metadata: dict[str, Any]) -> None:
    """Save one network's weights with JSON-able metadata (model name, classes, …)."""
    tmp = path.with_name(f".{path.name}.tmp")
    save_file(_contiguous_state(model), str(tmp), metadata={"sskd": json.dumps(metadata)})
    os.replace(tmp, path)


def read_export_metadata(path: Path) -> dict[str, Any]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
    return json.loads(meta["sskd"]) if "sskd" in meta else {}


ORIGINAL_KEYS = ("model", "state_dict", "net")
STRIP_PREFIXES = ("module.", "backbone.")


def read_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """A network's state dict from a ``.safetensors`` file or a ``.pth``/``.pt`` checkpoint.

    Checkpoints of the original codebases keep the weights under ``model``,
    ``state_dict`` or ``net``, possibly with a ``module.`` (DataParallel) or
    ``backbone.`` (HSSAKD wrapper) prefix; both are stripped, and where a ``backbone.``
    part exists, everything else (auxiliary branches) is left out. ``.pth`` files are read
    with ``torch.load(weights_only=True)``: nothing in them is executed.
    """
    return strip_prefixes(read_state_dict(path))


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Every tensor of a checkpoint, keys as saved (see :func:`read_weights`)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {str(path)!r}: no such file")
    if path.suffix == ".safetensors":
        state = load_file(str(path))
    else:
        try:
            obj = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise CheckpointError(f"checkpoint {str(path)!r} cannot be read safely "
                                  f"(torch.load weights_only=True): {exc}") from None
        state = obj
        if isinstance(obj, dict):
            for key in ORIGINAL_KEYS:
                if key in obj and isinstance(obj[key], dict):
                    state = obj[key]
                    break
        if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
            raise CheckpointError(f"checkpoint {str(path)!r}: expected a state dict, or one under "
                                  f"{', '.join(ORIGINAL_KEYS)}")
    return state


def strip_prefixes(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    for prefix in STRIP_PREFIXES:
        if state and all(k.startswith(prefix) for k in state):
            state = {k[len(prefix):]: v for k, v in state.items()}
    if any(k.startswith("backbone.") for k in state):
        state = {k[len("backbone."):]: v for k, v in state.items() if k.startswith("backbone.")}
    return state


def load_pretrained(model: nn.Module, path: str | Path) -> None:
    """Load a checkpoint (ours or an original codebase's) into ``model``; differences are listed."""
    load_state_checked(model, read_weights(path), str(path))
