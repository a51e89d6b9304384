"""``--format torchscript``: a traced module with the metadata in ``sskd.json``."""

import json

import pytest
import torch
from export_helpers import images, logits_of, write_run

from sskd.export import export_run


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")
def test_torchscript_gives_the_network_logits_and_carries_the_metadata(tmp_path):
    network = write_run(tmp_path / "run")
    path = export_run(tmp_path / "run", "torchscript")
    assert path == tmp_path / "run" / "export" / "model.pt"
    extra = {"sskd.json": ""}
    module = torch.jit.load(str(path), _extra_files=extra)
    x = images(3)
    torch.testing.assert_close(module(x), logits_of(network, x), rtol=0, atol=1e-5)
    meta = json.loads(extra["sskd.json"])
    assert meta["model"] == "resnet8" and meta["num_classes"] == 10 and meta["input_size"] == 32
    assert meta["class_names"][3] == "digit 3" and meta["mean"] == [0.3053] * 3
    assert meta["input"]["layout"] == "NCHW" and meta["input"]["channels"] == "RGB"
    assert meta["output"]["shape"] == ["N", 10]
