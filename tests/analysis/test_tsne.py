"""t-SNE figure of SSKD Fig. 3a: image choice, reproducibility, the PNG and its JSON sidecar."""

import argparse
import json

import numpy as np
import pytest
import torch

from sskd.analysis.tsne import choose_images, tsne_points
from sskd.analysis.tsne_command import add_parser
from sskd.engine.checkpoint import export_model
from sskd.models import build_model

SIDECAR = {"checkpoint", "model", "dataset", "split", "classes", "class_names", "per_class", "points", "seed",
           "perplexity", "png", "silhouette_embedding", "silhouette_2d"}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tsne") / "resnet8.safetensors"
    export_model(build_model("resnet8", num_classes=10), path,
                 {"model": "resnet8", "dataset": "digits", "num_classes": 10})
    return path


def run_command(argv):
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["tsne", *argv])
    return args.func(args)


def test_images_are_drawn_per_class_from_the_seed():
    labels = torch.tensor([0, 1, 2] * 20)
    first = choose_images(labels, [2, 0], 5, seed=3)
    assert torch.equal(first, choose_images(labels, [2, 0], 5, seed=3))
    assert sorted(labels[first].tolist()) == [0] * 5 + [2] * 5
    assert torch.equal(first, first.sort().values)
    other_seed = choose_images(labels, [2, 0], 5, seed=4)
    assert not torch.equal(first, other_seed)
    class_two = first[labels[first] == 2]
    alongside_one = choose_images(labels, [1, 2], 5, seed=3)
    assert torch.equal(class_two, alongside_one[labels[alongside_one] == 2])
    assert len(choose_images(labels, [0, 1], 50, seed=0)) == 40


def test_the_same_seed_gives_the_same_points(checkpoint):
    first = tsne_points(checkpoint, per_class=15, seed=0, device="cpu")
    again = tsne_points(checkpoint, per_class=15, seed=0, device="cpu")
    other = tsne_points(checkpoint, per_class=15, seed=1, device="cpu")
    assert first.coords.shape == (150, 2) and first.embeddings.shape[0] == 150
    assert np.array_equal(first.coords, again.coords)
    assert np.array_equal(first.labels, again.labels)
    assert not np.array_equal(first.embeddings, other.embeddings)
    assert np.bincount(first.labels).tolist() == [15] * 10


def test_command_writes_the_png_and_its_sidecar(checkpoint, tmp_path):
    out = tmp_path / "figures" / "tsne.png"
    assert run_command([str(checkpoint), "--out", str(out), "--classes", "7", "3", "5", "--per-class", "4",
                        "--seed", "2", "--device", "cpu"]) == 0
    assert out.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    sidecar = json.loads(out.with_suffix(".json").read_text())
    assert set(sidecar) == SIDECAR
    assert sidecar["classes"] == [7, 3, 5] and sidecar["class_names"] == ["7", "3", "5"]
    assert (sidecar["points"], sidecar["per_class"], sidecar["seed"]) == (12, 4, 2)
    assert sidecar["perplexity"] == 11.0
    assert sidecar["png"] == "tsne.png" and sidecar["model"] == "resnet8" and sidecar["dataset"] == "digits"
    assert -1.0 <= sidecar["silhouette_embedding"] <= 1.0 and -1.0 <= sidecar["silhouette_2d"] <= 1.0
    assert sorted(p.name for p in out.parent.iterdir()) == ["tsne.json", "tsne.png"]


@pytest.mark.parametrize("argv, message", [
    (["--classes", "3", "12", "-1"], r"unknown classes \[12, -1\]; valid classes are 0 to 9"),
    (["--classes", "4", "4"], r"at least 2 classes; got \[4\]"),
    (["--per-class", "0"], "--per-class must be at least 1; got 0"),
    (["--perplexity", "0"], "--perplexity must be positive"),
])
def test_refusals(checkpoint, tmp_path, argv, message):
    with pytest.raises(ValueError, match=message):
        run_command([str(checkpoint), "--out", str(tmp_path / "t.png"), "--device", "cpu", *argv])
    assert not (tmp_path / "t.png").exists()


def test_out_must_be_a_png(checkpoint, tmp_path):
    with pytest.raises(ValueError, match=r"t\.jpg: give a \.png file name"):
        run_command([str(checkpoint), "--out", str(tmp_path / "t.jpg")])
