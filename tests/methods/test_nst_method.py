"""NST: the spec's pairs served (the stage maps paired one to one, channel counts free), a pair
with different stage counts refused, a few training steps with β·L_NST, weight 0."""

import pytest
import torch
from torch import nn

from distill_helpers import method_context, random_views
from sskd.config import config_from_dict
from sskd.losses.nst import nst_loss
from sskd.methods import build_method
from sskd.methods.baseline import meta_outputs
from sskd.methods.nst import NST


def pair_config(teacher, student):
    return config_from_dict({"model": {"name": student}, "teacher": {"name": teacher},
                             "stages": [{"method": "nst"}]})


@pytest.mark.parametrize("pair, maps", [(("resnet32x4", "ShuffleV2"), 3), (("vgg13", "MobileNetV2"), 4),
                                        (("ResNet50", "MobileNetV2"), 4), (("wrn_40_2", "wrn_40_1"), 3)])
def test_stage_maps_of_the_spec_pairs_are_paired(pair, maps):
    s, t = meta_outputs(pair_config(*pair))
    assert NST.pair_problem(s, t) == "" and len(s.feats[1:]) == maps
    assert nst_loss(s.feats[1:], t.feats[1:]).shape == ()  # sizes reconciled by pooling


def test_a_pair_with_different_stage_counts_is_refused():
    with pytest.raises(ValueError, match="nst cannot distil resnet8 into MobileNetV2: .* 4 .* 3"):
        NST.check_run(pair_config("resnet8", "MobileNetV2"), 0)


def nst(teacher_file, args=None):
    networks = nn.ModuleDict()
    stage = {"method": "nst", "args": args or {}}
    return build_method(method_context(teacher_file, stage, networks), "stages[0]"), networks


def test_trains_the_student_with_beta_times_the_stage_mmd(teacher_file):
    torch.manual_seed(0)
    method, networks = nst(teacher_file)
    assert method.hparams.nst_weight == 50.0 and set(networks) == {"teacher", "student"}
    trained = {id(p) for p in method.trainable_parameters()}
    assert not any(id(p) in trained for p in networks["teacher"].parameters())
    opt = torch.optim.SGD(list(method.trainable_parameters()), lr=0.05)
    batch = random_views("standard", b=8)
    x = batch.views[:, 0]
    for _ in range(3):
        _, losses = method.forward_train(batch)
        assert set(losses) == {"ce", "nst"} and torch.isfinite(losses["nst"])
        with torch.no_grad():
            s, t = method.student(x), method.teacher(x)
            assert losses["nst"].item() == pytest.approx(50 * nst_loss(s.feats[1:], t.feats[1:]).item(), rel=1e-4)
        opt.zero_grad()
        sum(losses.values()).backward()
        opt.step()


def test_weight_zero_removes_the_term(teacher_file):
    method, _ = nst(teacher_file, {"nst_weight": 0.0, "kd_weight": 1.0})
    _, losses = method.forward_train(random_views("standard", b=4))
    assert set(losses) == {"ce", "kd"}
