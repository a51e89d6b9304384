"""PKT: the pooled embeddings of any pair (widths free), a few training steps with β·L_PKT,
weight 0."""

import pytest
import torch
from torch import nn

from distill_helpers import method_context, random_views
from sskd.config import config_from_dict
from sskd.losses.pkt import pkt_loss
from sskd.methods import build_method
from sskd.methods.baseline import meta_outputs
from sskd.methods.pkt import PKT


def test_any_pair_is_served_whatever_its_widths():
    config = config_from_dict({"model": {"name": "MobileNetV2"}, "teacher": {"name": "vgg13"},
                               "stages": [{"method": "pkt"}]})
    s, t = meta_outputs(config)
    assert (s.pooled.shape[1], t.pooled.shape[1]) == (1280, 512)
    assert PKT.pair_problem(s, t) == "" and pkt_loss(s.pooled, t.pooled).shape == ()
    PKT.check_run(config, 0)


def pkt(teacher_file, args=None):
    networks = nn.ModuleDict()
    stage = {"method": "pkt", "args": args or {}}
    return build_method(method_context(teacher_file, stage, networks), "stages[0]"), networks


def test_trains_the_student_with_beta_times_the_pooled_pkt(teacher_file):
    torch.manual_seed(0)
    method, networks = pkt(teacher_file)
    assert method.hparams.pkt_weight == 30000.0 and set(networks) == {"teacher", "student"}
    trained = {id(p) for p in method.trainable_parameters()}
    assert not any(id(p) in trained for p in networks["teacher"].parameters())
    opt = torch.optim.SGD(list(method.trainable_parameters()), lr=0.05)
    batch = random_views("standard", b=8)
    x = batch.views[:, 0]
    for _ in range(3):
        _, losses = method.forward_train(batch)
        assert set(losses) == {"ce", "pkt"} and torch.isfinite(losses["pkt"])
        with torch.no_grad():
            s, t = method.student(x), method.teacher(x)
            assert losses["pkt"].item() == pytest.approx(30000 * pkt_loss(s.pooled, t.pooled).item(), rel=1e-4)
        opt.zero_grad()
        sum(losses.values()).backward()
        opt.step()


def test_weight_zero_removes_the_term(teacher_file):
    method, _ = pkt(teacher_file, {"pkt_weight": 0.0, "kd_weight": 1.0})
    _, losses = method.forward_train(random_views("standard", b=4))
    assert set(losses) == {"ce", "kd"}
