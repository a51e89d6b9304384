"""AT: the spec's pairs served (the stage maps paired one to one, the larger map pooled), a pair
with different stage counts refused, a few training steps with β·L_AT, weight 0."""

import pytest
import torch
from torch import nn

from distill_helpers import method_context, random_views
from sskd.config import config_from_dict
from sskd.losses.at import at_loss
from sskd.methods import build_method
from sskd.methods.at import AT
from sskd.methods.baseline import meta_outputs


def pair_config(teacher, student):
    return config_from_dict({"model": {"name": student}, "teacher": {"name": teacher},
                             "stages": [{"method": "at"}]})


@pytest.mark.parametrize("pair, maps", [(("resnet32x4", "ShuffleV1"), 3), (("vgg13", "MobileNetV2"), 4),
                                        (("ResNet50", "vgg8"), 4), (("wrn_40_2", "wrn_40_1"), 3)])
def test_stage_maps_of_the_spec_pairs_are_paired(pair, maps):
    s, t = meta_outputs(pair_config(*pair))
    assert AT.pair_problem(s, t) == "" and len(s.feats[1:]) == maps
    assert at_loss(s.feats[1:], t.feats[1:]).shape == ()  # sizes reconciled by pooling


def test_a_pair_with_different_stage_counts_is_refused():
    with pytest.raises(ValueError, match="at cannot distil vgg13 into resnet8: .* 3 .* 4"):
        AT.check_run(pair_config("vgg13", "resnet8"), 0)


def at(teacher_file, args=None):
    networks = nn.ModuleDict()
    stage = {"method": "at", "args": args or {}}
    return build_method(method_context(teacher_file, stage, networks), "stages[0]"), networks


def test_trains_the_student_with_beta_times_the_stage_attention_loss(teacher_file):
    torch.manual_seed(0)
    method, networks = at(teacher_file)
    assert method.hparams.at_weight == 1000.0 and set(networks) == {"teacher", "student"}
    trained = {id(p) for p in method.trainable_parameters()}
    assert not any(id(p) in trained for p in networks["teacher"].parameters())
    opt = torch.optim.SGD(list(method.trainable_parameters()), lr=0.05)
    batch = random_views("standard", b=8)
    x = batch.views[:, 0]
    for _ in range(3):
        _, losses = method.forward_train(batch)
        assert set(losses) == {"ce", "at"} and torch.isfinite(losses["at"])
        with torch.no_grad():
            s, t = method.student(x), method.teacher(x)
            assert losses["at"].item() == pytest.approx(1000 * at_loss(s.feats[1:], t.feats[1:]).item(), rel=1e-4)
        opt.zero_grad()
        sum(losses.values()).backward()
        opt.step()


def test_weight_zero_removes_the_term(teacher_file):
    method, _ = at(teacher_file, {"at_weight": 0.0, "kd_weight": 1.0})
    _, losses = method.forward_train(random_views("standard", b=4))
    assert set(losses) == {"ce", "kd"}
