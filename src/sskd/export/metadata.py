"""What every exported file says about itself: the network and the preprocessing it expects."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sskd.export.errors import ExportError

TRAINED_NETWORK = "student"  # the ``network`` a run's model.safetensors names when it is the trained model
INPUT_LAYOUT = {
    "layout": "NCHW",
    "dtype": "float32",
    "channels": "RGB",
    "value_range": [0.0, 1.0],
    "normalisation": "x[:, c] = (x[:, c] - mean[c]) / std[c]",
}


def export_metadata(run_meta: dict[str, Any], weights: Path) -> dict[str, Any]:
    """The metadata of an exported student, from the run's ``model.safetensors`` metadata.

    Keys: ``model``, ``model_args``, ``num_classes``, ``class_names`` (``K`` strings),
    ``input_size`` (``S``: inputs are ``[N, 3, S, S]``), ``resize`` (how a photo became
    ``S×S`` when the student was tested: the shorter side resized, then a centre crop; ``None``
    for data sets stored at ``S``), ``mean``, ``std``, ``input`` (layout,
    dtype, channel order, value range and normalisation), ``output`` (logits ``[N, K]``),
    and the run's ``dataset``, ``stage`` and ``network``. Missing data-set fields are read
    from :func:`sskd.data.dataset_info` where the data set is known.
    """
    network = run_meta.get("network", TRAINED_NETWORK)
    if network != TRAINED_NETWORK:
        raise ExportError(f"{weights} holds the {network!r} network of stage {run_meta.get('stage')!r}, "
                          f"a teacher-side stage: no trained student to export")
    if not run_meta.get("model"):
        raise ExportError(f"{weights}: its metadata names no model; expected a model.safetensors "
                          f"written by a training run")
    info = _dataset_info(run_meta.get("dataset"))
    fields = {}
    for key in ("num_classes", "image_size", "mean", "std"):
        value = run_meta.get(key)
        value = getattr(info, key, None) if value is None else value
        if value is None:
            raise ExportError(f"{weights}: its metadata has no {key!r} and its data set "
                              f"{run_meta.get('dataset')!r} does not say it")
        fields[key] = value
    k = int(fields["num_classes"])
    size = int(fields["image_size"])
    return {
        "model": run_meta["model"],
        "model_args": dict(run_meta.get("model_args") or {}),
        "num_classes": k,
        "class_names": _class_names(run_meta.get("class_names"), info, k),
        "input_size": size,
        "resize": _resize(run_meta.get("dataset"), size),
        "mean": [float(v) for v in fields["mean"]],
        "std": [float(v) for v in fields["std"]],
        "input": dict(INPUT_LAYOUT),
        "output": {"name": "logits", "shape": ["N", k]},
        "dataset": run_meta.get("dataset"),
        "stage": run_meta.get("stage"),
        "network": network,
    }


def _resize(dataset: str | None, size: int) -> dict[str, int] | None:
    from sskd.data.dataset import eval_resize
    from sskd.data.registry import FOLDER_DATASETS

    if str(dataset).lower() not in FOLDER_DATASETS:
        return None
    return {"shorter_side": eval_resize(size), "center_crop": size}


def readable_metadata(meta: dict[str, Any]) -> dict[str, str]:
    """String key/values for formats whose metadata is a flat string map (ONNX, safetensors):
    everything as JSON under ``sskd``, plus ``mean``, ``std``, ``input_size``, ``class_names``."""
    flat = {"sskd": json.dumps(meta)}
    flat.update({key: json.dumps(meta[key]) for key in ("mean", "std", "input_size", "class_names")})
    return flat


def _dataset_info(name: str | None):
    """``sskd.data.dataset_info(name)``, or ``None`` where it cannot say (unknown, folder data set)."""
    if not name:
        return None
    from sskd.data import dataset_info

    try:
        return dataset_info(name)
    except (ValueError, KeyError):
        return None


def _class_names(names, info, k: int) -> list[str]:
    """The run's class names, else the data set's, else ``"0"`` … ``"K-1"``."""
    for candidate in (names, getattr(info, "class_names", None)):
        if candidate and len(candidate) == k:
            return [str(name) for name in candidate]
    return [str(i) for i in range(k)]
