"""The baselines without adapters (AT, NST, SP, PKT, RKD): the features each reads for the
tables' pairs, the pairs refused, and a few training steps whose method term is β times the
loss function on those features; a weight of 0 removes the term."""

import pytest
import torch

from distill_helpers import assert_term_follows, built_method, random_views
from sskd.config import config_from_dict
from sskd.losses import at_loss, nst_loss, pkt_loss, rkd_loss, sp_loss
from sskd.methods import method_class
from sskd.methods.baseline import meta_outputs
from sskd.models import ModelOutput

# method → (β of BASELINES.md §1.2, the unweighted term from the two ModelOutputs)
TERMS = {
    "at": (1000.0, lambda s, t: at_loss(s.feats[1:], t.feats[1:])),
    "nst": (50.0, lambda s, t: nst_loss(s.feats[1:], t.feats[1:])),
    "sp": (3000.0, lambda s, t: sp_loss(s.feats[-1], t.feats[-1])),
    "pkt": (30000.0, lambda s, t: pkt_loss(s.pooled, t.pooled)),
    "rkd": (1.0, lambda s, t: rkd_loss(s.pooled, t.pooled)),
}


def pair_config(method, teacher, student):
    return config_from_dict({"model": {"name": student}, "teacher": {"name": teacher},
                             "stages": [{"method": method}]})


@pytest.mark.parametrize("method", ["at", "nst"])
@pytest.mark.parametrize("pair, maps", [(("resnet32x4", "ShuffleV1"), 3), (("resnet32x4", "ShuffleV2"), 3),
                                        (("vgg13", "MobileNetV2"), 4), (("ResNet50", "MobileNetV2"), 4),
                                        (("ResNet50", "vgg8"), 4), (("wrn_40_2", "wrn_40_1"), 3)])
def test_stage_maps_of_the_tables_pairs_are_paired(method, pair, maps):
    s, t = meta_outputs(pair_config(method, *pair))
    assert method_class(method).pair_problem(s, t) == "" and len(s.feats[1:]) == maps
    assert TERMS[method][1](s, t).shape == ()  # sizes reconciled by pooling, channels free


@pytest.mark.parametrize("method", ["at", "nst"])
def test_a_pair_with_different_stage_counts_is_refused(method):
    with pytest.raises(ValueError, match=f"{method} cannot distil vgg13 into resnet8: .* 3 .* 4"):
        method_class(method).check_run(pair_config(method, "vgg13", "resnet8"), 0)


@pytest.mark.parametrize("pair, shapes", [
    (("resnet32x4", "ShuffleV2"), ((464, 4, 4), (256, 8, 8))),
    (("vgg13", "MobileNetV2"), ((160, 2, 2), (512, 4, 4))),
    (("wrn_40_2", "wrn_40_1"), ((64, 8, 8), (128, 8, 8))),
])
def test_sp_reads_the_last_map_of_any_size(pair, shapes):
    s, t = meta_outputs(pair_config("sp", *pair))
    assert method_class("sp").pair_problem(s, t) == ""
    assert (tuple(s.feats[-1].shape[1:]), tuple(t.feats[-1].shape[1:])) == shapes
    assert "feats[-1]" in method_class("sp").pair_problem(ModelOutput(s.logits, [], None, s.pooled), t)


@pytest.mark.parametrize("method, pair, widths", [("pkt", ("vgg13", "MobileNetV2"), (1280, 512)),
                                                  ("rkd", ("resnet32x4", "ShuffleV1"), (960, 256))])
def test_pooled_methods_serve_any_widths(method, pair, widths):
    config = pair_config(method, *pair)
    s, t = meta_outputs(config)
    assert (s.pooled.shape[1], t.pooled.shape[1]) == widths
    method_class(method).check_run(config, 0)
    assert TERMS[method][1](s, t).shape == ()


@pytest.mark.parametrize("method", sorted(TERMS))
def test_trains_the_student_with_beta_times_its_loss(teacher_file, method):
    torch.manual_seed(0)
    beta, term = TERMS[method]
    built, networks = built_method(teacher_file, method)
    assert getattr(built.hparams, f"{method}_weight") == beta and set(networks) == {"teacher", "student"}
    trained = {id(p) for p in built.trainable_parameters()}
    assert not any(id(p) in trained for p in networks["teacher"].parameters())
    assert_term_follows(built, random_views("standard", b=8), method,
                        lambda x: beta * term(built.student(x), built.teacher(x)))


@pytest.mark.parametrize("method", sorted(TERMS))
def test_weight_zero_removes_the_term(teacher_file, method):
    built, _ = built_method(teacher_file, method, {f"{method}_weight": 0.0, "kd_weight": 1.0})
    _, losses = built.forward_train(random_views("standard", b=4))
    assert set(losses) == {"ce", "kd"}


def test_rkd_passes_its_inner_weights_and_checks_them(teacher_file):
    torch.manual_seed(0)
    built, _ = built_method(teacher_file, "rkd", {"w_d": 1.0, "w_a": 0.0, "rkd_weight": 2.0})
    batch = random_views("standard", b=8)
    _, losses = built.forward_train(batch)
    with torch.no_grad():
        x = batch.views[:, 0]
        expected = 2.0 * rkd_loss(built.student(x).pooled, built.teacher(x).pooled, 1.0, 0.0)
    assert losses["rkd"].item() == pytest.approx(expected.item(), rel=1e-4)
    with pytest.raises(ValueError, match="w_d and w_a must be >= 0"):
        built_method(teacher_file, "rkd", {"w_a": -1.0})
    with pytest.raises(ValueError, match="both 0"):
        built_method(teacher_file, "rkd", {"w_d": 0.0, "w_a": 0.0})
