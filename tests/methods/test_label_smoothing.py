"""A stage's ``label_smoothing`` reaches every cross-entropy against the class labels, and
only those: the joint class×rotation CE and the KD/KL terms are left as they were."""

import math

import pytest
import torch
import torch.nn.functional as F
from distill_helpers import method_context as context
from distill_helpers import random_views
from torch import nn

from sskd.methods import build_method

EPS = 0.3


def test_class_ce_smooths_the_target_as_hand_computed(teacher_file):
    method = build_method(context(teacher_file, {"label_smoothing": 0.5}), "s")
    logits, labels = torch.tensor([[0.0, math.log(3.0)]]), torch.tensor([0])   # p = (1/4, 3/4)
    # target (1 − ε)·onehot + ε/K = (0.75, 0.25): −0.75·ln(1/4) − 0.25·ln(3/4)
    assert method.class_ce(logits, labels).item() == pytest.approx(1.5 * math.log(2) + 0.25 * math.log(4 / 3))
    plain = build_method(context(teacher_file, {}), "s")
    assert plain.class_ce(logits, labels).item() == pytest.approx(math.log(4))


# method, the stages before it in the same networks, views, weight of its "ce" term
CASES = [
    ("supervised", [], "standard", 1.0),
    ("kd", [], "standard", 0.1),
    ("sskd", ["sskd_teacher_head"], "sskd", 0.1),
    ("hssakd_joint", [], "hssakd", 1.0),
    ("hssakd", ["hssakd_teacher"], "hssakd", 1.0),
    ("hssakd_online", [], "hssakd", 1.0),
]


@pytest.mark.parametrize("name, before, views, weight", CASES, ids=[c[0] for c in CASES])
def test_only_the_class_ce_term_is_smoothed(teacher_file, name, before, views, weight):
    torch.manual_seed(0)
    networks = nn.ModuleDict()
    for earlier in before:
        build_method(context(teacher_file, {"method": earlier}, networks), "s0")
    plain = build_method(context(teacher_file, {"method": name}, networks), "s1").eval()
    smoothed = build_method(context(teacher_file, {"method": name, "label_smoothing": EPS}, networks), "s1").eval()
    batch = random_views(views, seed=1, b=8)
    with torch.no_grad():
        _, want = plain.forward_train(batch)
        logits, got = smoothed.forward_train(batch)
        expected = weight * F.cross_entropy(logits, batch.labels, label_smoothing=EPS)
        if name == "hssakd_online":   # both peers' CE on the normal views
            peer = networks["peer"](batch.views[:, 0]).logits
            expected = expected + F.cross_entropy(peer, batch.labels, label_smoothing=EPS)
    assert set(got) == set(want) and "ce" in got
    torch.testing.assert_close(got["ce"], expected)
    assert not torch.isclose(got["ce"], want["ce"])
    for term in set(got) - {"ce"}:
        torch.testing.assert_close(got[term], want[term])
