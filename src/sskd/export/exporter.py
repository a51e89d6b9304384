"""``export_run``: a run's trained student, alone, in one deployable format."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

from sskd.engine.checkpoint import read_export_metadata
from sskd.export.check import TOLERANCE
from sskd.export.errors import ExportError
from sskd.export.metadata import export_metadata
from sskd.export.network import LogitsOnly, load_student
from sskd.export.onnx_writer import write_onnx
from sskd.export.output import output_path
from sskd.export.safetensors_writer import write_safetensors
from sskd.export.torchscript_writer import write_torchscript

RUN_WEIGHTS = "model.safetensors"
# format -> (default file name under RUN/export/, writer, what the check compares with)
FORMATS = {
    "onnx": ("model.onnx", write_onnx, "onnxruntime"),
    "torchscript": ("model.pt", write_torchscript, "TorchScript"),
    "safetensors": ("model.safetensors", write_safetensors, "reloaded safetensors"),
}


def export_run(run_dir: str | Path, fmt: str, out: Optional[str | Path] = None, force: bool = False,
               log: Optional[Callable[[str], None]] = None) -> Path:
    """Write the trained network of ``run_dir`` (a run directory, or its ``model.safetensors``)
    as ``fmt`` and return the file's path.

    Only the plain network is written (no SSKD heads, no HSSAKD branches), in eval mode
    and fp32, taking normalised images ``[N, 3, S, S]`` and returning logits ``[N, K]``;
    the file carries the preprocessing in its metadata (:func:`export_metadata`). The
    default ``out`` is ``RUN/export/model.{onnx,pt,safetensors}``; an existing file is
    replaced only with ``force``. Every file is read back and its logits compared with
    PyTorch's on a fixed batch (``log`` receives the difference); :class:`ExportError`
    says what cannot be done.
    """
    if fmt not in FORMATS:
        raise ExportError(f"format {fmt!r}: expected one of {', '.join(FORMATS)}")
    file_name, write, reader = FORMATS[fmt]
    weights = run_weights(Path(run_dir))
    meta = export_metadata(read_export_metadata(weights), weights)
    path = output_path(weights.parent, file_name, out, force)
    model = LogitsOnly(load_student(weights, meta))
    diff = write(model, meta, path)
    if log is not None:
        log(f"{fmt} check: max abs difference {diff:.3g} between {reader} and PyTorch logits "
            f"on a fixed batch (tolerance {TOLERANCE:g})")
        log(f"wrote {path}")
    return path


def run_weights(run: Path) -> Path:
    """``run/model.safetensors``, or ``run`` itself when it is a ``.safetensors`` file."""
    if run.is_dir():
        weights = run / RUN_WEIGHTS
        if not weights.is_file():
            raise ExportError(f"{run} has no {RUN_WEIGHTS}; expected the directory of a finished training run")
        return weights
    if run.is_file() and run.suffix == ".safetensors":
        return run
    raise ExportError(f"{run}: no such run directory; expected a run directory holding {RUN_WEIGHTS}")
