"""A trained network read back from disk: a run directory, its ``model.safetensors``
(model, classes and data set named in the file's metadata), or any state dict together
with a model name (the original codebases' ``.pth`` files included)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from torch import nn

from sskd.engine.checkpoint import CheckpointError, load_pretrained, read_export_metadata


@dataclass
class SavedNetwork:
    """``path``: the weights file read; ``model``: its network name; ``dataset``: the data
    set it was trained on (``None`` when neither the file nor the caller says);
    ``meta``: the file's sskd metadata (empty for a plain state dict)."""

    path: Path
    model: str
    dataset: Optional[str]
    meta: dict[str, Any]

    def build(self, num_classes: Optional[int] = None) -> nn.Module:
        """The network with its weights loaded; ``num_classes`` overrides the metadata's
        and is needed only when the metadata does not give it."""
        from sskd.models import build_model

        classes = num_classes or self.meta.get("num_classes")
        if classes is None:
            raise CheckpointError(f"{self.path}: the checkpoint does not give its number of classes; "
                                  f"pass it (--num-classes)")
        network = build_model(self.model, num_classes=classes, **self.meta.get("model_args", {}))
        load_pretrained(network, self.path, self.model)
        return network


def locate_saved_network(checkpoint: str | Path, model: Optional[str] = None,
                         dataset: Optional[str] = None) -> SavedNetwork:
    """Find the weights file of ``checkpoint`` (a run directory means its ``model.safetensors``)
    and what it is; ``model`` and ``dataset`` override the metadata. Refuses a path that does
    not exist, a run directory without ``model.safetensors``, and a file that names no model
    when ``model`` is not given."""
    given = Path(checkpoint)
    if not given.exists():
        raise CheckpointError(f"{checkpoint}: no such file or run directory")
    path = given / "model.safetensors" if given.is_dir() else given
    if not path.is_file():
        raise CheckpointError(f"{checkpoint}: a folder without model.safetensors (is the run finished?)")
    meta = read_export_metadata(path) if path.suffix == ".safetensors" else {}
    model = model or meta.get("model")
    if model is None:
        raise CheckpointError(f"{path}: the checkpoint does not name its model; pass --model")
    return SavedNetwork(path=path, model=model, dataset=dataset or meta.get("dataset"), meta=meta)
