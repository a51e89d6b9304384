"""``--format safetensors``: the plain network's state dict (keys of ``build_model``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from safetensors.torch import save_file

from sskd.export.check import check_logits
from sskd.export.metadata import readable_metadata
from sskd.export.network import LogitsOnly, load_student
from sskd.export.output import replacing


def write_safetensors(model: LogitsOnly, meta: dict[str, Any], path: Path) -> float:
    """Write ``model.network``'s weights with ``meta`` (JSON under ``sskd`` plus readable keys),
    reload them into a fresh ``build_model`` network and return the max abs logit difference."""
    state = {k: v.detach().contiguous().cpu() for k, v in model.network.state_dict().items()}
    with replacing(path) as tmp:
        save_file(state, str(tmp), metadata=readable_metadata(meta))
        reloaded = LogitsOnly(load_student(tmp, meta))
        return check_logits(reloaded, model, meta, "the reloaded safetensors network", path)
