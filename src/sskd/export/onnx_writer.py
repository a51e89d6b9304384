"""``--format onnx``: the network with a dynamic batch axis, checked with onnxruntime."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sskd.export.check import check_logits, sample_batch
from sskd.export.errors import ExportError
from sskd.export.metadata import readable_metadata
from sskd.export.network import LogitsOnly
from sskd.export.output import replacing

INPUT_NAME = "input"
OUTPUT_NAME = "logits"
NEEDED = ("onnx", "onnxscript", "onnxruntime")


def write_onnx(model: LogitsOnly, meta: dict[str, Any], path: Path) -> float:
    """Export ``model`` (input ``"input"`` float ``[N, 3, S, S]``, output ``"logits"`` ``[N, K]``,
    ``N`` dynamic) with ``meta`` in ``metadata_props``, run it with onnxruntime and return
    the max abs logit difference to PyTorch."""
    missing = [name for name in NEEDED if importlib.util.find_spec(name) is None]
    if missing:
        raise ExportError(f"--format onnx needs {', '.join(missing)}; install the extra: "
                          f"pip install 'sskd[onnx]'")
    import onnxruntime

    # The dynamo (torch.export) exporter: the TorchScript one (dynamo=False) cannot export
    # the zoo's global pooling, whose kernel size is read from the input's shape.
    program = torch.onnx.export(model, (sample_batch(meta, n=2, seed=2),), dynamo=True,
                                input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                                dynamic_shapes=({0: torch.export.Dim("batch")},), verbose=False)
    program.model.metadata_props.update(readable_metadata(meta))
    with replacing(path) as tmp:
        program.save(str(tmp), external_data=False)
        session = onnxruntime.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])

        def run(x: torch.Tensor) -> np.ndarray:
            return session.run([OUTPUT_NAME], {INPUT_NAME: x.numpy()})[0]

        return check_logits(run, model, meta, "onnxruntime", path)
