"""FSP: pairs without equal channel counts at every feature map are refused (wrn_40_2 →
wrn_40_1, vgg13 → MobileNetV2); the init stage trains the student's feature extractor on the
FSP loss and hands the student to the main stage, which is CE (+ KD) only."""

import pytest
import torch
from torch import nn

from distill_helpers import method_context, random_views, train_steps
from sskd.config import config_from_dict
from sskd.methods import build_method
from sskd.methods.baseline import meta_outputs
from sskd.methods.fsp import FSP
from sskd.methods.fsp_init import FSPInit


def pair_config(teacher, student, method="fsp_init"):
    return config_from_dict({"model": {"name": student}, "teacher": {"name": teacher},
                             "stages": [{"method": method}]})


@pytest.mark.parametrize("pair", [("wrn_40_2", "wrn_40_1"), ("vgg13", "MobileNetV2")])
def test_pairs_with_other_channel_counts_are_refused(pair):
    s, t = meta_outputs(pair_config(*pair))
    for cls in (FSPInit, FSP):
        problem = cls.pair_problem(s, t)
        assert "equal channel counts" in problem and str([f.shape[1] for f in s.feats]) in problem
        with pytest.raises(ValueError, match=f"{cls.method_name} cannot distil {pair[0]} into {pair[1]}"):
            cls.check_run(pair_config(*pair, cls.method_name), 0)


@pytest.mark.parametrize("pair", [("wrn_40_2", "wrn_16_2"), ("resnet56", "resnet20"), ("vgg13", "vgg8")])
def test_pairs_with_the_same_channels_are_served(pair):
    s, t = meta_outputs(pair_config(*pair))
    assert FSPInit.pair_problem(s, t) == "" and FSP.pair_problem(s, t) == ""
    FSP.check_run(pair_config(*pair, "fsp"), 0)


def stage(teacher_file, networks, method, args=None):
    return build_method(method_context(teacher_file, {"method": method, "args": args or {}}, networks), method)


def test_init_stage_trains_the_feature_extractor_and_hands_the_student_on(teacher_file):
    torch.manual_seed(0)
    networks = nn.ModuleDict()
    init = stage(teacher_file, networks, "fsp_init")
    assert set(networks) == {"teacher", "student"}
    classifier = networks["student"].get_classifier()
    trained = {id(p) for p in init.trainable_parameters()}
    assert trained == {id(p) for p in networks["student"].parameters()} - {id(p) for p in classifier.parameters()}
    classifier_before = [p.detach().clone() for p in classifier.parameters()]
    teacher_before = [p.detach().clone() for p in networks["teacher"].parameters()]
    init.train()
    batch = random_views("standard", b=8)
    assert init.forward_train(batch)[0].shape == (8, 10)
    values = train_steps(init, batch, "fsp", {"fsp"}, momentum=0.9, weight_decay=5e-4)
    assert values[-1] < values[0]
    assert all(torch.equal(a, b) for a, b in zip(classifier_before, classifier.parameters()))
    assert all(torch.equal(a, b) for a, b in zip(teacher_before, networks["teacher"].parameters()))

    main = stage(teacher_file, networks, "fsp")
    assert main.student is init.student is networks["student"]
    _, losses = main.forward_train(batch)
    assert set(losses) == {"ce"} and torch.isfinite(losses["ce"])


def test_main_stage_adds_kd_and_must_train_on_ce_or_kd(teacher_file):
    main = stage(teacher_file, nn.ModuleDict(), "fsp", {"kd_weight": 1.0})
    _, losses = main.forward_train(random_views("standard", b=4))
    assert set(losses) == {"ce", "kd"}
    with pytest.raises(ValueError, match="fsp_weight has no effect"):
        stage(teacher_file, nn.ModuleDict(), "fsp", {"ce_weight": 0.0})
