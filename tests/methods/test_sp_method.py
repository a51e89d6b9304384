"""SP: the last feature map of any pair (sizes free), refused only without feature maps, a
few training steps with β·L_SP, weight 0."""

import pytest
import torch
from torch import nn

from distill_helpers import method_context, random_views
from sskd.config import config_from_dict
from sskd.losses.sp import sp_loss
from sskd.methods import build_method
from sskd.methods.baseline import meta_outputs
from sskd.methods.sp import SP
from sskd.models import ModelOutput


def pair_config(teacher, student):
    return config_from_dict({"model": {"name": student}, "teacher": {"name": teacher},
                             "stages": [{"method": "sp"}]})


@pytest.mark.parametrize("pair, shapes", [
    (("resnet32x4", "ShuffleV2"), ((464, 4, 4), (256, 8, 8))),
    (("vgg13", "MobileNetV2"), ((160, 2, 2), (512, 4, 4))),
    (("wrn_40_2", "wrn_40_1"), ((64, 8, 8), (128, 8, 8))),
])
def test_the_last_map_of_the_spec_pairs(pair, shapes):
    s, t = meta_outputs(pair_config(*pair))
    assert SP.pair_problem(s, t) == ""
    assert (tuple(s.feats[-1].shape[1:]), tuple(t.feats[-1].shape[1:])) == shapes
    assert sp_loss(s.feats[-1], t.feats[-1]).shape == ()


def test_a_network_without_feature_maps_is_refused():
    s, t = meta_outputs(pair_config("resnet8", "resnet8"))
    assert "feats[-1]" in SP.pair_problem(ModelOutput(s.logits, [], None, s.pooled), t)


def sp(teacher_file, args=None):
    networks = nn.ModuleDict()
    stage = {"method": "sp", "args": args or {}}
    return build_method(method_context(teacher_file, stage, networks), "stages[0]"), networks


def test_trains_the_student_with_beta_times_the_similarity_loss(teacher_file):
    torch.manual_seed(0)
    method, networks = sp(teacher_file)
    assert method.hparams.sp_weight == 3000.0 and set(networks) == {"teacher", "student"}
    trained = {id(p) for p in method.trainable_parameters()}
    assert not any(id(p) in trained for p in networks["teacher"].parameters())
    opt = torch.optim.SGD(list(method.trainable_parameters()), lr=0.05)
    batch = random_views("standard", b=8)
    x = batch.views[:, 0]
    for _ in range(3):
        _, losses = method.forward_train(batch)
        assert set(losses) == {"ce", "sp"} and torch.isfinite(losses["sp"])
        with torch.no_grad():
            s, t = method.student(x), method.teacher(x)
            assert losses["sp"].item() == pytest.approx(3000 * sp_loss(s.feats[-1], t.feats[-1]).item(), rel=1e-4)
        opt.zero_grad()
        sum(losses.values()).backward()
        opt.step()


def test_weight_zero_removes_the_term(teacher_file):
    method, _ = sp(teacher_file, {"sp_weight": 0.0, "kd_weight": 1.0})
    _, losses = method.forward_train(random_views("standard", b=4))
    assert set(losses) == {"ce", "kd"}
