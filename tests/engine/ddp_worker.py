"""Trains a batch-norm-free network on digits with sskd's engine; run it plain or under
torchrun. Batch norm and random augmentation are left out so that 1 and N processes
compute the same function of the same global batch: per-process BN statistics and
per-process augmentation draws differ by design."""

import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from sskd.config import config_from_dict
from sskd.data.views import IDENTITY, StandardViews, register_view_maker
from sskd.engine import train
from sskd.methods import register_method
from sskd.methods.supervised import Supervised
from sskd.models import ModelOutput, register_model


@register_view_maker("test_no_augmentation")
class NoAugmentation(StandardViews):
    def _make(self, x, generator):
        ids = x.new_full((x.shape[0], 1), IDENTITY, dtype=torch.int64)
        return x.unsqueeze(1), ids


@register_method("test_supervised_no_augmentation")
class SupervisedNoAugmentation(Supervised):
    views = "test_no_augmentation"


class TinyCNN(nn.Module):
    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, stride=2, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, stride=2, padding=1)
        self.fc = nn.Linear(32, num_classes)

    def forward(self, x, preact=False):
        f1 = F.relu(self.conv1(x))
        f2 = F.relu(self.conv2(f1))
        pooled = f2.mean(dim=(2, 3))
        return ModelOutput(self.fc(pooled), [f1, f2], None, pooled)


register_model("test_tiny_cnn", 32, "test only: conv-conv-linear without batch norm")(
    lambda num_classes=10: TinyCNN(num_classes))

def crash_after_saving(tag: str) -> None:
    """Make rank 0 exit right after it saved checkpoint ``tag`` (a crash in mid-run)."""
    from sskd.engine.checkpoint import CheckpointStore

    save = CheckpointStore.save

    def save_then_crash(self, t, networks, state):
        path = save(self, t, networks, state)
        if t == tag:
            raise SystemExit(3)
        return path

    CheckpointStore.save = save_then_crash


if __name__ == "__main__":
    out_dir, name, mode = sys.argv[1], sys.argv[2], (sys.argv[3] if len(sys.argv) > 3 else "run")
    if mode == "crash":
        crash_after_saving("s00-e0002")
    if mode == "teacher":  # write a random TinyCNN teacher to out_dir/name
        from sskd.engine.checkpoint import export_model

        torch.manual_seed(0)
        export_model(TinyCNN(10), Path(out_dir) / name, {"model": "test_tiny_cnn"})
        sys.exit(0)
    if mode.startswith("kd="):  # a frozen teacher from this file, which DDP must leave alone
        train(config_from_dict({
            "model": {"name": "test_tiny_cnn"}, "device": "cpu", "seed": 3,
            "teacher": {"name": "test_tiny_cnn", "checkpoint": mode[3:]},
            "data": {"name": "digits", "batch_size": 64, "drop_last": True, "train_fraction": 0.3},
            "output": {"dir": out_dir, "name": name, "progress": "none", "tensorboard": False},
            "stages": [{"epochs": 1, "lr": 0.1, "milestones": [], "method": "kd"}],
        }))
        sys.exit(0)
    config = config_from_dict({
        "model": {"name": "test_tiny_cnn"}, "device": "cpu", "seed": 3,
        "data": {"name": "digits", "batch_size": 64, "drop_last": True},
        "output": {"dir": out_dir, "name": name, "progress": "none", "tensorboard": False},
        "stages": [{"epochs": 3, "lr": 0.1, "milestones": [], "method": "test_supervised_no_augmentation"}],
    })
    if mode == "resume":
        train(config, run_dir=f"{out_dir}/{name}", resume=True)
    else:
        train(config)
