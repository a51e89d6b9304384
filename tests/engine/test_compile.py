"""torch.compile of the training step (slow on a CPU: the first compilation takes ~1 min)."""

import json

import pytest

from sskd.config import config_from_dict
from sskd.engine import train


@pytest.mark.slow
def test_compiled_training_matches_eager_closely(tmp_path):
    def run(name, compile_):
        train(config_from_dict({
            "model": {"name": "resnet8"}, "device": "cpu",
            "data": {"name": "digits", "train_fraction": 0.3, "drop_last": True},
            "speed": {"compile": compile_},
            "output": {"dir": str(tmp_path), "name": name, "progress": "none", "tensorboard": False},
            "stages": [{"epochs": 1}],
        }))
        return json.loads((tmp_path / name / "metrics.jsonl").read_text())

    eager, compiled = run("eager", False), run("compiled", True)
    assert compiled["train/loss"] == pytest.approx(eager["train/loss"], rel=1e-3)
