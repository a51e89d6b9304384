"""The linear probe of HSSAKD §6.6: frozen backbone, trained linear layer, seeded, schema, refusals, command."""

import argparse
import json
import math
import re

import numpy as np
import pytest
import torch
from PIL import Image

from sskd.analysis.linear_probe import linear_probe
from sskd.analysis.probe_command import add_parser
from sskd.engine.checkpoint import CheckpointError, export_model, read_weights
from sskd.engine.saved_network import SavedNetwork

SCHEMA = {"checkpoint", "model", "dataset", "feature_dim", "num_classes", "train_images", "test_images",
          "augment", "epochs", "lr", "batch_size", "seed", "last_epoch", "best_epoch", "history"}
FOLDER_CLASSES = ("a", "b", "c")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A random ResNet-8 (10 classes, 32×32) whose BN statistics are those of 256 digits: the
    BN defaults (mean 0, var 1) would leave its embedding almost the same for every image."""
    from sskd.data import load_dataset
    from sskd.data.augment import normalize, to_float
    from sskd.models import build_model

    torch.manual_seed(0)
    network = build_model("resnet8", num_classes=10)
    for module in network.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.reset_running_stats()
            module.momentum = None
    digits = load_dataset("digits", split="train")
    with torch.no_grad():
        network.train()(normalize(to_float(digits.images[:256]), digits.info.mean, digits.info.std))
    path = tmp_path_factory.mktemp("probe") / "model.safetensors"
    export_model(network, path, {"model": "resnet8", "dataset": "digits", "num_classes": 10, "image_size": 32})
    return path


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """``train/`` (6 per class) and ``test/`` (3 per class) of 3 classes of 48×40 noisy colour images."""
    root = tmp_path_factory.mktemp("folder")
    rng = np.random.default_rng(0)
    for split, count in (("train", 6), ("test", 3)):
        for label, name in enumerate(FOLDER_CLASSES):
            (root / split / name).mkdir(parents=True)
            for i in range(count):
                pixels = rng.integers(0, 80, size=(40, 48, 3)) + np.array([80 * label, 60, 160 - 80 * label])
                Image.fromarray(pixels.astype(np.uint8)).save(root / split / name / f"{i}.png")
    return root


def probe_capturing_network(monkeypatch, *args, **kwargs):
    """``linear_probe(*args, **kwargs)`` and the backbone it built."""
    built = []
    original = SavedNetwork.build

    def build(self, num_classes=None):
        built.append(original(self, num_classes))
        return built[-1]

    monkeypatch.setattr(SavedNetwork, "build", build)
    return linear_probe(*args, **kwargs), built[0]


def assert_frozen(network, path):
    saved = read_weights(path)
    state = network.state_dict()
    assert set(state) == set(saved)
    for name, value in state.items():
        assert torch.equal(value.cpu(), saved[name]), name


@pytest.fixture(scope="module")
def digits_probe(checkpoint):
    with pytest.MonkeyPatch.context() as monkeypatch:
        return probe_capturing_network(monkeypatch, checkpoint, "digits", epochs=10, milestones=(5,),
                                       augment=False, device="cpu")


def test_probe_on_frozen_features_beats_chance(digits_probe):
    result, _ = digits_probe
    assert (result["feature_dim"], result["num_classes"]) == (64, 10)
    assert (result["train_images"], result["test_images"]) == (1347, 450)
    assert result["last_epoch"]["test/top1"] > 40.0  # chance is 10 %; about 70 % here
    losses = [r["train/loss"] for r in result["history"]]
    assert losses[-1] < losses[0] - 0.3


def test_backbone_weights_and_bn_statistics_unchanged(digits_probe, checkpoint):
    _, network = digits_probe
    assert_frozen(network, checkpoint)


def test_result_schema_and_epoch_labels(digits_probe, checkpoint):
    result, _ = digits_probe
    assert set(result) == SCHEMA
    assert json.loads(json.dumps(result)) == result
    assert (result["checkpoint"], result["model"], result["dataset"]) == (str(checkpoint), "resnet8", "digits")
    assert (result["augment"], result["epochs"], result["lr"], result["batch_size"], result["seed"]) == \
        (False, 10, 0.1, 64, 0)
    history = result["history"]
    assert [r["epoch"] for r in history] == list(range(1, 11))
    assert all(set(r) == {"epoch", "train/loss", "test/top1"} for r in history)
    assert result["last_epoch"] == {"epoch": 10, "test/top1": history[-1]["test/top1"]}
    best = max(history, key=lambda r: (r["test/top1"], -r["epoch"]))
    assert result["best_epoch"] == {"epoch": best["epoch"], "test/top1": best["test/top1"],
                                    "selected_on": "test/top1"}


@pytest.mark.parametrize("augment, image_size", [(True, 48), (False, None)])
def test_image_folder_with_three_classes_and_other_size(monkeypatch, checkpoint, folder, augment, image_size):
    result, network = probe_capturing_network(
        monkeypatch, checkpoint, "image_folder", data_root=str(folder), epochs=2, milestones=(1,),
        augment=augment, image_size=image_size, device="cpu")
    assert (result["num_classes"], result["train_images"], result["test_images"]) == (3, 18, 9)
    assert result["dataset"] == "image_folder" and result["augment"] is augment
    assert len(result["history"]) == 2 and all(math.isfinite(r["train/loss"]) for r in result["history"])
    assert_frozen(network, checkpoint)


def test_same_seed_same_history_other_seed_differs(checkpoint, folder):
    def run(seed):
        return linear_probe(checkpoint, "folder", data_root=str(folder), epochs=2, milestones=(),
                            image_size=48, seed=seed, device="cpu")["history"]

    first = run(0)
    assert run(0) == first
    assert run(1) != first


@pytest.mark.parametrize("options, named", [
    ({"epochs": 0}, "epochs"),
    ({"epochs": 2}, "milestones"),
    ({"epochs": 5, "milestones": (3, 2)}, "milestones"),
    ({"lr": 0.0}, "lr"),
    ({"batch_size": 0}, "batch_size"),
    ({"amp": "fp8"}, "amp"),
])
def test_bad_options_are_refused_by_name(checkpoint, options, named):
    with pytest.raises(ValueError, match=named):
        linear_probe(checkpoint, "digits", device="cpu", **options)


def test_missing_checkpoint_and_imageless_folder_name_the_path(checkpoint, tmp_path):
    with pytest.raises(CheckpointError, match="no such file"):
        linear_probe(tmp_path / "absent.safetensors", "digits", epochs=1, milestones=(), device="cpu")
    (tmp_path / "empty" / "train" / "a").mkdir(parents=True)
    with pytest.raises(ValueError, match=re.escape(str(tmp_path / "empty"))):
        linear_probe(checkpoint, "image_folder", data_root=str(tmp_path / "empty"), epochs=1, milestones=(),
                     device="cpu")


def test_command_prints_epochs_and_writes_json(checkpoint, folder, tmp_path, capsys):
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    out = tmp_path / "deep" / "er" / "probe.json"
    args = parser.parse_args(["probe", str(checkpoint), "--dataset", "image_folder", "--data-root", str(folder),
                              "--epochs", "2", "--milestones", "--no-augment", "--device", "cpu",
                              "--json", str(out)])
    assert args.func(args) == 0
    result = json.loads(out.read_text())
    assert set(result) == SCHEMA and result["augment"] is False and result["num_classes"] == 3
    assert [p.name for p in out.parent.iterdir()] == ["probe.json"]
    printed = capsys.readouterr().out
    assert "[probe] epoch 2/2" in printed
    last, best = result["last_epoch"], result["best_epoch"]
    assert (f"last epoch (2): test top1 {last['test/top1']:.2f} | best epoch ({best['epoch']}, "
            f"selected on test/top1): {best['test/top1']:.2f}") in printed


def test_training_views_are_seeded_crops_at_the_network_side():
    from sskd.analysis.linear_probe import _random_resized_crop_flip

    x = torch.rand(6, 3, 48, 48)
    crops = _random_resized_crop_flip(x, 32, torch.Generator().manual_seed(3))
    assert crops.shape == (6, 3, 32, 32)
    assert torch.equal(crops, _random_resized_crop_flip(x, 32, torch.Generator().manual_seed(3)))
    assert not torch.equal(crops, _random_resized_crop_flip(x, 32, torch.Generator().manual_seed(4)))
    flat = torch.full((2, 3, 48, 48), 0.25)
    assert torch.allclose(_random_resized_crop_flip(flat, 32, torch.Generator()), torch.full((2, 3, 32, 32), 0.25))
