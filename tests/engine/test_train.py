"""End to end on the embedded digits: run directory, metrics, summary, eval, bad input."""

import json
import math

import pytest
import torch

from sskd.cli import TRAIN_FLAGS, TRAIN_SWITCHES, build_parser, main
from sskd.config import ConfigError, config_from_dict
from sskd.engine import NonFiniteLossError, train
from sskd.engine.checkpoint import CheckpointStore
from sskd.methods import register_method
from sskd.methods.supervised import Supervised


def tiny_config(tmp_path, **stage):
    return config_from_dict({
        "model": {"name": "resnet8"}, "device": "cpu",
        "data": {"name": "digits", "batch_size": 128, "val_fraction": 0.1},
        "output": {"dir": str(tmp_path), "name": "run", "progress": "none", "tensorboard": False},
        "stages": [{"epochs": 2, **stage}],
    })


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("train")
    summary = train(tiny_config(tmp))
    return tmp / "run", summary


def test_run_directory_explains_itself(finished_run):
    run, summary = finished_run
    for name in ["config.yaml", "metrics.jsonl", "summary.json", "model.safetensors",
                 "plots/loss.png", "plots/accuracy.png"]:
        assert (run / name).is_file(), name
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2]
    for key in ["train/ce", "train/loss", "train/top1", "test/top1", "test/top5", "val/top1", "lr",
                "time_s", "images_per_s"]:
        assert key in records[0], key
    assert records[0]["train/ce"] == pytest.approx(records[0]["train/loss"])
    assert records[0]["images_per_s"] > 0
    stage = summary["stages"]["train"]
    assert stage["last_epoch"]["test/top1"] == records[-1]["test/top1"]
    assert stage["best_epoch"]["selected_on"] == "val/top1"
    best = max(records, key=lambda r: r["val/top1"])
    assert stage["best_epoch"]["test/top1"] == best["test/top1"]
    assert json.loads((run / "summary.json").read_text()) == summary


def test_training_learns_something(finished_run):
    run, summary = finished_run
    assert summary["stages"]["train"]["last_epoch"]["test/top1"] > 20.0  # chance is 10 %


def test_eval_command_reproduces_the_test_accuracy(finished_run, capsys):
    run, summary = finished_run
    assert main(["eval", str(run), "--device", "cpu"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["model"] == "resnet8" and result["dataset"] == "digits" and result["images"] == 450
    assert result["top1"] == pytest.approx(summary["stages"]["train"]["last_epoch"]["test/top1"], abs=1e-6)


def test_eval_refuses_a_checkpoint_of_another_architecture(finished_run, capsys):
    run, _ = finished_run
    assert main(["eval", str(run / "model.safetensors"), "--model", "resnet14", "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "does not fit network 'resnet14'" in err and "missing keys" in err


@register_method("test_nan_at_epoch2")
class NanAtEpoch2(Supervised):
    """Supervised, except that the loss term 'boom' is NaN from the 3rd step of epoch 2."""

    calls = 0

    def forward_train(self, batch):
        logits, losses = super().forward_train(batch)
        type(self).calls += 1
        boom = torch.tensor(float("nan")) if type(self).calls >= self.steps_per_epoch + 3 else logits.sum() * 0
        return logits, {**losses, "boom": boom}


def test_nonfinite_loss_stops_naming_step_and_term_and_keeps_the_last_checkpoint(tmp_path):
    config = tiny_config(tmp_path, method="test_nan_at_epoch2", epochs=3)
    config.data.val_fraction = 0.0
    NanAtEpoch2.calls = 0
    NanAtEpoch2.steps_per_epoch = -(-1347 // 128)
    with pytest.raises(NonFiniteLossError) as err:
        train(config)
    message = str(err.value)
    assert "epoch 2" in message and "step 3" in message and "boom" in message
    store = CheckpointStore(tmp_path / "run")
    assert store.latest().name == "s00-e0001"
    assert len((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()) == 1


def test_cli_errors_name_the_problem(tmp_path, capsys):
    assert main(["train", "--model", "resnet8x5", "--epochs", "1", "--out-dir", str(tmp_path)]) == 2
    assert "resnet8x4" in capsys.readouterr().err
    assert main(["train", "--dataset", "cifar100", "--data-root", str(tmp_path), "--epochs", "1",
                 "--out-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "cifar-100-python" in err and str(tmp_path) in err
    assert main(["train", "--lr", "-1", "--epochs", "1"]) == 2
    assert "stages[0].lr" in capsys.readouterr().err
    assert main(["train", "--resume", str(tmp_path / "nowhere")]) == 2
    assert "config.yaml" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["train", "eval"])
def test_help_documents_every_option(command, capsys):
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices[command]
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = capsys.readouterr().out
    for action in sub._actions:
        if action.dest == "help":
            continue
        assert action.help, action.dest
        for flag in action.option_strings:
            assert flag in text
        if command == "train" and action.option_strings:
            assert (action.dest in TRAIN_FLAGS or action.dest in TRAIN_SWITCHES
                    or action.dest in ("recipe", "resume", "set", "print_config", "estimate")), action.dest


@pytest.mark.parametrize("raw, key", [
    ({"stages": [{"method": "sskd_v9", "epochs": 1}]}, "stages[0].method"),
    ({"stages": [{"args": {"T": 4}, "epochs": 1}]}, "stages[0].args"),
    ({"model": {"name": "resnet8", "args": {"depth": 3}}}, "model.args"),
    ({"model": {"name": "resnet99"}}, "model.name"),
    ({"data": {"name": "mnist"}}, "data.name"),
    ({"data": {"image_size": 64}}, "data.image_size"),
    ({"device": "cuda:7"}, "device"),
])
def test_preflight_names_the_key_and_writes_nothing(tmp_path, raw, key):
    raw = {"output": {"dir": str(tmp_path), "name": "r"}, "stages": [{"epochs": 1}], **raw}
    with pytest.raises(ConfigError) as err:
        train(config_from_dict(raw))
    assert str(err.value).startswith(key)
    assert not (tmp_path / "r").exists()


def test_a_finished_run_directory_is_not_overwritten(finished_run, capsys):
    run, _ = finished_run
    before = (run / "metrics.jsonl").read_text()
    assert main(["train", "--epochs", "1", "--out-dir", str(run.parent), "--name", run.name]) == 2
    assert "already holds a run" in capsys.readouterr().err
    assert (run / "metrics.jsonl").read_text() == before


def test_a_stage_without_a_single_batch_is_refused(tmp_path):
    config = tiny_config(tmp_path, epochs=1)
    config.data.train_fraction, config.data.drop_last, config.data.val_fraction = 0.02, True, 0.0
    with pytest.raises(ValueError, match="no training batch"):
        train(config)


def test_bf16_and_channels_last_run_on_cpu(tmp_path):
    config = tiny_config(tmp_path, epochs=1)
    config.speed.amp = "bf16"
    config.speed.channels_last = True
    train(config)
    record = json.loads((tmp_path / "run" / "metrics.jsonl").read_text())
    assert math.isfinite(record["train/loss"]) and record["train/loss"] < math.log(10) + 1


def test_resume_needs_a_run_directory_with_a_config(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no checkpoint under .* and no config.yaml"):
        train(tiny_config(tmp_path), run_dir=tmp_path / "empty", resume=True)
