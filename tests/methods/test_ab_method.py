"""AB: the connectors of the pairs of BASELINES.md §3; the init stage trains connectors and the
student's feature extractor (not its classifier) on pre-activations, and its student reaches
the main stage, which is CE (+ KD) only; pairs that cannot be served are refused."""

import pytest
import torch
from torch import nn

from distill_helpers import method_context, random_views, train_steps
from sskd.config import config_from_dict
from sskd.methods import build_method
from sskd.methods.ab import AB
from sskd.methods.ab_init import ABInit, ab_connectors
from sskd.methods.baseline import meta_outputs

# (teacher, student) → each stage's connector: None (identity) or (kind, C_s, C_t).
PAIRS = {
    ("wrn_40_2", "wrn_16_2"): [None] * 3,
    ("resnet56", "resnet20"): [None] * 3,
    ("resnet32x4", "resnet8x4"): [None] * 3,
    ("vgg13", "vgg8"): [None] * 4,
    ("wrn_40_2", "wrn_40_1"): [("conv", 16, 32), ("conv", 32, 64), ("conv", 64, 128)],
    ("vgg13", "MobileNetV2"): [("conv", 12, 128), ("conv", 16, 256), ("conv", 48, 512), ("convT", 160, 512)],
    ("ResNet50", "MobileNetV2"): [("convT", 12, 256), ("convT", 16, 512), ("convT", 48, 1024),
                                  ("convT", 160, 2048)],
    ("ResNet50", "vgg8"): [("convT", 128, 256), ("convT", 256, 512), ("convT", 512, 1024), ("conv", 512, 2048)],
    ("resnet32x4", "ShuffleV1"): [("convT", 240, 64), ("convT", 480, 128), ("convT", 960, 256)],
    ("resnet32x4", "ShuffleV2"): [("convT", 116, 64), ("convT", 232, 128), ("convT", 464, 256)],
    ("wrn_40_2", "ShuffleV1"): [("convT", 240, 32), ("convT", 480, 64), ("convT", 960, 128)],
}


def pair_config(teacher, student, method="ab_init"):
    return config_from_dict({"model": {"name": student}, "teacher": {"name": teacher},
                             "stages": [{"method": method}]})


def describe(connector):
    if isinstance(connector, nn.Identity):
        return None
    conv, bn = connector
    assert isinstance(bn, nn.BatchNorm2d) and len(connector) == 2  # no ReLU
    return ("convT" if isinstance(conv, nn.ConvTranspose2d) else "conv", conv.in_channels, conv.out_channels)


@pytest.mark.parametrize("pair", sorted(PAIRS))
def test_connectors_of_the_spec_pairs(pair):
    s, t = meta_outputs(pair_config(*pair), preact=True)
    assert ABInit.pair_problem(s, t) == "" and AB.pair_problem(s, t) == ""
    with torch.device("meta"):
        connectors = ab_connectors(s.preact_feats[1:], t.preact_feats[1:])
        assert [describe(c) for c in connectors] == PAIRS[pair]
        for c, a, b in zip(connectors, s.preact_feats[1:], t.preact_feats[1:]):
            assert c(a).shape == b.shape


def test_a_pair_with_different_stage_counts_is_refused_by_both_stages():
    for method in ("ab_init", "ab"):
        cls = ABInit if method == "ab_init" else AB
        with pytest.raises(ValueError, match=f"{method} cannot distil vgg13 into resnet8: .*stage maps"):
            cls.check_run(pair_config("vgg13", "resnet8", method), 0)


def stage(teacher_file, networks, method, args=None, model="resnet8x4"):
    context = method_context(teacher_file, {"method": method, "args": args or {}}, networks, model=model)
    return build_method(context, method)


def test_init_stage_trains_connectors_and_feature_extractor_and_hands_the_student_on(teacher_file):
    torch.manual_seed(0)
    networks = nn.ModuleDict()
    init = stage(teacher_file, networks, "ab_init")
    assert set(networks) == {"teacher", "student", "ab_connectors"}
    classifier = networks["student"].get_classifier()
    trained = {id(p) for p in init.trainable_parameters()}
    assert all(id(p) in trained for p in networks["ab_connectors"].parameters())
    assert not any(id(p) in trained for p in networks["teacher"].parameters())
    head = {id(p) for p in classifier.parameters()}
    features = {id(p) for p in networks["student"].parameters()} - head
    assert trained == features | {id(p) for p in networks["ab_connectors"].parameters()}
    assert init.leaves_parameters_unused()
    classifier_before = [p.detach().clone() for p in classifier.parameters()]
    init.train()
    batch = random_views("standard", b=8)
    assert init.forward_train(batch)[0].shape == (8, 10)
    values = train_steps(init, batch, "ab", {"ab"}, momentum=0.9, weight_decay=5e-4)
    assert values[-1] < values[0]
    assert all(torch.equal(a, b) for a, b in zip(classifier_before, classifier.parameters()))

    main = stage(teacher_file, networks, "ab", {"kd_weight": 1.0})
    assert main.student is init.student is networks["student"]
    _, losses = main.forward_train(batch)
    assert set(losses) == {"ce", "kd"}
    assert all(torch.isfinite(v) for v in losses.values())
    assert not any(p is q for p in main.trainable_parameters() for q in networks["ab_connectors"].parameters())


def test_main_stage_is_ce_only_and_must_train_on_ce_or_kd(teacher_file):
    main = stage(teacher_file, nn.ModuleDict(), "ab", model="resnet8")
    _, losses = main.forward_train(random_views("standard", b=4))
    assert set(losses) == {"ce"}
    with pytest.raises(ValueError, match="ab_weight has no effect"):
        stage(teacher_file, nn.ModuleDict(), "ab", {"ce_weight": 0.0})
