"""The HSSAKD stages: frozen teacher, joint teacher, offline student, online peers, export."""

import copy
import json

import pytest
import torch
from distill_helpers import method_context as context
from distill_helpers import random_views
from safetensors.torch import load_file
from torch import nn

from sskd.config import config_from_dict
from sskd.engine import train
from sskd.engine.checkpoint import load_pretrained
from sskd.engine.evaluate import evaluate_checkpoint
from sskd.losses import hierarchical_kd_loss, kd_loss
from sskd.methods import build_method
from sskd.models import build_model


def batch(seed=0, b=4):
    return random_views("hssakd", seed, b)


def test_frozen_teacher_stage_leaves_weights_and_bn_statistics_bit_identical(teacher_file):
    networks = nn.ModuleDict()
    method = build_method(context(teacher_file, {"method": "hssakd_teacher"}, networks), "s")
    before = copy.deepcopy(networks["teacher"].state_dict())
    opt = torch.optim.SGD(list(method.trainable_parameters()), lr=0.1, momentum=0.9, nesterov=True)
    method.train()
    for seed in range(2):
        _, losses = method.forward_train(batch(seed))
        assert set(losses) == {"joint_ce"}
        opt.zero_grad()
        losses["joint_ce"].backward()
        opt.step()
    for key, value in networks["teacher"].state_dict().items():   # includes BN running stats
        assert torch.equal(value, before[key]), key
    assert {id(p) for p in method.trainable_parameters()} == {id(p) for p in networks["teacher_branches"].parameters()}
    method.eval()
    metrics = method.eval_metrics(batch(5))
    assert set(metrics) == {f"teacher_{kind}_top1_b{i}" for kind in ("ss", "cls") for i in (1, 2, 3)}
    assert all(0 <= v <= 100 for v in metrics.values())


def offline(teacher_file, **args):
    networks = nn.ModuleDict()
    build_method(context(teacher_file, {"method": "hssakd_teacher"}, networks), "s0")
    return build_method(context(teacher_file, {"method": "hssakd", "args": args}, networks), "s1"), networks


def test_offline_student_loss_is_the_sum_of_its_terms(teacher_file):
    torch.manual_seed(0)
    method, networks = offline(teacher_file)
    method.eval()   # fixed BN statistics, so a second pass gives the same outputs
    b = batch()
    with torch.no_grad():
        logits, losses = method.forward_train(b)
        x = b.views.flatten(0, 1)
        s_out, t_out = networks["student"](x), networks["teacher"](x)
        s_aux, t_aux = networks["student_branches"](s_out), networks["teacher_branches"](t_out)
    assert set(losses) == {"ce", "aux_kd", "kd"}
    torch.testing.assert_close(losses["ce"], torch.nn.functional.cross_entropy(s_out.logits[0::4], b.labels))
    torch.testing.assert_close(losses["aux_kd"], hierarchical_kd_loss(s_aux, t_aux, 3.0))
    torch.testing.assert_close(losses["kd"], kd_loss(s_out.logits, t_out.logits, 3.0))
    torch.testing.assert_close(logits, s_out.logits[0::4])


def test_offline_branch_distillation_trains_the_student_backbone_and_not_the_teacher(teacher_file):
    method, networks = offline(teacher_file, ce_weight=0.0, kd_weight=0.0)
    method.train()
    _, losses = method.forward_train(batch())
    assert set(losses) == {"aux_kd"}
    losses["aux_kd"].backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in networks["student"].parameters())
    frozen = list(networks["teacher"].parameters()) + list(networks["teacher_branches"].parameters())
    assert all(p.grad is None and not p.requires_grad for p in frozen)


def test_online_kl_targets_carry_no_gradient(teacher_file):
    networks = nn.ModuleDict()
    torch.manual_seed(0)
    method = build_method(context(teacher_file, {"method": "hssakd_online",
                                                 "args": {"ce_weight": 0.0, "joint_weight": 0.0}}, networks), "s")
    method.eval()
    b = batch()
    _, losses = method.forward_train(b)
    x = b.views.flatten(0, 1)
    out1, out2 = networks["student"](x), networks["peer"](x)
    aux1, aux2 = networks["student_branches"](out1), networks["peer_branches"](out2)
    # Only the terms where peer 1 is the one being taught may reach peer 1's weights.
    own = kd_loss(out1.logits, out2.logits.detach(), 3.0) + hierarchical_kd_loss(aux1, [a.detach() for a in aux2], 3.0)
    params = list(networks["student"].parameters()) + list(networks["student_branches"].parameters())
    got = torch.autograd.grad(losses["mutual_kl"], params, allow_unused=True)
    want = torch.autograd.grad(own, params, allow_unused=True)
    for g, w in zip(got, want):
        if w is None:
            assert g is None or g.abs().sum() == 0
        else:
            torch.testing.assert_close(g, w)
    assert set(networks) == {"student", "student_branches", "peer", "peer_branches"}


def test_student_and_teacher_must_have_the_same_number_of_branches(teacher_file):
    networks = nn.ModuleDict()
    build_method(context(teacher_file, {"method": "hssakd_teacher"}, networks), "s0")
    with pytest.raises(ValueError, match="student vgg8 has 4 and the teacher resnet8 3"):
        build_method(context(teacher_file, {"method": "hssakd"}, networks, model="vgg8"), "s1")


def run_config(tmp_path, name, stages, teacher=None, model="resnet8"):
    raw = {"model": {"name": model}, "device": "cpu",
           "data": {"name": "digits", "batch_size": 64, "train_fraction": 0.15},
           "output": {"dir": str(tmp_path), "name": name, "progress": "none", "tensorboard": False},
           "stages": stages}
    if teacher:
        raw["teacher"] = {"name": "resnet8", "checkpoint": str(teacher)}
    return config_from_dict(raw)


def test_end_to_end_joint_teacher_then_student_exports_a_plain_network(tmp_path):
    train(run_config(tmp_path, "teacher", [{"method": "hssakd_joint", "epochs": 1, "nesterov": True}]))
    teacher_export = tmp_path / "teacher" / "model.safetensors"
    keys = load_file(teacher_export)
    assert any(k.startswith("branches.") for k in keys) and any(k.startswith("backbone.") for k in keys)
    scores = evaluate_checkpoint(str(tmp_path / "teacher"))   # backbone alone, branches left out
    assert 0 <= scores["top1"] <= 100

    summary = train(run_config(tmp_path, "student", [{"name": "student", "method": "hssakd", "epochs": 1}],
                               teacher=teacher_export))
    records = [json.loads(x) for x in (tmp_path / "student" / "metrics.jsonl").read_text().splitlines()]
    assert {"train/ce", "train/aux_kd", "train/kd", "test/student_ss_top1_b1"} <= set(records[0])
    exported = load_file(tmp_path / "student" / "model.safetensors")
    assert not any(k.startswith(("branches.", "backbone.")) for k in exported)
    plain = build_model("resnet8", num_classes=10)
    load_pretrained(plain, tmp_path / "student" / "model.safetensors")
    weights = load_file(next((tmp_path / "student" / "checkpoints").glob("s00-e0001")) / "weights.safetensors")
    for key, value in plain.state_dict().items():
        assert torch.equal(value, weights[f"student.{key}"]), key
    assert summary["stages"]["student"]["last_epoch"]["test/top1"] == records[0]["test/top1"]


def test_a_checkpoint_without_branches_cannot_teach_hssakd(tmp_path, teacher_file):
    with pytest.raises(ValueError, match="holds no auxiliary branches"):
        train(run_config(tmp_path, "s", [{"method": "hssakd", "epochs": 1}], teacher=teacher_file))


@pytest.mark.parametrize("model, teacher, stages, message", [
    ("vgg8", "resnet8", [{"method": "hssakd"}],
     r"stages\[0\] \(hssakd\): .*student vgg8 has 4 and the teacher resnet8 3"),
    # a network without spatial stages gets no branches (any CNN gets at least generic ones)
    ("torchvision:vit_b_16", "resnet8", [{"method": "hssakd_online"}],
     r"stages\[0\] \(hssakd_online\): VisionTransformer: .*name its stages yourself"),
    ("resnet8", "resnet8", [{"name": "h", "method": "sskd_teacher_head", "args": {"task": "rotation"}},
                            {"name": "s", "method": "sskd"}],
     r"stages\[1\] \(sskd\): mimics pretext task 'contrastive'"),
])
def test_a_run_that_cannot_work_is_refused_before_anything_is_written(tmp_path, teacher_file, model, teacher,
                                                                      stages, message):
    from sskd.config import ConfigError

    config = config_from_dict({"model": {"name": model}, "device": "cpu",
                               "teacher": {"name": teacher, "checkpoint": str(teacher_file)},
                               "output": {"dir": str(tmp_path), "name": "r"}, "stages": stages})
    with pytest.raises(ConfigError, match=message):
        train(config)
    assert not (tmp_path / "r").exists()
