"""CC: the two LinearEmbed sizes of the spec's pairs, both embeddings trained (the teacher's
network not), a few training steps with β·L_CC, weight 0."""

import pytest
import torch

from distill_helpers import assert_term_follows, built_method, random_views
from sskd.config import config_from_dict
from sskd.losses.cc import cc_loss
from sskd.methods.baseline import meta_outputs
from sskd.methods.cc import LinearEmbed

PAIRS = {("resnet32x4", "resnet8x4"): (256, 256), ("vgg13", "MobileNetV2"): (1280, 512),
         ("ResNet50", "vgg8"): (512, 2048), ("wrn_40_2", "ShuffleV1"): (960, 128),
         ("resnet56", "resnet20"): (64, 64)}


@pytest.mark.parametrize("pair", sorted(PAIRS))
def test_embedding_sizes_of_the_spec_pairs(pair):
    teacher, student = pair
    s, t = meta_outputs(config_from_dict({"model": {"name": student}, "teacher": {"name": teacher},
                                          "stages": [{"method": "cc"}]}))
    d_s, d_t = s.pooled.shape[1], t.pooled.shape[1]
    assert (d_s, d_t) == PAIRS[pair]
    with torch.device("meta"):
        e_s, e_t = LinearEmbed(d_s), LinearEmbed(d_t)
        assert e_s(s.pooled).shape == e_t(t.pooled).shape == (2, 128)
    assert e_s.linear.bias is not None and len(list(e_s.children())) == 1  # no normalisation


def cc(teacher_file, args=None, model="resnet8"):
    return built_method(teacher_file, "cc", args, model)


def test_trains_the_student_and_both_embeddings_with_beta_times_cc(teacher_file):
    torch.manual_seed(0)
    method, networks = cc(teacher_file, model="resnet8x4")
    assert method.hparams.cc_weight == 0.02
    assert set(networks) == {"teacher", "student", "cc_embed_student", "cc_embed_teacher"}
    assert networks["cc_embed_student"].linear.in_features == 256
    assert networks["cc_embed_teacher"].linear.in_features == 64  # the resnet8 teacher file
    trained = {id(p) for p in method.trainable_parameters()}
    for name in ("cc_embed_student", "cc_embed_teacher"):
        assert all(id(p) in trained for p in networks[name].parameters())
    assert not any(id(p) in trained for p in networks["teacher"].parameters())
    embed_s, embed_t = networks["cc_embed_student"], networks["cc_embed_teacher"]

    def teacher_embedding_learns():
        assert embed_t.linear.weight.grad.abs().sum() > 0

    assert_term_follows(method, random_views("standard", b=8), "cc",
                        lambda x: 0.02 * cc_loss(embed_s(method.student(x).pooled), embed_t(method.teacher(x).pooled)),
                        after_backward=teacher_embedding_learns)


def test_weight_zero_removes_the_term_and_its_embeddings(teacher_file):
    method, networks = cc(teacher_file, {"cc_weight": 0.0, "kd_weight": 1.0})
    _, losses = method.forward_train(random_views("standard", b=4))
    assert set(losses) == {"ce", "kd"} and set(networks) == {"teacher", "student"}
