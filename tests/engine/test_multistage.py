"""Runs of several stages: later stages add networks; resume at any point is exact."""

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

from sskd.config import config_from_dict
from sskd.engine import train
from sskd.methods import register_method
from sskd.methods.supervised import Supervised


class Interrupted(Exception):
    pass


@register_method("test_probe")
class TrainsAProbe(Supervised):
    """Stage-2 method: the student keeps training and a new network ("probe") is added."""

    crash_at = None  # (epoch, step) of this stage at which to raise, for the resume tests
    steps = 0

    def __init__(self, context, hparams):
        super().__init__(context, hparams)
        self.probe = context.network("probe", lambda: nn.Linear(self.student.embed_dim, context.num_classes))

    def forward_train(self, batch):
        type(self).steps += 1
        if type(self).crash_at is not None and type(self).steps == type(self).crash_at:
            raise Interrupted(f"interrupted at step {type(self).steps}")
        out = self.student(batch.views[:, 0])
        return out.logits, {"ce": F.cross_entropy(out.logits, batch.labels),
                            "probe": F.cross_entropy(self.probe(out.pooled), batch.labels)}


def config(tmp_path, name):
    return config_from_dict({
        "model": {"name": "resnet8"}, "device": "cpu",
        "data": {"name": "digits", "batch_size": 64, "train_fraction": 0.25},
        "speed": {"deterministic": True},
        "output": {"dir": str(tmp_path), "name": name, "progress": "none", "tensorboard": False,
                   "keep_checkpoints": 1},
        "stages": [{"name": "a", "epochs": 2, "milestones": [1]},
                   {"name": "b", "method": "test_probe", "epochs": 3, "milestones": [2], "lr": 0.02}],
    })


@pytest.fixture(autouse=True)
def restore_determinism():
    yield
    torch.use_deterministic_algorithms(False)
    TrainsAProbe.crash_at = None


def final_weights(run):
    return load_file(str(run / "checkpoints" / (run / "checkpoints" / "latest").read_text() / "weights.safetensors"))


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("multistage")
    TrainsAProbe.steps, TrainsAProbe.crash_at = 0, None
    summary = train(config(tmp, "whole"))
    torch.use_deterministic_algorithms(False)
    return tmp / "whole", summary


def test_stages_run_in_order_with_their_own_schedules(uninterrupted):
    import json

    run, summary = uninterrupted
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [(r["stage"], r["epoch"], r["lr"]) for r in records] == [
        ("a", 1, 0.05), ("a", 2, pytest.approx(0.005)),
        ("b", 1, 0.02), ("b", 2, 0.02), ("b", 3, pytest.approx(0.002))]
    assert "train/probe" in records[-1] and "train/probe" not in records[0]
    assert set(summary["stages"]) == {"a", "b"}
    assert {k.split(".")[0] for k in final_weights(run)} == {"student", "probe"}


@pytest.mark.parametrize("crash_at", [1, 6 + 3], ids=["at-stage-boundary", "mid-stage"])  # 6 steps an epoch
def test_resume_after_a_crash_is_exact(tmp_path, uninterrupted, crash_at):
    whole, _ = uninterrupted
    TrainsAProbe.steps, TrainsAProbe.crash_at = 0, crash_at
    with pytest.raises(Interrupted):
        train(config(tmp_path, "cut"))
    TrainsAProbe.crash_at = None
    train(config(tmp_path, "cut"), run_dir=tmp_path / "cut", resume=True)
    a, b = final_weights(whole), final_weights(tmp_path / "cut")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert (tmp_path / "cut" / "metrics.jsonl").read_text().count("\n") == 5
