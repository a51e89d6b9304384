"""Stages trained once and reused across runs.

A *cacheable* stage (``Method.cacheable``, e.g. SSKD's teacher head) produces a network
that depends only on the frozen teacher checkpoint and the stage's own settings. The
released SSKD code retrains the teacher head inside every student run (SSKD.md §2.2); here
the first run trains it and saves it under ``<cache_dir>/<method>-<key>.safetensors``, and
every later run with the same key loads it instead.

The key hashes everything that determines the result: the teacher checkpoint's bytes
(SHA-256), the teacher model, the stage (method, schedule, resolved hyper-parameters,
seed, position), the data (set, root, size and classes, batch, split options, and the
run's seed when that seed picks the training images), mixed precision and the number of
processes. A teacher-side stage trains on the clean labels, so label noise is not in its
key (:class:`sskd.engine.data.RunData`). Kernel choices (``channels_last``, ``compile``,
``deterministic``) are not in it: they change results only at rounding level. A stage whose seed follows the run's seed
therefore gets one cache entry per seed; give it its own ``seed`` to share one entry.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import warnings
from pathlib import Path
from typing import Any, Optional

from safetensors.torch import load_file, save_file
from torch import nn

from sskd.config import RunConfig
from sskd.engine.checkpoint import CheckpointError, load_state_checked, read_export_metadata

CACHE_FORMAT = 1


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def stage_cache_key(config: RunConfig, index: int, world_size: int, hparams: dict[str, Any],
                    data_fingerprint: dict[str, Any]) -> dict[str, Any]:
    """Everything the result of stage ``index`` depends on, as a JSON-able dict:
    ``hparams`` are the method's resolved hyper-parameters (defaults filled in), and
    ``data_fingerprint`` says which data it read (root, training-set size, classes)."""
    from sskd.methods import method_class

    stage = config.stages[index]
    data = config.data
    label_noise = 0.0 if method_class(stage.method).teacher_side else data.label_noise  # clean labels
    picks_images = data.val_fraction > 0 or data.train_fraction < 1 or label_noise > 0
    schedule = {k: v for k, v in dataclasses.asdict(stage).items() if k not in ("name", "args")}
    return {
        "format": CACHE_FORMAT,
        "teacher": {"name": config.teacher.name, "args": config.teacher.args,
                    "sha256": file_sha256(config.teacher.checkpoint)},
        "stage": {**schedule, "hparams": hparams, "seed": config.stage_seed(index), "index": index},
        "data": {"name": data.name, "batch_size": data.batch_size, "drop_last": data.drop_last,
                 "image_size": data.image_size, "val_fraction": data.val_fraction,
                 "train_fraction": data.train_fraction, "label_noise": label_noise,
                 "seed": config.seed if picks_images else None, **data_fingerprint},
        "amp": config.speed.amp,
        "world_size": world_size,
    }


def key_digest(key: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]


class StageCache:
    """Networks of cacheable stages, one ``.safetensors`` file per key (see module docstring)."""

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)

    def path(self, method: str, key: dict[str, Any]) -> Path:
        return self.directory / f"{method}-{key_digest(key)}.safetensors"

    def lookup(self, method: str, key: dict[str, Any]) -> Optional[Path]:
        """The cached file for ``key``, or None. A file whose stored key differs (a hash
        collision or a hand-edited file) is not used, nor is one that cannot be read (a
        damaged entry is trained again and replaced)."""
        path = self.path(method, key)
        if not path.is_file():
            return None
        try:
            stored = read_export_metadata(path).get("cache_key")
        except CheckpointError as exc:
            warnings.warn(f"stage cache: {exc}; training the stage again", stacklevel=2)
            return None
        return path if stored == json.loads(json.dumps(key)) else None

    def load(self, path: Path, network: nn.Module) -> dict[str, Any]:
        """Load the cached weights into ``network``; returns the file's metadata."""
        device = next(iter(network.state_dict().values())).device
        load_state_checked(network, load_file(str(path), device=str(device)), str(path))
        return read_export_metadata(path)

    def save(self, method: str, key: dict[str, Any], network: nn.Module,
             metadata: dict[str, Any]) -> Path:
        """Write atomically (unique temporary file, then rename): runs that train the same
        entry at once each leave a complete file, and the last rename wins."""
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.path(method, key)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        state = {k: v.detach().contiguous().cpu() for k, v in network.state_dict().items()}
        save_file(state, str(tmp), metadata={"sskd": json.dumps({**metadata, "cache_key": key})})
        os.replace(tmp, path)
        return path


def cache_directory(config: RunConfig) -> Path:
    return Path(config.output.cache_dir) if config.output.cache_dir else Path(config.output.dir) / "cache"


