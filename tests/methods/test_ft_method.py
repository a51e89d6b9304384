"""FT: paraphraser, factor and translator shapes of BASELINES.md §3; the init stage trains only
the paraphraser on the frozen teacher, at the benchmark's lr; the main stage reads its frozen
encoder, trains the translator, and is refused without an ``ft_paraphraser`` stage before it."""

import pytest
import torch
from torch import nn

from distill_helpers import method_context, random_views
from sskd.config import config_from_dict
from sskd.methods import build_method
from sskd.methods.baseline import meta_outputs
from sskd.methods.ft import FT
from sskd.methods.ft_networks import Paraphraser, translator
from sskd.methods.ft_paraphraser import FTParaphraser
from sskd.rules import apply_rules


def pair_config(teacher, student, stages=("ft_paraphraser", "ft")):
    return config_from_dict({"model": {"name": student}, "teacher": {"name": teacher},
                             "stages": [{"method": m, "name": f"s{k}"} for k, m in enumerate(stages)]})


# (teacher, student) → teacher map (C, H), factor channels, student map (C, H)
PAIRS = {
    ("resnet32x4", "resnet8x4"): ((256, 8), 128, (256, 8)),
    ("vgg13", "MobileNetV2"): ((512, 4), 256, (160, 2)),
    ("ResNet50", "MobileNetV2"): ((2048, 4), 1024, (160, 2)),
    ("ResNet50", "vgg8"): ((2048, 4), 1024, (512, 4)),
}


@pytest.mark.parametrize("pair", sorted(PAIRS))
def test_paraphraser_factor_and_translator_shapes(pair):
    (c_t, h_t), c_f, (c_s, h_s) = PAIRS[pair]
    s, t = meta_outputs(pair_config(*pair))
    assert tuple(t.feats[-1].shape[1:3]) == (c_t, h_t) and tuple(s.feats[-1].shape[1:3]) == (c_s, h_s)
    with torch.device("meta"):
        paraphraser = Paraphraser(c_t)
        factor = paraphraser.encoder(t.feats[-1])
        assert paraphraser.factor_channels == c_f and factor.shape == (2, c_f, h_t, h_t)
        assert paraphraser(t.feats[-1]).shape == t.feats[-1].shape
        trans = translator(c_s, c_f)
        convs = [m for m in trans if isinstance(m, nn.Conv2d)]
        assert [(c.in_channels, c.out_channels) for c in convs] == [(c_s, c_s), (c_s, c_f), (c_f, c_f)]
        assert trans(s.feats[-1]).shape == (2, c_f, h_s, h_s)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in paraphraser.modules())
    assert sum(isinstance(m, nn.BatchNorm2d) for m in trans) == 3
    assert all(m.negative_slope == 0.1 for m in [*paraphraser.modules(), *trans] if isinstance(m, nn.LeakyReLU))


@pytest.mark.parametrize("student, lr", [("resnet8x4", 0.01), ("wrn_16_2", 0.01), ("resnet20", 0.01),
                                         ("vgg8", 0.05), ("ResNet50", 0.05), ("MobileNetV2", 0.01),
                                         ("ShuffleV1", 0.01)])
def test_init_lr_is_001_for_resnet_and_wrn_students_else_the_students_base_lr(student, lr):
    config = apply_rules(pair_config("resnet32x4", student))
    assert config.stages[0].lr == lr
    assert FTParaphraser.default_lr(config) == lr


def test_main_stage_without_a_paraphraser_stage_is_refused(teacher_file):
    with pytest.raises(ValueError, match="needs the paraphraser that an 'ft_paraphraser' stage trains"):
        FT.check_run(pair_config("resnet32x4", "resnet8x4", stages=("ft",)), 0)
    FT.check_run(pair_config("resnet32x4", "resnet8x4"), 1)
    with pytest.raises(ValueError, match="ft needs the paraphraser .* add a stage with method ft_paraphraser"):
        stage(teacher_file, nn.ModuleDict(), "ft")


def stage(teacher_file, networks, method, args=None, model="resnet8"):
    return build_method(method_context(teacher_file, {"method": method, "args": args or {}}, networks, model=model),
                        method)


def train_steps(method, batch, key, steps=4):
    opt = torch.optim.SGD(list(method.trainable_parameters()), lr=0.01, momentum=0.9, weight_decay=5e-4)
    method.train()
    values = []
    for _ in range(steps):
        logits, losses = method.forward_train(batch)
        values.append(losses[key].item())
        opt.zero_grad()
        sum(losses.values()).backward()
        opt.step()
    assert all(torch.isfinite(torch.tensor(values))) and values[-1] < values[0], values
    return logits, losses


def test_init_stage_trains_only_the_paraphraser_and_the_main_stage_reads_it_frozen(teacher_file):
    torch.manual_seed(0)
    networks = nn.ModuleDict()
    init = stage(teacher_file, networks, "ft_paraphraser")
    assert (init.teacher_side, init.cacheable, init.export_key()) == (True, True, "ft_paraphraser")
    assert init.eval_network() is networks["teacher"]
    assert set(networks) == {"teacher", "ft_paraphraser"}
    assert {id(p) for p in init.trainable_parameters()} == {id(p) for p in networks["ft_paraphraser"].parameters()}
    teacher_before = {k: v.clone() for k, v in networks["teacher"].state_dict().items()}
    batch = random_views("standard", b=8)
    logits, losses = train_steps(init, batch, "ft_reconstruction")
    assert set(losses) == {"ft_reconstruction"}
    assert torch.equal(logits, networks["teacher"](batch.views[:, 0]).logits)
    assert all(torch.equal(v, teacher_before[k]) for k, v in networks["teacher"].state_dict().items())

    paraphraser_before = {k: v.clone() for k, v in networks["ft_paraphraser"].state_dict().items()}
    main = stage(teacher_file, networks, "ft")
    assert main.paraphraser is init.paraphraser is networks["ft_paraphraser"]
    assert set(networks) == {"teacher", "ft_paraphraser", "student", "ft_translator"}
    trained = {id(p) for p in main.trainable_parameters()}
    assert all(id(p) in trained for p in networks["ft_translator"].parameters())
    assert not any(id(p) in trained for p in networks["ft_paraphraser"].parameters())
    _, losses = train_steps(main, batch, "ft")
    assert set(losses) == {"ce", "ft"}
    assert not networks["ft_paraphraser"].training and networks["ft_translator"].training
    assert all(torch.equal(v, paraphraser_before[k]) for k, v in networks["ft_paraphraser"].state_dict().items())


def test_weight_zero_removes_the_term(teacher_file):
    networks = nn.ModuleDict()
    stage(teacher_file, networks, "ft_paraphraser")
    main = stage(teacher_file, networks, "ft", {"ft_weight": 0.0, "kd_weight": 1.0})
    _, losses = main.forward_train(random_views("standard", b=4))
    assert set(losses) == {"ce", "kd"}
