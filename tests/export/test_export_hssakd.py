"""A joint HSSAKD run's ``model.safetensors`` holds backbone and branches; the export the backbone only."""

import pytest
import torch
from export_helpers import images, logits_of, write_run
from safetensors.torch import load_file

from sskd.export import export_run
from sskd.models import build_model
from sskd.models.branches import build_aux_model


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")
def test_hssakd_export_holds_the_backbone_alone(tmp_path):
    torch.manual_seed(0)
    aux = write_run(tmp_path / "run", net=build_aux_model("resnet8", num_classes=10))
    assert any(k.startswith("branches.") for k in load_file(str(tmp_path / "run" / "model.safetensors")))
    path = export_run(tmp_path / "run", "safetensors")
    keys = set(load_file(str(path)))
    assert keys == set(build_model("resnet8", num_classes=10).state_dict())
    assert not any("branches" in k for k in keys)
    x = images(2)
    traced = torch.jit.load(str(export_run(tmp_path / "run", "torchscript")))
    torch.testing.assert_close(traced(x), logits_of(aux.backbone, x), rtol=0, atol=1e-5)
