"""No wasted work in the training loop: a frozen network is evaluated once per stage, the
host syncs once per logging interval (never mid-epoch without progress), DDP leaves the
frozen teacher alone, the fused optimiser updates as the default one, and the retrieval
accuracy runs the networks once per batch."""

import json

import pytest
import torch
from torch import nn

import sskd.engine.trainer as trainer_module
from sskd.config import ConfigError, config_from_dict
from sskd.engine import train
from sskd.engine.data import prepare_data
from sskd.engine.optim import build_optimizer
from sskd.engine.trainer import StageRunner, frozen_state_names

from distill_helpers import built_method, method_context, random_views


def digits_config(tmp_path, stages, progress="none", teacher=None, log_every=20, train_fraction=0.25):
    raw = {"model": {"name": "resnet8"}, "device": "cpu",
           "data": {"name": "digits", "batch_size": 128, "eval_batch_size": 256, "train_fraction": train_fraction},
           "output": {"dir": str(tmp_path), "name": "run", "progress": progress, "tensorboard": False,
                      "log_every": log_every, "cache": False},
           "stages": stages}
    if teacher:
        raw["teacher"] = {"name": "resnet8", "checkpoint": str(teacher)}
    return config_from_dict(raw)


@pytest.fixture
def evaluations(monkeypatch):
    """The networks ``evaluate`` was called on, in order."""
    seen = []
    original = trainer_module.evaluate

    def counting(network, *args, **kwargs):
        seen.append(network)
        return original(network, *args, **kwargs)

    monkeypatch.setattr(trainer_module, "evaluate", counting)
    return seen


def test_a_frozen_teacher_is_evaluated_once_per_stage_a_trained_network_every_epoch(
        tmp_path, teacher_file, evaluations):
    stages = [{"name": "head", "method": "sskd_teacher_head", "epochs": 3, "lr": 0.05, "milestones": []},
              {"name": "student", "method": "sskd", "epochs": 2, "lr": 0.05}]
    train(digits_config(tmp_path, stages, teacher=teacher_file))
    teacher_evals = [n for n in evaluations if n.num_classes == 10 and not n.training and
                     all(not p.requires_grad for p in n.parameters())]
    assert len(evaluations) == 1 + 2, "teacher once, the student after each of its 2 epochs"
    assert len(teacher_evals) == 1
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    head = [r for r in records if r["stage"] == "head"]
    assert len({r["test/top1"] for r in head}) == 1  # the same scores logged every epoch
    assert all("test/teacher_ss_top1" in r for r in head)


def test_the_method_says_when_its_eval_network_is_frozen(teacher_file):
    head, networks = built_method(teacher_file, "sskd_teacher_head")
    assert head.evaluates_frozen_network()
    kd, _ = built_method(teacher_file, "kd")
    assert not kd.evaluates_frozen_network()


@pytest.mark.parametrize("progress, log_every, checks", [("none", 2, 1), ("lines", 2, 3), ("lines", 20, 1)])
def test_host_syncs_once_per_logging_interval_and_never_mid_epoch_without_progress(
        tmp_path, monkeypatch, progress, log_every, checks):
    calls = []
    original = StageRunner._stop_if_nonfinite
    monkeypatch.setattr(StageRunner, "_stop_if_nonfinite",
                        lambda self, *a: calls.append(1) or original(self, *a))
    config = digits_config(tmp_path, [{"epochs": 1}], progress=progress, log_every=log_every, train_fraction=1.0)
    train(config)
    steps = -(-len(prepare_data(config.data, config.seed).train) // 128)
    expected = {1: 1, 3: steps // log_every + (steps % log_every > 0)}[checks]
    assert len(calls) == expected


def test_ddp_ignores_exactly_the_frozen_networks(teacher_file):
    from sskd.methods import build_method

    networks = nn.ModuleDict()
    build_method(method_context(teacher_file, {"method": "sskd_teacher_head"}, networks), "stages[0]")
    method = build_method(method_context(teacher_file, {"method": "sskd"}, networks), "stages[1]")
    ignored = set(frozen_state_names(method))
    teacher_state = {f"teacher.{k}" for k in networks["teacher"].state_dict()}
    assert teacher_state <= ignored
    assert any(name.startswith("teacher_head.") for name in ignored)
    assert not any(name.startswith(("student.", "student_head.")) for name in ignored)
    assert any(name.endswith("running_mean") for name in ignored)  # buffers too


def test_fused_sgd_updates_as_the_default_one():
    from sskd.config import StageConfig

    stage = StageConfig(lr=0.1, momentum=0.9, weight_decay=5e-4, nesterov=True)
    results = []
    for fused in (False, True):
        torch.manual_seed(0)
        layer = nn.Linear(5, 3)
        opt = build_optimizer(stage, layer.parameters(), fused=fused)
        for _ in range(3):
            opt.zero_grad()
            layer(torch.ones(4, 5)).square().sum().backward()
            opt.step()
        results.append(layer.weight.detach().clone())
    torch.testing.assert_close(results[0], results[1])


@pytest.mark.parametrize("key, value, message", [
    ("compile_mode", "turbo", "speed.compile_mode: must be one of default, reduce-overhead"),
    ("frozen_rows", -1, "speed.frozen_rows: must be an integer >= 0"),
])
def test_bad_speed_settings_are_refused_naming_the_key(key, value, message):
    with pytest.raises(ConfigError, match=message):
        config_from_dict({"speed": {key: value}}).validate()


def test_retrieval_accuracy_matches_a_pass_per_group(teacher_file):
    from sskd.methods.sskd import pretext_top1
    from sskd.data.views import MultiViewBatch, flatten_views

    head_stage, _ = built_method(teacher_file, "sskd_teacher_head")
    head_stage.eval()
    batch = random_views(head_stage.task.views, b=12, train=False)
    task, net, head = head_stage.task, head_stage.teacher, head_stage.head
    with torch.no_grad():
        correct = rows = 0
        for start in range(0, 12, 4):  # the former loop: networks run on each group alone
            part = MultiViewBatch(*(None if t is None else t[start:start + 4] for t in batch))
            scores, targets = task.outputs(head(net(flatten_views(part.views)).pooled), part)
            correct += (scores.argmax(1) == targets).sum().item()
            rows += targets.numel()
    got = pretext_top1(task, net, head, batch, group=4, frozen_rows=7).item()
    assert got == pytest.approx(100.0 * correct / rows)


@pytest.mark.parametrize("speed, data, message", [
    ({"compile_mode": "reduce-overhead"}, {}, "applies to a compiled step; also set speed.compile"),
    ({"compile": True, "compile_mode": "max-autotune"}, {}, "need every batch the same size; also set data.drop_last"),
])
def test_cuda_graphs_are_refused_where_they_cannot_work(speed, data, message):
    with pytest.raises(ConfigError, match=message):
        config_from_dict({"speed": speed, "data": data}).validate()
    config_from_dict({"speed": {**speed, "compile": True}, "data": {"drop_last": True}}).validate()
