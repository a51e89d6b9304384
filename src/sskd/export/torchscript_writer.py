"""``--format torchscript``: the network traced at the run's input size, metadata in ``sskd.json``."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import torch

from sskd.export.check import check_logits, sample_batch
from sskd.export.network import LogitsOnly
from sskd.export.output import replacing

EXTRA_FILE = "sskd.json"


def write_torchscript(model: LogitsOnly, meta: dict[str, Any], path: Path) -> float:
    """Trace ``model`` on ``[2, 3, S, S]``, save it with ``meta`` as ``_extra_files["sskd.json"]``,
    load it back and return the max abs logit difference.

    Tracing, not scripting: the zoo networks use Python the TorchScript compiler rejects.
    The trace fixes the spatial size (some networks branch on it) but not the batch size.
    """
    with replacing(path) as tmp, warnings.catch_warnings():
        # torch.jit's deprecation notices, and TracerWarnings about shape-dependent Python
        # values, which only concern the spatial size the trace fixes anyway
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        traced = torch.jit.trace(model, sample_batch(meta, n=2, seed=2))
        torch.jit.save(traced, str(tmp), _extra_files={EXTRA_FILE: json.dumps(meta)})
        loaded = torch.jit.load(str(tmp), map_location="cpu")
        return check_logits(loaded, model, meta, "the TorchScript module", path)
