"""A frozen teacher is rebuilt as it was trained: its own args, else its file's metadata."""

import torch
from torch import nn

from sskd.config import config_from_dict
from sskd.engine.checkpoint import export_model
from sskd.methods import MethodContext
from sskd.methods.teacher import frozen_teacher
from sskd.models import build_model


def teacher_from(path, args=None):
    config = config_from_dict({"model": {"name": "resnet8"},
                               "teacher": {"name": "MobileNetV2", "checkpoint": str(path), "args": args or {}},
                               "stages": [{"method": "kd"}]})
    return frozen_teacher(MethodContext(config, config.stages[0], 10, nn.ModuleDict()))


def stem_side(network) -> int:
    return network(torch.zeros(1, 3, 32, 32)).feats[0].shape[-1]


def test_a_hssakd_mobilenetv2_teacher_keeps_its_stride_one_stem(tmp_path):
    trained = build_model("MobileNetV2", num_classes=10, stem_stride=1)
    path = tmp_path / "model.safetensors"
    export_model(trained, path, {"network": "student", "model": "MobileNetV2", "model_args": {"stem_stride": 1}})
    assert stem_side(trained) == 32 and stem_side(teacher_from(path)) == 32
    assert stem_side(teacher_from(path, {"stem_stride": 2})) == 16  # given args win


def test_metadata_of_another_network_is_not_borrowed(tmp_path):
    path = tmp_path / "model.safetensors"
    export_model(build_model("MobileNetV2", num_classes=10), path,
                 {"network": "student", "model": "resnet8", "model_args": {"stem_stride": 1}})
    assert stem_side(teacher_from(path)) == 16
