"""The engineer's path: a torchvision teacher of their own, an image folder, a small student.

`sskd distill --teacher torchvision:resnet18 --teacher-ckpt my.pth --model mobilenet_v2
--dataset folder --data-root DIR --method sskd`, end to end on a generated folder.
"""

import json

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

from sskd.cli import build_parser, main, train_config_from_args
from sskd.engine.checkpoint import read_export_metadata

CLASSES = ("cat", "dog", "fox")


def write_folder(root, per_class=(8, 3), seed=0):
    """``root/{train,test}/<class>/*.png|jpg``: images of mixed sizes (40–90 px) and modes."""
    rng = np.random.default_rng(seed)
    for split, count in zip(("train", "test"), per_class):
        for c, name in enumerate(CLASSES):
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(count):
                h, w = rng.integers(40, 90, size=2)
                pixels = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
                pixels[..., c] = 255 - pixels[..., c] // 4  # each class leans to one channel
                image = Image.fromarray(pixels)
                if i == 0:
                    image = image.convert("L")  # a grayscale file among RGB ones
                image.save(folder / f"{i}.{'jpg' if i % 2 else 'png'}")
    return root


@pytest.fixture
def own_data(tmp_path):
    root = write_folder(tmp_path / "photos")
    torch.manual_seed(0)
    teacher = torchvision.models.resnet18(num_classes=len(CLASSES))
    ckpt = tmp_path / "my.pth"
    torch.save(teacher.state_dict(), ckpt)  # what fine-tuning a torchvision model leaves behind
    return root, ckpt, teacher


def distill_args(root, ckpt, out, method="sskd", teacher="torchvision:resnet18", model="mobilenet_v2"):
    return ["distill", "--teacher", teacher, "--teacher-ckpt", str(ckpt), "--model", model,
            "--dataset", "folder", "--data-root", str(root), "--method", method, "--image-size", "64",
            "--batch-size", "8", "--epochs", "1", "--set", "stages.0.epochs=1", "--set", "stages.0.milestones=[]",
            "--out-dir", str(out), "--name", method, "--progress", "none", "--no-cache"]


def test_sskd_from_a_torchvision_teacher_on_an_image_folder(own_data, tmp_path):
    root, ckpt, _ = own_data
    assert main(distill_args(root, ckpt, tmp_path / "runs")) == 0
    run = tmp_path / "runs" / "sskd"
    summary = json.loads((run / "summary.json").read_text())
    assert set(summary["stages"]) == {"teacher_head", "student"}
    assert 0 <= summary["stages"]["student"]["last_epoch"]["test/top1"] <= 100
    meta = read_export_metadata(run / "model.safetensors")
    assert (meta["model"], meta["num_classes"], meta["image_size"], meta["dataset"]) == (
        "mobilenet_v2", 3, 64, "image_folder")
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert "test/teacher_ss_top1" in records[0]  # the teacher's head ran on the adapter's pooled vector


def test_the_folder_is_read_at_the_teachers_resolution_unless_told(own_data, tmp_path):
    root, ckpt, _ = own_data
    args = distill_args(root, ckpt, tmp_path / "runs")
    args = args[:args.index("--image-size")] + args[args.index("--image-size") + 2:]
    assert train_config_from_args(build_parser().parse_args(args)).data.image_size == 224
    args = ["train", "--model", "resnet8", "--dataset", "folder", "--data-root", str(root)]
    assert train_config_from_args(build_parser().parse_args(args)).data.image_size == 32


def test_an_unreadable_image_is_named_before_training(own_data, tmp_path, capsys):
    root, ckpt, _ = own_data
    broken = root / "train" / "dog" / "broken.png"
    broken.write_bytes(b"not an image")
    assert main(distill_args(root, ckpt, tmp_path / "runs")) == 2
    err = capsys.readouterr().err
    assert "1 of 25 files cannot be read as images" in err and "broken.png" in err
    assert not (tmp_path / "runs" / "sskd").exists()  # refused before the run directory is made


def test_an_empty_image_folder_is_refused(tmp_path, capsys):
    (tmp_path / "empty" / "train" / "a").mkdir(parents=True)
    (tmp_path / "empty" / "test" / "a").mkdir(parents=True)
    assert main(["train", "--model", "resnet8", "--dataset", "folder", "--data-root", str(tmp_path / "empty"),
                 "--epochs", "1", "--out-dir", str(tmp_path / "runs")]) == 2
    assert "found none" in capsys.readouterr().err


def test_a_teacher_checkpoint_of_another_network_names_the_keys(own_data, tmp_path, capsys):
    root, _, _ = own_data
    other = tmp_path / "other.pth"
    torch.save(torchvision.models.mobilenet_v2(num_classes=3).state_dict(), other)
    assert main(distill_args(root, other, tmp_path / "runs")) == 2
    err = capsys.readouterr().err
    assert "does not fit network 'torchvision:resnet18'" in err
    assert "missing keys" in err and "bn1.weight" in err and "features.0.0.weight" in err


def test_hssakd_from_a_torchvision_teacher_uses_branches_built_from_its_outputs(own_data, tmp_path):
    root, _, _ = own_data
    ckpt = tmp_path / "shufflenet.pth"
    torch.save(torchvision.models.shufflenet_v2_x0_5(num_classes=len(CLASSES)).state_dict(), ckpt)
    assert main(distill_args(root, ckpt, tmp_path / "runs", "hssakd", "torchvision:shufflenet_v2_x0_5",
                             "torchvision:mobilenet_v3_small")) == 0
    run = tmp_path / "runs" / "hssakd"
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    # four branches each side, built from each network's ModelOutput alone
    assert {f"test/student_ss_top1_b{i}" for i in range(1, 5)} <= set(records[-1])
    meta = read_export_metadata(run / "model.safetensors")
    assert meta["model"] == "torchvision:mobilenet_v3_small" and meta["network"] == "student"
