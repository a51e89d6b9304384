"""Checkpoints: weights in safetensors, the rest loaded with ``weights_only=True``.

A run's checkpoints live in ``<run>/checkpoints/<tag>/`` (``weights.safetensors`` with
every network of the run, ``state.pt`` with the optimiser state, stage and epoch).
Each is written into a temporary folder that is then renamed, and the ``latest`` file
naming the newest one is itself replaced atomically, so a kill at any moment leaves
the previous complete checkpoint in place.
"""

from __future__ import annotations

import argparse
import json
import pickle
import os
import pickletools
import re
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Optional

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from sskd.errors import UserError

LATEST = "latest"
WEIGHTS = "weights.safetensors"
STATE = "state.pt"


class CheckpointError(UserError):
    """A checkpoint that cannot be used as asked; the message says why and where."""


class UnsafeCheckpointError(CheckpointError, pickle.UnpicklingError):
    """A checkpoint's pickle names what ``torch.load(weights_only=True)`` refuses to rebuild."""


def _contiguous_state(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().contiguous().cpu() for k, v in module.state_dict().items()}


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


TMP_SUFFIX = ".tmp"  # every temporary file of a write is named ``.<name>.<…>.tmp``


def is_temporary(name: str) -> bool:
    """Whether ``name`` is a temporary file or folder of an unfinished write (left by a kill)."""
    return name.startswith(".tmp-") or (name.startswith(".") and name.endswith(TMP_SUFFIX))


def atomic_write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TMP_SUFFIX)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
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
            # renamed first: a kill while deleting leaves a hidden temporary folder, not a partial checkpoint
            junk = Path(tempfile.mkdtemp(dir=self.dir, prefix=f".tmp-del-{old}-"))
            os.replace(self.dir / old, junk / old)
        _fsync(self.dir)
        remove_temporaries(self.dir)

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
        file = path / STATE
        try:
            state = torch.load(file, map_location=device, weights_only=True)
        except pickle.UnpicklingError as exc:
            raise UnsafeCheckpointError(f"{file}: torch.load(weights_only=True) refuses {_refused(file, exc)}, "
                                        f"which a checkpoint written by sskd never holds; "
                                        f"{_damaged_hint(path)}") from None
        except Exception as exc:
            raise CheckpointError(f"{file}: {_torch_load_problem(file, exc)}; {_damaged_hint(path)}") from None
        if not isinstance(state, dict):
            raise CheckpointError(f"{file}: expected the run state written by sskd (a dict), got "
                                  f"{_describe(state)}; {_damaged_hint(path)}")
        return state

    @staticmethod
    def load_weights(path: Path, networks: nn.Module, device: torch.device) -> None:
        file = path / WEIGHTS
        try:
            weights = load_file(str(file), device=str(device))
        except Exception as exc:
            raise CheckpointError(f"{file}: not a readable safetensors file ({_short(exc)}); "
                                  f"{_damaged_hint(path)}") from None
        load_state_checked(networks, weights, str(file))

    @classmethod
    def load(cls, path: Path, networks: nn.Module, device: torch.device) -> dict[str, Any]:
        state = cls.read_state(path, device)
        cls.load_weights(path, networks, device)
        return state


_SHOWN = 5  # keys (or differences) an error lists of each kind


def load_state_checked(module: nn.Module, state: dict[str, torch.Tensor], source: str,
                       network: Optional[str] = None) -> None:
    """``load_state_dict(strict=True)`` with one error listing the differences.

    ``network`` (a zoo name, e.g. ``"resnet32x4"``) is named in the error; the first few
    missing keys (in the network's order), unexpected keys (in the checkpoint's order) and
    shape differences are listed with their counts.
    """
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
              for k in own if k in state and own[k].shape != state[k].shape]
    if missing or unexpected or shapes:
        target = f"network {network!r}" if network else "the model"
        lines = [f"{source} does not fit {target}:"]
        for title, items, sep in (("missing keys", missing, ", "), ("unexpected keys", unexpected, ", "),
                                  ("shape differences", shapes, "; ")):
            if items:
                more = " …" if len(items) > _SHOWN else ""
                lines.append(f"  {title} ({len(items)}): {sep.join(items[:_SHOWN])}{more}")
        if not set(own) & set(state):
            lines.append("  no key in common: a checkpoint of another network, or of a layout not known here")
        raise CheckpointError("\n".join(lines))
    module.load_state_dict(state, strict=True)


def export_model(model: nn.Module, path: Path, metadata: dict[str, Any]) -> None:
    """Save one network's weights with JSON-able metadata (model name, classes, …)."""
    tmp = path.with_name(f".{path.name}{TMP_SUFFIX}")
    save_file(_contiguous_state(model), str(tmp), metadata={"sskd": json.dumps(metadata)})
    _fsync(tmp)
    os.replace(tmp, path)
    _fsync(path.parent)


def remove_temporaries(folder: Path) -> None:
    """Delete what unfinished writes left in ``folder`` (see :func:`is_temporary`); only
    while no write to it is under way (the run's one writing process, between writes)."""
    if not folder.is_dir():
        return
    for entry in folder.iterdir():
        if is_temporary(entry.name):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


def read_export_metadata(path: Path) -> dict[str, Any]:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except Exception as exc:
        raise CheckpointError(_unreadable_safetensors(path, exc)) from None
    try:
        return json.loads(meta["sskd"]) if "sskd" in meta else {}
    except ValueError as exc:
        raise CheckpointError(f"checkpoint {str(path)!r}: its 'sskd' metadata is not valid JSON ({exc})") from None


def _short(exc: BaseException) -> str:
    """``Type: message`` with only the message's first sentence (torch's run on for lines)."""
    text = " ".join(str(exc).split())
    first = text.split(". ", 1)[0][:200]
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def _torch_load_problem(path: Path, exc: BaseException) -> str:
    """Why ``torch.load`` could not read ``path``, judged from its first bytes."""
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError:
        head = b""
    if head.startswith(b"PK"):
        return f"a truncated or damaged torch.save archive ({_short(exc)})"
    if head.startswith(b"\x80"):
        return f"a truncated or damaged pickle ({_short(exc)})"
    return f"not a torch.save file (it begins with {head!r})"


def _unreadable_safetensors(path: Path, exc: BaseException) -> str:
    return (f"checkpoint {str(path)!r} is not a readable safetensors file ({_short(exc)}): "
            f"it is truncated, damaged or in another format")


def _damaged_hint(checkpoint: Path) -> str:
    """How to resume anyway from a run's damaged checkpoint folder ``checkpoint``."""
    others = sorted(p.name for p in checkpoint.parent.iterdir()
                    if p.is_dir() and not p.name.startswith(".") and p != checkpoint)
    if others:
        return (f"the checkpoint is damaged: to resume from the one before, delete {checkpoint} and write "
                f"{others[-1]!r} into {checkpoint.parent / LATEST}")
    return "the checkpoint is damaged and there is no earlier one: start the run over"


ORIGINAL_KEYS = ("model", "state_dict", "net")
STRIP_PREFIXES = ("module.", "backbone.")
# Harmless objects the original codebases pickle next to the weights: RepDistiller's
# ``<model>_last.pth`` keeps the run's argparse options under ``opt``.
SAFE_GLOBALS = (argparse.Namespace,)


def read_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """A network's state dict from a ``.safetensors`` file or a ``.pth``/``.pt`` checkpoint.

    Checkpoints of the original codebases keep the weights under ``model``,
    ``state_dict`` or ``net`` (or bare), possibly with a ``module.`` (DataParallel) or
    ``backbone.`` (HSSAKD or SSKD wrapper) prefix; both are stripped, and where a
    ``backbone.`` part exists, everything else (auxiliary branches, projection head) is
    left out. ``.pth`` files are read with ``torch.load(weights_only=True)``: nothing in
    them is executed.
    """
    return strip_prefixes(read_state_dict(path))


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Every tensor of a checkpoint, keys as saved (see :func:`read_weights`).

    Anything else is refused with one :class:`CheckpointError` naming the file and what
    it holds instead (its top-level keys, or the object pickled in it).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {str(path)!r}: no such file")
    if path.suffix == ".safetensors":
        try:
            return load_file(str(path))
        except Exception as exc:
            raise CheckpointError(_unreadable_safetensors(path, exc)) from None
    try:
        with torch.serialization.safe_globals(list(SAFE_GLOBALS)):
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:  # what weights_only refuses to rebuild
        raise CheckpointError(f"checkpoint {str(path)!r} cannot be read safely: torch.load(weights_only=True) "
                              f"refuses {_refused(path, exc)} (a whole pickled model or another object, "
                              f"not weights), so save its state_dict() instead") from None
    except Exception as exc:  # truncated, corrupt, or not a torch file at all
        raise CheckpointError(f"checkpoint {str(path)!r} is not a readable torch checkpoint: "
                              f"{_torch_load_problem(path, exc)}; expected a "
                              f".safetensors file or a torch.save'd state dict (.pth/.pt)") from None
    state = _unwrap(obj)
    if state is None:
        wrappers = ", ".join(map(repr, ORIGINAL_KEYS[:-1])) + f" or {ORIGINAL_KEYS[-1]!r}"
        raise CheckpointError(f"checkpoint {str(path)!r} holds no state dict (tensors at the top level or "
                              f"under {wrappers}): it holds {_describe(obj)}")
    return state


def _is_state_dict(obj: Any) -> bool:
    return (isinstance(obj, dict) and bool(obj) and all(isinstance(k, str) for k in obj)
            and all(isinstance(v, torch.Tensor) for v in obj.values()))


def _unwrap(obj: Any) -> Optional[dict[str, torch.Tensor]]:
    if _is_state_dict(obj):
        return dict(obj)
    if isinstance(obj, dict):
        for key in ORIGINAL_KEYS:
            if _is_state_dict(obj.get(key)):
                return dict(obj[key])
    return None


def _describe(obj: Any) -> str:
    if isinstance(obj, dict):
        if not obj:
            return "an empty dict"
        keys = ", ".join(repr(k) for k in list(obj)[:_SHOWN])
        return f"top-level keys {keys}" + (f" and {len(obj) - _SHOWN} more" if len(obj) > _SHOWN else "")
    return f"a {type(obj).__name__}"


def _pickled_globals(path: Path) -> list[str]:
    """The classes and functions a ``torch.save`` file names, in order of appearance (the
    top-level object's class first), read from its pickle opcodes without running them."""
    try:
        with zipfile.ZipFile(path) as archive:
            data = archive.read(next(n for n in archive.namelist() if n.endswith("data.pkl")))
        names, strings = [], []
        for op, arg, _ in pickletools.genops(data):
            if op.name == "GLOBAL":
                names.append(arg.replace(" ", "."))
            elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
                names.append(f"{strings[-2]}.{strings[-1]}")
            elif isinstance(arg, str):
                strings.append(arg)
        return list(dict.fromkeys(names))
    except Exception:
        return []


def _refused(path: Path, exc: Exception) -> str:
    """What ``weights_only`` refused: the pickled classes, found without running them."""
    try:
        unsafe = set(torch.serialization.get_unsafe_globals_in_checkpoint(path))
    except Exception:
        unsafe = set()
    unsafe -= {f"{g.__module__}.{g.__qualname__}" for g in SAFE_GLOBALS}
    names = [n for n in _pickled_globals(path) if n in unsafe] or sorted(unsafe)
    names = names or re.findall(r"GLOBAL ([\w.]+)", str(exc))[:1]  # a raw pickle: torch names the first
    if names:
        return "the pickled " + ", ".join(names[:3]) + (" …" if len(names) > 3 else "")
    return f"its content ({type(exc).__name__})"


def strip_common_prefix(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """``state`` without ``prefix`` when every key has it (e.g. DataParallel's ``module.``)."""
    if state and all(k.startswith(prefix) for k in state):
        return {k[len(prefix):]: v for k, v in state.items()}
    return state


def strip_prefixes(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    for prefix in STRIP_PREFIXES:
        state = strip_common_prefix(state, prefix)
    if any(k.startswith("backbone.") for k in state):
        state = {k[len("backbone."):]: v for k, v in state.items() if k.startswith("backbone.")}
    return state


def load_pretrained(model: nn.Module, path: str | Path, network: Optional[str] = None) -> None:
    """Load a checkpoint (ours or an original codebase's) into ``model``; the error for one
    that does not fit names ``network`` (the zoo name) and lists the differences."""
    from sskd.models.original_branches import rename_original_backbone

    load_state_checked(model, rename_original_backbone(model, read_weights(path)), str(path), network)


def read_branch_weights(path: str | Path, branches: nn.Module) -> dict[str, torch.Tensor]:
    """The HSSAKD auxiliary branches held by a checkpoint, named as ``branches`` (an
    :class:`~sskd.models.branches.AuxBranches`) names them: ours (``branches.*``, as an
    ``hssakd_teacher`` or ``hssakd_joint`` run exports them) or those of the authors'
    released ``*_aux`` checkpoints (``auxiliary_classifier.*``, renamed by
    :func:`~sskd.models.original_branches.map_original_branches`). ``module.`` prefixes are
    removed first. Empty when the checkpoint holds neither.
    """
    from sskd.models.original_branches import has_original_branches, map_original_branches

    state = strip_common_prefix(read_state_dict(path), "module.")
    ours = {k[len("branches."):]: v for k, v in state.items() if k.startswith("branches.")}
    if ours:
        return ours
    return map_original_branches(state, branches) if has_original_branches(state) else {}
