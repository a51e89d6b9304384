"""RKD: the pooled embeddings of any pair (widths free), w_d = 25 and w_a = 50 passed to the
loss, a few training steps with β·L_RKD, weight 0, bad inner weights refused."""

import pytest
import torch
from torch import nn

from distill_helpers import method_context, random_views
from sskd.config import config_from_dict
from sskd.losses.rkd import rkd_loss
from sskd.methods import build_method
from sskd.methods.baseline import meta_outputs
from sskd.methods.rkd import RKD


def test_any_pair_is_served_whatever_its_widths():
    config = config_from_dict({"model": {"name": "ShuffleV1"}, "teacher": {"name": "resnet32x4"},
                               "stages": [{"method": "rkd"}]})
    s, t = meta_outputs(config)
    assert (s.pooled.shape[1], t.pooled.shape[1]) == (960, 256)
    assert RKD.pair_problem(s, t) == "" and rkd_loss(s.pooled, t.pooled).shape == ()
    RKD.check_run(config, 0)


def rkd(teacher_file, args=None):
    networks = nn.ModuleDict()
    stage = {"method": "rkd", "args": args or {}}
    return build_method(method_context(teacher_file, stage, networks), "stages[0]"), networks


@pytest.mark.parametrize("args, w_d, w_a", [({}, 25.0, 50.0), ({"w_d": 1.0, "w_a": 0.0, "rkd_weight": 2.0}, 1.0, 0.0)])
def test_trains_the_student_with_beta_times_the_relational_loss(teacher_file, args, w_d, w_a):
    torch.manual_seed(0)
    method, networks = rkd(teacher_file, args)
    beta = args.get("rkd_weight", 1.0)
    assert set(networks) == {"teacher", "student"}
    trained = {id(p) for p in method.trainable_parameters()}
    assert not any(id(p) in trained for p in networks["teacher"].parameters())
    opt = torch.optim.SGD(list(method.trainable_parameters()), lr=0.05)
    batch = random_views("standard", b=8)
    x = batch.views[:, 0]
    for _ in range(3):
        _, losses = method.forward_train(batch)
        assert set(losses) == {"ce", "rkd"} and torch.isfinite(losses["rkd"])
        with torch.no_grad():
            s, t = method.student(x), method.teacher(x)
            expected = beta * rkd_loss(s.pooled, t.pooled, w_d, w_a)
            assert losses["rkd"].item() == pytest.approx(expected.item(), rel=1e-4)
        opt.zero_grad()
        sum(losses.values()).backward()
        opt.step()


def test_weight_zero_removes_the_term_and_inner_weights_are_checked(teacher_file):
    method, _ = rkd(teacher_file, {"rkd_weight": 0.0, "kd_weight": 1.0})
    _, losses = method.forward_train(random_views("standard", b=4))
    assert set(losses) == {"ce", "kd"}
    with pytest.raises(ValueError, match="w_d and w_a must be >= 0"):
        rkd(teacher_file, {"w_a": -1.0})
    with pytest.raises(ValueError, match="both 0"):
        rkd(teacher_file, {"w_d": 0.0, "w_a": 0.0})
