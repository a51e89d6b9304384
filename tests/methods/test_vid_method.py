"""VID: the (C_s, C_t) of every layer for the pairs of BASELINES.md §3, σ² starting at 5.0, a
few training steps, weight 0, a pair with different stage counts refused."""

import pytest
import torch
from torch import nn

from distill_helpers import built_method, random_views, train_steps
from sskd.config import config_from_dict
from sskd.losses.vid import vid_variance
from sskd.methods.baseline import meta_outputs
from sskd.methods.vid import VID, VIDRegressors

PAIRS = {
    ("wrn_40_2", "wrn_40_1"): [(16, 32), (32, 64), (64, 128)],
    ("vgg13", "MobileNetV2"): [(12, 128), (16, 256), (48, 512), (160, 512)],
    ("resnet32x4", "ShuffleV1"): [(240, 64), (480, 128), (960, 256)],
}


def pair_config(teacher, student):
    return config_from_dict({"model": {"name": student}, "teacher": {"name": teacher},
                             "stages": [{"method": "vid"}]})


@pytest.mark.parametrize("pair", sorted(PAIRS))
def test_regressors_of_the_spec_pairs(pair):
    s, t = meta_outputs(pair_config(*pair))
    assert VID.pair_problem(s, t) == ""
    channels = [(a.shape[1], b.shape[1]) for a, b in zip(s.feats[1:], t.feats[1:])]
    assert channels == PAIRS[pair]
    with torch.device("meta"):
        vid = VIDRegressors(channels)
        for a, b, regressor, alpha in zip(s.feats[1:], t.feats[1:], vid.regressors, vid.log_scales):
            convs = [m for m in regressor if isinstance(m, nn.Conv2d)]
            assert [(c.in_channels, c.out_channels, c.kernel_size, c.bias) for c in convs] == [
                (a.shape[1], b.shape[1], (1, 1), None), (b.shape[1], b.shape[1], (1, 1), None),
                (b.shape[1], b.shape[1], (1, 1), None)]
            assert regressor(a).shape[1] == b.shape[1] and alpha.shape == (b.shape[1],)


def test_the_teacher_map_of_the_last_vgg13_mobilenetv2_layer_is_pooled_from_4_to_2():
    s, t = meta_outputs(pair_config("vgg13", "MobileNetV2"))
    assert (s.feats[-1].shape[-1], t.feats[-1].shape[-1]) == (2, 4)


def test_a_pair_with_different_stage_counts_is_refused():
    s, t = meta_outputs(pair_config("vgg13", "resnet8"))
    assert "3" in VID.pair_problem(s, t) and "4" in VID.pair_problem(s, t)
    with pytest.raises(ValueError, match="vid cannot distil vgg13 into resnet8"):
        VID.check_run(pair_config("vgg13", "resnet8"), 0)


def vid(teacher_file, args=None, model="resnet8"):
    return built_method(teacher_file, "vid", args, model)


def test_variance_starts_at_5_and_regressors_train_with_the_student(teacher_file):
    torch.manual_seed(0)
    method, networks = vid(teacher_file, model="resnet8x4")
    assert set(networks) == {"teacher", "student", "vid_regressors"}
    for alpha in networks["vid_regressors"].log_scales:
        assert torch.allclose(vid_variance(alpha), torch.full_like(alpha, 5.0))
    trained = {id(p) for p in method.trainable_parameters()}
    assert all(id(p) in trained for p in networks["vid_regressors"].parameters())
    assert not any(id(p) in trained for p in networks["teacher"].parameters())
    values = train_steps(method, random_views("standard", b=8), "vid", {"ce", "vid"})
    assert values[-1] < values[0]


def test_weight_zero_removes_the_term(teacher_file):
    method, _ = vid(teacher_file, {"vid_weight": 0.0, "kd_weight": 1.0})
    _, losses = method.forward_train(random_views("standard", b=4))
    assert set(losses) == {"ce", "kd"}
