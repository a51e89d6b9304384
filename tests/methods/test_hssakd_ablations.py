"""The HSSAKD student's ablation hyper-parameters (HSSAKD.md §7.3): ``branches``, ``kd_views``
and ``joint_ce_weight``, on a random ResNet-8 pair (three branches each)."""

import pytest
import torch
import torch.nn.functional as F
from distill_helpers import method_context, random_views
from torch import nn

from sskd.config import ConfigError, config_from_dict
from sskd.engine import train
from sskd.losses import kd_loss
from sskd.methods import build_method

T = 3.0


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny tensors: one thread is faster than several on shared cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def batch(seed=0, b=2):
    return random_views("hssakd", seed, b)


def offline(teacher_file, networks=None, **args):
    """An ``hssakd`` student (in eval mode: a second pass gives the same outputs) on the
    branches of an ``hssakd_teacher`` stage, and the networks."""
    networks = nn.ModuleDict() if networks is None else networks
    if "teacher_branches" not in networks:
        torch.manual_seed(0)
        build_method(method_context(teacher_file, {"method": "hssakd_teacher"}, networks), "s0")
    method = build_method(method_context(teacher_file, {"method": "hssakd", "args": args}, networks), "s1")
    return method.eval(), networks


def direct(networks, b):
    """Student and teacher outputs and branch logits, computed without the method."""
    x = b.views.flatten(0, 1)
    with torch.no_grad():
        s_out, t_out = networks["student"](x), networks["teacher"](x)
        return s_out, t_out, networks["student_branches"](s_out), networks["teacher_branches"](t_out)


def count_calls(modules):
    calls = [0] * len(modules)
    for i, m in enumerate(modules):
        m.register_forward_hook(lambda *_, i=i: calls.__setitem__(i, calls[i] + 1))
    return calls


def test_one_branch_distils_that_pair_alone_and_runs_no_other_branch(teacher_file):
    method, networks = offline(teacher_file, branches=[2])
    b = batch()
    s_calls = count_calls(networks["student_branches"].branches)
    t_calls = count_calls(networks["teacher_branches"].branches)
    _, losses = method.forward_train(b)
    assert s_calls == [0, 1, 0] and t_calls == [0, 1, 0]
    _, _, s_aux, t_aux = direct(networks, b)
    torch.testing.assert_close(losses["aux_kd"], kd_loss(s_aux[1], t_aux[1], T))
    all_pairs = sum(kd_loss(s, t, T) for s, t in zip(s_aux, t_aux))
    assert losses["aux_kd"].item() != pytest.approx(all_pairs.item())

    method.train()
    sum(method.forward_train(b)[1].values()).backward()
    grads = [[p.grad for p in branch.parameters()] for branch in networks["student_branches"].branches]
    assert all(g is None for g in grads[0] + grads[2]) and all(g is not None for g in grads[1])
    assert method.leaves_parameters_unused()


def test_all_branches_views_and_no_joint_ce_spelled_out_are_the_default(teacher_file):
    default, networks = offline(teacher_file)
    explicit, _ = offline(teacher_file, networks, branches=[3, 1, 2], kd_views="all",
                          joint_ce_weight=0.0)
    b = batch(1)
    _, want = default.forward_train(b)
    _, got = explicit.forward_train(b)
    assert set(want) == set(got) == {"ce", "aux_kd", "kd"}
    for key in want:
        torch.testing.assert_close(got[key], want[key], rtol=0, atol=0)
    s_out, t_out, s_aux, t_aux = direct(networks, b)
    expected = (F.cross_entropy(s_out.logits[0::4], b.labels) + kd_loss(s_out.logits, t_out.logits, T)
                + sum(kd_loss(s, t, T) for s, t in zip(s_aux, t_aux)))
    torch.testing.assert_close(sum(want.values()), expected)
    assert not default.leaves_parameters_unused() and not explicit.leaves_parameters_unused()


def test_kd_on_the_normal_views_only(teacher_file):
    method, networks = offline(teacher_file, kd_views="normal")
    everywhere, _ = offline(teacher_file, networks)
    b = batch(2)
    _, losses = method.forward_train(b)
    s_out, t_out, _, _ = direct(networks, b)
    torch.testing.assert_close(losses["kd"], kd_loss(s_out.logits[0::4], t_out.logits[0::4], T))
    _, all_views = everywhere.forward_train(b)
    assert losses["kd"].item() != pytest.approx(all_views["kd"].item(), rel=1e-3)
    torch.testing.assert_close(losses["aux_kd"], all_views["aux_kd"])


def joint_labels_by_hand(labels):
    """``4·y + r`` for the image-major rows of the four rotations (r = 0, 1, 2, 3)."""
    return 4 * labels.repeat_interleave(4) + torch.arange(4).repeat(labels.numel())


@pytest.mark.parametrize("aux_weight", [1.0, 0.0])
def test_joint_ce_on_the_student_branches_against_the_joint_labels(teacher_file, aux_weight):
    method, networks = offline(teacher_file, joint_ce_weight=0.5, aux_weight=aux_weight)
    b = batch(3)
    t_calls = count_calls(networks["teacher_branches"].branches)
    _, losses = method.forward_train(b)
    assert set(losses) == {"ce", "kd", "joint_ce"} | ({"aux_kd"} if aux_weight else set())
    assert t_calls == ([1, 1, 1] if aux_weight else [0, 0, 0])
    _, _, s_aux, _ = direct(networks, b)
    targets = joint_labels_by_hand(b.labels)
    torch.testing.assert_close(losses["joint_ce"], 0.5 * sum(F.cross_entropy(a, targets) for a in s_aux))
    assert not method.leaves_parameters_unused()


def test_without_branch_terms_no_branch_runs(teacher_file):
    method, networks = offline(teacher_file, aux_weight=0.0, branches=[1])
    calls = count_calls([*networks["student_branches"].branches, *networks["teacher_branches"].branches])
    _, losses = method.forward_train(batch())
    assert set(losses) == {"ce", "kd"} and calls == [0] * 6
    assert method.leaves_parameters_unused()


@pytest.mark.parametrize("args, message", [
    ({"branches": []}, r"branches must be .* got \[\]"),
    ({"branches": [0]}, r"branches must be .* got \[0\]"),
    ({"branches": [4]}, r"branches .* in 1\.\.3, .* got \[4\]"),
    ({"branches": [2, 2]}, r"branches must be .* got \[2, 2\]"),
    ({"branches": ["c1"]}, r"branches must be .* got \['c1'\]"),
    ({"kd_views": "rotated"}, r"kd_views must be one of 'all', 'normal', got 'rotated'"),
    ({"ce_weight": 0, "aux_weight": 0, "kd_weight": 0}, r"joint_ce_weight\) is 0"),
])
def test_bad_values_are_refused_naming_the_key(teacher_file, args, message):
    with pytest.raises(ValueError, match=message):
        offline(teacher_file, **args)


@pytest.mark.parametrize("args, message", [
    ({"branches": [4]}, r"stages\[0\] \(hssakd\): branches .* in 1\.\.3, .* got \[4\]"),
    ({"branches": [1, 1]}, r"stages\[0\]\.args: branches .* got \[1, 1\]"),
    ({"kd_views": "none"}, r"stages\[0\]\.args: kd_views must be"),
])
def test_a_run_with_bad_values_is_refused_before_anything_is_written(tmp_path, teacher_file, args, message):
    config = config_from_dict({"model": {"name": "resnet8"}, "device": "cpu",
                               "teacher": {"name": "resnet8", "checkpoint": str(teacher_file)},
                               "output": {"dir": str(tmp_path), "name": "r"},
                               "stages": [{"method": "hssakd", "args": args}]})
    with pytest.raises(ConfigError, match=message):
        train(config)
    assert not (tmp_path / "r").exists()


def test_overrides_set_the_ablation_hyper_parameters():
    from sskd.config import apply_override, build_dataclass
    from sskd.methods.hssakd import HSSAKDHparams

    raw = {"model": {"name": "resnet8"}, "stages": [{"name": "student", "method": "hssakd"}]}
    for assignment in ("stages.student.args.branches=[2]", "stages.student.args.kd_views=normal",
                       "stages.student.args.joint_ce_weight=1"):
        apply_override(raw, assignment)
    hparams = build_dataclass(HSSAKDHparams, config_from_dict(raw).stages[0].args, "args")
    assert hparams == HSSAKDHparams(branches=[2], kd_views="normal", joint_ce_weight=1.0)
