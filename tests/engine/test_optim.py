"""Stage optimisers and lr schedules: SGD or AdamW, step or cosine, linear warm-up; the
lr is a pure function of the epoch, so a resumed AdamW + cosine run is exact."""

import json
import math

import pytest
import torch
from safetensors.torch import load_file

from sskd.config import ConfigError, StageConfig, config_from_dict, dump_config, load_recipe
from sskd.engine import train
from sskd.engine.checkpoint import CheckpointStore
from sskd.engine.optim import build_optimizer, stage_lr
from sskd.methods import register_method
from sskd.methods.supervised import Supervised


def stage(**kw):
    s = StageConfig(**kw)
    s.validate("stages[0]")
    return s


def curve(s):
    return [stage_lr(s, e) for e in range(s.epochs)]


def test_cosine_after_a_linear_warm_up():
    # warm-up lr·(e+1)/(W+1): 0.3·1/3, 0.3·2/3; then 0.3·½(1+cos(π·(e−2)/4)) for e = 2..5
    assert curve(stage(lr=0.3, epochs=6, warmup_epochs=2, schedule="cosine")) == pytest.approx(
        [0.1, 0.2, 0.3, 0.15 * (1 + math.sqrt(0.5)), 0.15, 0.15 * (1 - math.sqrt(0.5))])


def test_cosine_without_warm_up_starts_at_lr_and_never_reaches_zero():
    assert curve(stage(lr=1.0, epochs=4, schedule="cosine")) == pytest.approx(
        [1.0, 0.5 + 0.5 * math.sqrt(0.5), 0.5, 0.5 - 0.5 * math.sqrt(0.5)])


def test_step_schedule_after_a_linear_warm_up():
    s = stage(lr=0.1, epochs=10, warmup_epochs=3, milestones=[5, 8], gamma=0.1)
    assert curve(s) == pytest.approx([0.025, 0.05, 0.075, 0.1, 0.1, 0.01, 0.01, 0.01, 0.001, 0.001])


def test_the_default_is_the_papers_step_schedule():
    s = stage(lr=0.05, epochs=240)
    assert (s.optimizer, s.schedule, s.warmup_epochs, s.label_smoothing) == ("sgd", "step", 0, 0.0)
    assert [stage_lr(s, e) for e in (0, 149, 150, 180, 210, 239)] == pytest.approx(
        [0.05, 0.05, 0.005, 0.0005, 0.00005, 0.00005])


@pytest.mark.parametrize("raw, message", [
    ({"optimizer": "adam"}, "stages[0].optimizer: must be sgd or adamw, got 'adam'"),
    ({"optimizer": "adamw", "nesterov": True}, "stages[0].nesterov: SGD only, not with optimizer 'adamw'"),
    ({"schedule": "linear"}, "stages[0].schedule: must be step or cosine, got 'linear'"),
    ({"epochs": 5, "warmup_epochs": 5}, "stages[0].warmup_epochs: must be in [0, epochs=5), got 5"),
    ({"warmup_epochs": -1}, "stages[0].warmup_epochs: must be in [0, epochs=240), got -1"),
    ({"label_smoothing": 1.0}, "stages[0].label_smoothing: must be in [0, 1), got 1.0"),
    ({"label_smoothing": -0.1}, "stages[0].label_smoothing: must be in [0, 1), got -0.1"),
    ({"schedule": "cosine", "milestones": [150]}, "stages[0].milestones: the cosine schedule takes none"),
    ({"epochs": 10, "warmup_epochs": 4, "milestones": [4, 8]},
     "stages[0].milestones: [4] not inside (warmup_epochs=4, epochs=10)"),
    ({"epochs": 10, "warmup_epochs": 6},
     "stages[0].milestones: [6] not inside (warmup_epochs=6, epochs=10) (the default, scaled"),
    ({"warmup_epochs": 1.5}, "stages[0].warmup_epochs: expected int"),
])
def test_bad_optimisation_settings_are_refused_naming_the_key(raw, message):
    with pytest.raises(ConfigError) as err:
        config_from_dict({"stages": [raw]})
    assert str(err.value).startswith(message)


def test_a_cosine_stage_keeps_no_milestones_and_round_trips(tmp_path):
    config = config_from_dict({"stages": [{"epochs": 30, "schedule": "cosine", "warmup_epochs": 2,
                                           "optimizer": "adamw", "label_smoothing": 0.1}]})
    assert config.stages[0].milestones == []
    dump_config(config, tmp_path / "config.yaml")   # what --resume reads back
    assert config_from_dict(load_recipe(tmp_path / "config.yaml")) == config


def one_step(s):
    """One step on p = 1 with loss p²/4 (gradient 0.5)."""
    p = torch.nn.Parameter(torch.tensor([1.0]))
    optimizer = build_optimizer(s, [p])
    (p ** 2 / 4).sum().backward()
    optimizer.step()
    return optimizer, p.item()


def test_adamw_decays_the_weights_apart_from_the_gradient():
    # AdamW, first step: p·(1 − lr·wd) − lr·m̂/(√v̂ + eps) = 1·(1 − 0.05) − 0.1·0.5/0.5 = 0.85
    optimizer, p = one_step(stage(optimizer="adamw", lr=0.1, weight_decay=0.5, epochs=2))
    assert isinstance(optimizer, torch.optim.AdamW) and p == pytest.approx(0.85, abs=1e-6)
    # SGD adds the decay to the gradient: 1 − 0.1·(0.5 + 0.5·1) = 0.9
    optimizer, p = one_step(stage(optimizer="sgd", lr=0.1, weight_decay=0.5, epochs=2))
    assert isinstance(optimizer, torch.optim.SGD) and p == pytest.approx(0.9)


class Interrupted(Exception):
    pass


@register_method("test_optim_crash")
class CrashesOnce(Supervised):
    """Supervised, raising at training step ``crash_at`` (counted over the whole run)."""

    crash_at = None
    steps = 0

    def forward_train(self, batch):
        type(self).steps += 1
        if type(self).steps == type(self).crash_at:
            raise Interrupted(f"interrupted at step {type(self).steps}")
        return super().forward_train(batch)


def adamw_config(tmp_path, name):
    return config_from_dict({
        "model": {"name": "resnet8"}, "device": "cpu",
        "data": {"name": "digits", "batch_size": 64, "train_fraction": 0.25},
        "speed": {"deterministic": True},
        "output": {"dir": str(tmp_path), "name": name, "progress": "none", "tensorboard": False,
                   "keep_checkpoints": 1},
        "stages": [{"method": "test_optim_crash", "epochs": 3, "optimizer": "adamw", "lr": 0.01,
                    "weight_decay": 0.05, "schedule": "cosine", "warmup_epochs": 1, "label_smoothing": 0.1}],
    })


@pytest.fixture(autouse=True)
def restore_determinism():
    yield
    torch.use_deterministic_algorithms(False)
    CrashesOnce.crash_at = None


def latest(run):
    return CheckpointStore(run).latest()


def test_an_adamw_cosine_run_logs_its_lr_curve_and_resumes_exactly(tmp_path):
    CrashesOnce.steps, CrashesOnce.crash_at = 0, None
    train(adamw_config(tmp_path, "whole"))
    records = [json.loads(line) for line in (tmp_path / "whole" / "metrics.jsonl").read_text().splitlines()]
    # W = 1: 0.01·1/2, then 0.01·½(1 + cos(π·(e−1)/2)) for e = 1, 2
    assert [r["lr"] for r in records] == pytest.approx([0.005, 0.01, 0.005])
    state = torch.load(latest(tmp_path / "whole") / "state.pt", weights_only=True)
    assert {"exp_avg", "exp_avg_sq"} <= set(next(iter(state["optimizer"]["state"].values())))

    CrashesOnce.steps, CrashesOnce.crash_at = 0, 6 + 3   # 6 steps an epoch: mid epoch 2
    with pytest.raises(Interrupted):
        train(adamw_config(tmp_path, "cut"))
    CrashesOnce.crash_at = None
    train(adamw_config(tmp_path, "cut"), run_dir=tmp_path / "cut", resume=True)
    a = load_file(str(latest(tmp_path / "whole") / "weights.safetensors"))
    b = load_file(str(latest(tmp_path / "cut") / "weights.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    again = [json.loads(line) for line in (tmp_path / "cut" / "metrics.jsonl").read_text().splitlines()]
    assert [r["lr"] for r in again] == [r["lr"] for r in records]
