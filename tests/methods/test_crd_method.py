"""CRD: the Embed heads of the spec's pairs, a few training steps with the memory bank, weight 0,
what it needs from the run (labels, indices), and its networks' state round trip."""

import dataclasses

import pytest
import torch
from torch import nn

from distill_helpers import method_context, random_views
from sskd.config import config_from_dict
from sskd.methods import build_method
from sskd.methods.baseline import meta_outputs
from sskd.methods.crd import CRD, CRDHparams, bank_size

N, K, B = 40, 8, 8

# (teacher, student) → pooled dims d_t, d_s of the Embed heads (BASELINES.md §4).
PAIRS = {
    ("resnet32x4", "resnet8x4"): (256, 256), ("vgg13", "MobileNetV2"): (512, 1280),
    ("resnet32x4", "ShuffleV1"): (256, 960), ("resnet32x4", "ShuffleV2"): (256, 1024),
    ("ResNet50", "vgg8"): (2048, 512), ("wrn_40_2", "wrn_16_2"): (128, 128), ("resnet56", "resnet20"): (64, 64),
}


@pytest.mark.parametrize("pair", sorted(PAIRS))
def test_embed_heads_read_the_pooled_dims_of_the_tables_pairs(pair):
    teacher, student = pair
    config = config_from_dict({"model": {"name": student}, "teacher": {"name": teacher},
                               "stages": [{"method": "crd"}]})
    s, t = meta_outputs(config)
    assert (t.pooled.shape[1], s.pooled.shape[1]) == PAIRS[pair]
    assert CRD.pair_problem(s, t) == ""


def crd(teacher_file, args=None, labels=True):
    networks = nn.ModuleDict()
    stage = {"method": "crd", "args": {"nce_k": K, **(args or {})}}
    context = method_context(teacher_file, stage, networks)
    if labels:
        context = dataclasses.replace(context, train_labels=torch.arange(N) % 10)
    return build_method(context, "stages[0]"), networks


def batch_with_indices(seed=0, start=0):
    batch = random_views("standard", seed=seed, b=B)
    return batch._replace(indices=torch.arange(start, start + B))


def test_defaults_are_the_benchmark_setting():
    hp = CRDHparams()
    assert (hp.crd_weight, hp.feat_dim, hp.nce_k, hp.nce_t, hp.nce_m, hp.mode) == (0.8, 128, 16384, 0.07, 0.5, "exact")
    assert (hp.ce_weight, hp.kd_weight) == (1.0, 0.0)
    assert CRD.memory_bank


def test_trains_the_student_and_both_heads_with_the_weighted_crd_loss(teacher_file, capsys):
    torch.manual_seed(0)
    method, networks = crd(teacher_file)
    assert "crd: memory bank 2 × 40 × 128 float32 = 41.0 kB" in capsys.readouterr().out
    assert set(networks) == {"teacher", "student", "crd_embed_student", "crd_embed_teacher", "crd_memory"}
    assert networks["crd_memory"].memory_student.shape == (N, 128)
    trained = {id(p) for p in method.trainable_parameters()}
    for head in ("crd_embed_student", "crd_embed_teacher"):
        assert all(id(p) in trained for p in networks[head].parameters())
    assert not any(id(p) in trained for p in networks["teacher"].parameters())
    opt = torch.optim.SGD(list(method.trainable_parameters()), lr=0.05)
    memory_before = networks["crd_memory"].memory_teacher.clone()
    values = []
    for step in range(4):
        _, losses = method.forward_train(batch_with_indices(seed=step, start=(step * B) % N))
        assert set(losses) == {"ce", "crd"}
        values.append(losses["crd"].detach())
        opt.zero_grad()
        sum(losses.values()).backward()
        assert networks["crd_embed_teacher"].linear.weight.grad.abs().sum() > 0
        opt.step()
    assert torch.isfinite(torch.stack(values)).all()
    assert not torch.equal(networks["crd_memory"].memory_teacher[:4 * B], memory_before[:4 * B])
    assert networks["crd_memory"].z_student > 0


def test_weight_zero_removes_the_term_and_its_networks(teacher_file):
    method, networks = crd(teacher_file, {"crd_weight": 0.0, "kd_weight": 1.0}, labels=False)
    assert set(networks) == {"teacher", "student"}
    _, losses = method.forward_train(random_views("standard", b=4))
    assert set(losses) == {"ce", "kd"}


def test_needs_the_training_labels_and_the_batch_indices(teacher_file):
    with pytest.raises(ValueError, match="train_labels"):
        crd(teacher_file, labels=False)
    method, _ = crd(teacher_file)
    with pytest.raises(ValueError, match="indices"):
        method.forward_train(random_views("standard", b=4))


def test_bad_settings_are_refused(teacher_file):
    with pytest.raises(ValueError, match="mode"):
        crd(teacher_file, {"mode": "soft"})
    with pytest.raises(ValueError, match="nce_t"):
        crd(teacher_file, {"nce_t": 0.0})


def test_networks_round_trip_keeps_memory_and_z(teacher_file):
    torch.manual_seed(0)
    method, networks = crd(teacher_file)
    method.forward_train(batch_with_indices())
    state = {k: v.clone() for k, v in networks.state_dict().items()}
    assert {"crd_memory.memory_student", "crd_memory.memory_teacher", "crd_memory.z_student",
            "crd_memory.z_teacher"} <= set(state)
    torch.manual_seed(1)
    _, fresh = crd(teacher_file)
    fresh.load_state_dict(state)
    for key, value in fresh.state_dict().items():
        assert torch.equal(value, state[key]), key


def test_bank_size_in_words():
    assert bank_size(50_000, 128) == "2 × 50000 × 128 float32 = 51.2 MB"
