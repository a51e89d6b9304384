"""``--format onnx``: checked with onnxruntime, dynamic batch, metadata in ``metadata_props``."""

import json
import re

import pytest
from export_helpers import images, logits_of, write_run

from sskd.export import export_run

onnx = pytest.importorskip("onnx")
onnxruntime = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")


def test_onnx_matches_pytorch_and_carries_the_preprocessing(tmp_path):
    network = write_run(tmp_path / "run")
    lines = []
    path = export_run(tmp_path / "run", "onnx", log=lines.append)
    assert path == tmp_path / "run" / "export" / "model.onnx"
    reported = float(re.search(r"max abs difference (\S+)", lines[0]).group(1))
    print(lines[0])
    assert reported <= 1e-4

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = images(3)  # a batch size the export never saw
    (got,) = session.run(["logits"], {"input": x.numpy()})
    assert got.shape == (3, 10)
    assert abs(got - logits_of(network, x).numpy()).max() <= 1e-4

    model = onnx.load(str(path))
    props = {p.key: p.value for p in model.metadata_props}
    assert json.loads(props["mean"]) == [0.3053] * 3 and json.loads(props["std"]) == [0.3234] * 3
    assert json.loads(props["input_size"]) == 32
    assert json.loads(props["class_names"]) == [f"digit {i}" for i in range(10)]
    assert json.loads(props["sskd"])["input"]["layout"] == "NCHW"
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param  # symbolic batch axis
