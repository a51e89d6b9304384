"""The pretext tasks of SSKD's Table 2: what each one scores, its targets, its teacher loss,
and that each plugs into both SSKD stages."""

import copy

import pytest
import torch
import torch.nn.functional as F
from distill_helpers import method_context as context
from distill_helpers import random_views
from torch import nn

from sskd.losses import batch_hard_triplet_loss, similarity_matrix
from sskd.methods import build_method
from sskd.methods.sskd import pretext_top1
from sskd.models.output import ModelOutput
from sskd.selfsup import build_pretext_task, list_pretext_tasks

MEAN, STD = (0.5,) * 3, (0.25,) * 3


def batch_for(task, b=6, seed=0, train=True):
    return random_views(task.views, seed, b, train)


def test_the_four_tasks_of_table_2_are_registered():
    assert list_pretext_tasks() == ["contrastive", "exemplar", "jigsaw", "rotation"]


@pytest.mark.parametrize("name", ["contrastive", "exemplar"])
def test_similarity_tasks_score_transformed_rows_against_normal_images(name):
    task = build_pretext_task(name)
    batch = batch_for(task)
    b, v = batch.views.shape[:2]
    h = torch.randn(b * v, 16)
    scores, targets = task.outputs(h, batch)
    assert scores.shape == (b * (v - 1), b)
    assert targets.tolist() == [i for i in range(b) for _ in range(v - 1)]
    grouped = h.view(b, v, 16)
    torch.testing.assert_close(scores, similarity_matrix(grouped[:, 1:].reshape(-1, 16), grouped[:, 0]))


def test_rotation_targets_are_the_quarter_turns_of_every_view():
    task = build_pretext_task("rotation")
    batch = batch_for(task, b=3)
    scores, targets = task.outputs(torch.randn(12, 4), batch)
    assert scores.shape == (12, 4)
    assert targets.tolist() == [0, 1, 2, 3] * 3


def test_jigsaw_targets_are_the_permutation_indices():
    task = build_pretext_task("jigsaw")
    batch = batch_for(task, b=5)
    scores, targets = task.outputs(torch.randn(20, 24), batch)
    assert scores.shape == (20, 24)
    grouped = targets.view(5, 4)
    assert (grouped[:, 0] == 0).all()                      # the normal view: identity
    assert ((grouped[:, 1:] >= 1) & (grouped[:, 1:] <= 23)).all()


def test_teacher_losses():
    scores = torch.tensor([[0.9, 0.1], [0.2, 0.6]])
    targets = torch.tensor([0, 0])
    for name in ("contrastive", "rotation"):
        task = build_pretext_task(name, temperature=0.5) if name == "contrastive" else build_pretext_task(name)
        t = 0.5 if name == "contrastive" else 1.0
        torch.testing.assert_close(task.teacher_loss(scores, targets), F.cross_entropy(scores / t, targets))
    exemplar = build_pretext_task("exemplar", margin=0.3)
    torch.testing.assert_close(exemplar.teacher_loss(scores, targets),
                               batch_hard_triplet_loss(scores, targets, 0.3))


def test_tasks_refuse_views_they_cannot_read():
    with pytest.raises(ValueError, match="rotation.*sskd or hssakd.*sskd_paper"):
        build_pretext_task("rotation", views="sskd_paper")
    with pytest.raises(ValueError, match="jigsaw"):
        build_pretext_task("jigsaw", views="sskd")
    with pytest.raises(ValueError, match="unknown view maker 'rotations'"):
        build_pretext_task("contrastive", views="rotations")
    with pytest.raises(ValueError, match="unknown pretext task 'rotate'.*rotation"):
        build_pretext_task("rotate")


class MeanColour(nn.Module):
    """A stand-in network whose pooled embedding is each image's mean colour: the same for
    every rotation of an image, so rotated views retrieve their own image exactly."""

    def __init__(self, constant=False):
        super().__init__()
        self.constant = constant

    def forward(self, x):
        pooled = x.mean(dim=(2, 3))
        if self.constant:
            pooled = torch.ones_like(pooled)
        return ModelOutput(torch.zeros(x.shape[0], 10), [], None, pooled)


def test_retrieval_accuracy_is_exact_for_invariant_features_and_chance_for_constant_ones():
    task = build_pretext_task("contrastive")
    batch = batch_for(task, b=8, train=False)
    assert pretext_top1(task, MeanColour(), nn.Identity(), batch, group=8).item() == pytest.approx(100.0)
    # All similarities tie, argmax picks column 0 of each group: right for 1 image in 4.
    assert pretext_top1(task, MeanColour(True), nn.Identity(), batch, group=4).item() == pytest.approx(25.0)
    assert pretext_top1(task, MeanColour(True), nn.Identity(), batch, group=1).item() == pytest.approx(100.0)




@pytest.mark.parametrize("name", ["exemplar", "rotation", "jigsaw"])
def test_each_task_runs_both_sskd_stages(teacher_file, name):
    networks = nn.ModuleDict()
    head_stage = build_method(context(teacher_file, {"method": "sskd_teacher_head", "args": {"task": name}},
                                      networks), "s0")
    task = head_stage.task
    before = copy.deepcopy(networks["teacher"].state_dict())
    opt = torch.optim.SGD(list(head_stage.trainable_parameters()), lr=0.1, momentum=0.9)
    head_stage.train()
    _, losses = head_stage.forward_train(batch_for(task))
    assert set(losses) == {name} and torch.isfinite(losses[name])
    opt.zero_grad()
    losses[name].backward()
    opt.step()
    for key, value in networks["teacher"].state_dict().items():
        assert torch.equal(value, before[key]), key

    student = build_method(context(teacher_file, {"method": "sskd", "args": {"task": name}}, networks), "s1")
    student.train()
    _, losses = student.forward_train(batch_for(task, seed=1))
    assert set(losses) == {"ce", "kd", "tf", "ss"}
    head = list(networks["student_head"].parameters())
    for term, loss in losses.items():
        grads = torch.autograd.grad(loss, head, retain_graph=True, allow_unused=True)
        assert any(g is not None and g.abs().sum() > 0 for g in grads) == (term == "ss"), term
    student.eval()
    metrics = student.eval_metrics(batch_for(task, train=False))
    assert 0.0 <= metrics["student_ss_top1"].item() <= 100.0


def test_the_student_must_mimic_the_task_the_teacher_head_learnt(teacher_file):
    networks = nn.ModuleDict()
    build_method(context(teacher_file, {"method": "sskd_teacher_head", "args": {"task": "rotation"}}, networks), "s0")
    with pytest.raises(ValueError, match="mimics pretext task 'contrastive'.*'rotation'"):
        build_method(context(teacher_file, {"method": "sskd"}, networks), "s1")
