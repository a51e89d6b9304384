"""``--format safetensors``: the plain network's state dict with the metadata."""

import json

from export_helpers import images, logits_of, write_run
from safetensors import safe_open
from safetensors.torch import load_file

from sskd.engine.checkpoint import load_state_checked, read_export_metadata
from sskd.export import export_run
from sskd.models import build_model


def test_safetensors_loads_into_build_model_with_equal_logits(tmp_path):
    network = write_run(tmp_path / "run")
    path = export_run(tmp_path / "run", "safetensors", out=tmp_path / "deploy" / "student.safetensors")
    assert path == tmp_path / "deploy" / "student.safetensors"
    fresh = build_model("resnet8", num_classes=10)
    load_state_checked(fresh, load_file(str(path)), str(path))  # the keys of build_model, no others
    x = images(3)
    assert (logits_of(fresh, x) - logits_of(network, x)).abs().max().item() == 0.0
    meta = read_export_metadata(path)
    assert meta["input_size"] == 32 and meta["class_names"][0] == "digit 0" and meta["network"] == "student"
    with safe_open(str(path), framework="pt") as f:
        flat = f.metadata()
    assert json.loads(flat["std"]) == [0.3234] * 3 and json.loads(flat["input_size"]) == 32
    assert not list(tmp_path.glob("deploy/.tmp-*"))
