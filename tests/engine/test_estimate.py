"""`--estimate`: every stage timed for a few steps, projected to the run, nothing written."""

import math

import pytest

from sskd.cli import main
from sskd.config import config_from_dict
from sskd.engine import train
from sskd.engine.data import prepare_data
from sskd.engine.estimate import StageEstimate, duration, estimate_run, format_estimate


def digits(tmp_path, stages, teacher=None, cache=False):
    raw = {"model": {"name": "resnet8"}, "device": "cpu",
           "data": {"name": "digits", "batch_size": 128, "val_fraction": 0.1, "train_fraction": 0.3},
           "output": {"dir": str(tmp_path / "runs"), "name": "run", "progress": "none",
                      "tensorboard": False, "cache": cache},
           "stages": stages}
    if teacher:
        raw["teacher"] = {"name": "resnet8", "checkpoint": str(teacher)}
    return config_from_dict(raw)


def test_every_stage_is_timed_and_projected_without_writing_anything(tmp_path, teacher_file):
    config = digits(tmp_path, [{"name": "head", "method": "sskd_teacher_head", "epochs": 3, "milestones": []},
                               {"name": "student", "method": "sskd", "epochs": 5}], teacher=teacher_file)
    estimates = estimate_run(config, steps=2, warmup=1)
    assert [e.name for e in estimates] == ["head", "student"]
    steps = math.ceil(len(prepare_data(config.data, config.seed).train) / 128)
    assert all(e.steps_per_epoch == steps for e in estimates)
    for e in estimates:
        assert e.step_s > 0 and e.eval_first_s > 0 and not e.cached
        assert e.total_s == pytest.approx(e.epochs * steps * e.step_s + e.eval_first_s + (e.epochs - 1) * e.eval_epoch_s)
    head = estimates[0]
    assert head.eval_epoch_s < head.eval_first_s  # the frozen teacher is evaluated once
    assert not (tmp_path / "runs").exists()
    text = format_estimate(estimates, config)
    assert "head" in text and "sskd_teacher_head" in text and duration(sum(e.total_s for e in estimates)) in text


def test_a_stage_found_in_the_cache_costs_nothing(tmp_path, teacher_file):
    stages = [{"name": "head", "method": "sskd_teacher_head", "epochs": 1, "milestones": []},
              {"name": "student", "method": "sskd", "epochs": 1}]
    train(digits(tmp_path, stages, teacher=teacher_file, cache=True))
    config = digits(tmp_path, stages, teacher=teacher_file, cache=True)
    config.output.name = "second"
    head, student = estimate_run(config, steps=1, warmup=0)
    assert head.cached and head.total_s == 0 and not student.cached
    assert "cached" in format_estimate([head, student], config)


def test_the_command_prints_the_projection_and_refuses_it_with_resume(tmp_path, capsys):
    out = tmp_path / "runs"
    assert main(["train", "--dataset", "digits", "--model", "resnet8", "--device", "cpu", "--epochs", "240",
                 "--out-dir", str(out), "--estimate"]) == 0
    printed = capsys.readouterr().out
    assert "projected wall time of this run on cpu" in printed and "240" in printed
    assert not out.exists()
    assert main(["train", "--resume", str(tmp_path), "--estimate"]) == 2
    assert "--estimate" in capsys.readouterr().err


@pytest.mark.parametrize("seconds, text", [(12.34, "12.3s"), (185, "3m 05s"), (3725, "1h 02m")])
def test_durations_read_as_hours_minutes_seconds(seconds, text):
    assert duration(seconds) == text


def test_a_cached_stage_has_no_total():
    stage = StageEstimate("s", "m", 10, 5, 1.0, 2.0, 1.0, cached=True)
    assert stage.total_s == 0
    assert StageEstimate("s", "m", 10, 5, 1.0, 2.0, 1.0).total_s == 10 * 5 + 2 + 9


def test_bad_step_counts_are_refused(tmp_path):
    with pytest.raises(ValueError, match="steps >= 1"):
        estimate_run(digits(tmp_path, [{"epochs": 1}]), steps=0)
