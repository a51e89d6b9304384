"""FitNet: the ConvReg of every pair of BASELINES.md §3, a few training steps, weight 0."""

import pytest
import torch
from torch import nn

from distill_helpers import built_method, random_views, train_steps
from sskd.config import config_from_dict
from sskd.methods.adapters import ConvReg, feature_shape, shape_conv
from sskd.methods.baseline import meta_outputs
from sskd.methods.fitnet import HINT_LAYER

# (teacher, student) → the regressor's first layer, as the spec's ConvReg table gives it.
PAIRS = {
    ("wrn_40_2", "wrn_16_2"): ("conv", 64, 64, 1), ("wrn_40_2", "wrn_40_1"): ("conv", 32, 64, 1),
    ("resnet56", "resnet20"): ("conv", 32, 32, 1), ("resnet110", "resnet32"): ("conv", 32, 32, 1),
    ("resnet32x4", "resnet8x4"): ("conv", 128, 128, 1), ("vgg13", "vgg8"): ("conv", 256, 256, 1),
    ("vgg13", "MobileNetV2"): ("conv", 16, 256, 1), ("ResNet50", "MobileNetV2"): ("convT", 16, 512, 4),
    ("ResNet50", "vgg8"): ("convT", 256, 512, 4), ("resnet32x4", "ShuffleV1"): ("convT", 480, 128, 4),
    ("resnet32x4", "ShuffleV2"): ("convT", 232, 128, 4), ("wrn_40_2", "ShuffleV1"): ("convT", 480, 64, 4),
}


@pytest.mark.parametrize("pair", sorted(PAIRS))
def test_regressor_of_every_pair_of_the_tables(pair):
    teacher, student = pair
    config = config_from_dict({"model": {"name": student}, "teacher": {"name": teacher},
                               "stages": [{"method": "fitnet"}]})
    s, t = meta_outputs(config)
    conv = shape_conv(feature_shape(s.feats[HINT_LAYER]), feature_shape(t.feats[HINT_LAYER]))
    kind, c_in, c_out, k = PAIRS[pair]
    assert isinstance(conv, nn.ConvTranspose2d if kind == "convT" else nn.Conv2d)
    assert (conv.in_channels, conv.out_channels, conv.kernel_size[0]) == (c_in, c_out, k)
    with torch.device("meta"):
        assert ConvReg(feature_shape(s.feats[HINT_LAYER]), feature_shape(t.feats[HINT_LAYER]))(
            s.feats[HINT_LAYER]).shape == t.feats[HINT_LAYER].shape


def test_a_hint_map_no_convreg_can_reach_is_refused():
    with pytest.raises(ValueError, match="4x3x3"):
        shape_conv((4, 3, 3), (8, 8, 8))


def test_trains_student_and_regressor_with_the_weighted_hint(teacher_file):
    torch.manual_seed(0)
    method, networks = built_method(teacher_file, "fitnet")
    assert set(networks) == {"teacher", "student", "fitnet_regressor"}
    trained = {id(p) for p in method.trainable_parameters()}
    assert all(id(p) in trained for p in networks["fitnet_regressor"].parameters())
    assert not any(id(p) in trained for p in networks["teacher"].parameters())
    values = train_steps(method, random_views("standard", b=8), "fitnet", {"ce", "fitnet"})
    assert values[-1] < values[0]


def test_weight_zero_removes_the_hint_and_kd_weight_adds_kd(teacher_file):
    method, _ = built_method(teacher_file, "fitnet", {"fitnet_weight": 0.0, "kd_weight": 1.0})
    _, losses = method.forward_train(random_views("standard", b=4))
    assert set(losses) == {"ce", "kd"}
    with pytest.raises(ValueError, match="every loss weight is 0"):
        built_method(teacher_file, "fitnet", {"fitnet_weight": 0.0, "ce_weight": 0.0})
