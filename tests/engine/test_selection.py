"""Which epoch a stage hands on: the last by default, else the best by a named metric."""

import json

import pytest
import torch
from safetensors.torch import load_file

from sskd.config import ConfigError, config_from_dict
from sskd.engine import train


def config(tmp_path, select, val_fraction=0.2, epochs=4):
    return config_from_dict({
        "model": {"name": "resnet8"}, "device": "cpu",
        "data": {"name": "digits", "batch_size": 128, "val_fraction": val_fraction, "train_fraction": 0.3},
        "output": {"dir": str(tmp_path), "name": "run", "progress": "none", "tensorboard": False,
                   "keep_checkpoints": epochs},
        "stages": [{"epochs": epochs, "lr": 0.2, "select": select}],
    })


def test_the_best_epoch_by_a_validation_metric_is_kept_and_exported(tmp_path):
    summary = train(config(tmp_path, "val/top1"))
    run = tmp_path / "run"
    records = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    best = max(records, key=lambda r: (r["val/top1"], -r["epoch"]))
    assert summary["stages"]["train"]["exported_epoch"] == {"epoch": best["epoch"], "selected_on": "val/top1"}
    exported = load_file(run / "model.safetensors")
    at_best = load_file(run / "checkpoints" / f"s00-e{best['epoch']:04d}" / "weights.safetensors")
    for key, value in exported.items():
        assert torch.equal(value, at_best[f"student.{key}"]), key


def test_last_is_the_default(tmp_path):
    summary = train(config(tmp_path, "last", epochs=2))
    assert summary["stages"]["train"]["exported_epoch"] == {"epoch": 2, "selected_on": "last"}
    assert not list((tmp_path / "run" / "checkpoints").glob("best-*"))


@pytest.mark.parametrize("select, val_fraction, message", [
    ("val/top1", 0.0, r"stages\[0\]\.select: 'val/top1' needs a validation split"),
    ("best", 0.2, r"stages\[0\]\.select: 'last' or an epoch metric"),
])
def test_impossible_selections_are_refused_before_training(tmp_path, select, val_fraction, message):
    with pytest.raises(ConfigError, match=message):
        train(config(tmp_path, select, val_fraction))
    assert not (tmp_path / "run").exists()


def test_an_unknown_metric_is_named_after_the_first_epoch(tmp_path):
    with pytest.raises(ValueError, match=r"stages\[0\]\.select: the epoch records have no 'val/ss_top1'"):
        train(config(tmp_path, "val/ss_top1", epochs=1))
    assert (tmp_path / "run" / "checkpoints" / "latest").is_file()   # epoch 1 is kept
