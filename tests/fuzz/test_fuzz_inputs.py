"""Bad inputs at every entry point that reads a file: paths, data sets, checkpoints.

Each case writes its bad input under ``tmp_path``, runs one ``sskd`` command from the
``world`` folder and expects one line ``sskd <verb>: error: …`` naming what is wrong; the
world itself is checked unchanged by the ``untouched`` fixture. Nothing must train.
"""

import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch
from fuzz_helpers import CaseTable, assert_refused, resume
from PIL import Image
from safetensors.torch import load_file, save_file

CIFAR100_NAMES = [f"class{i:02d}".encode() for i in range(100)]


# --- writers -----------------------------------------------------------------------------


def dump(obj, path):
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=2)


def cifar_batch(n, seed):
    rng = np.random.default_rng(seed)
    return {b"data": rng.integers(0, 256, size=(n, 3072), dtype=np.uint8),
            b"fine_labels": rng.integers(0, 100, size=n).tolist(),
            b"coarse_labels": [0] * n}


def write_cifar100(root, train=None):
    """``root/cifar-100-python/{train,test,meta}`` with 8 + 4 images; ``train`` replaces the
    training batch (a dict, or raw bytes written as they are)."""
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    train = cifar_batch(8, 1) if train is None else train
    if isinstance(train, bytes):
        (folder / "train").write_bytes(train)
    else:
        dump(train, folder / "train")
    dump(cifar_batch(4, 2), folder / "test")
    dump({b"fine_label_names": CIFAR100_NAMES, b"coarse_label_names": [b"c"] * 20}, folder / "meta")
    return folder


def write_images(root, files, test=None):
    """``root/train/<class>/<name>`` for ``files`` = {(class, name): PIL image or bytes}, and
    ``root/test`` the same way from ``test`` (default: good images)."""
    for split, content_of in (("train", files), ("test", good_images(2) if test is None else test)):
        for (cls, name), content in content_of.items():
            path = root / split / cls / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                content.save(path)
    return root


def good_images(n=4, size=(40, 36)):
    rng = np.random.default_rng(0)
    return {(cls, f"{i}.png"): Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))
            for cls in ("a", "b") for i in range(n)}


class Marker:
    """Pickles as a call of ``os.system`` that would create ``path``."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


class Arbitrary:
    def __init__(self):
        self.weights = torch.zeros(2)


def resnet_state(name, num_classes=10):
    from sskd.models import build_model

    torch.manual_seed(0)
    return {k: v.contiguous() for k, v in build_model(name, num_classes=num_classes).state_dict().items()}


def unreadable(path):
    path.chmod(0)
    if os.access(path, os.R_OK):
        path.chmod(0o644)
        pytest.skip("running as a user who can read a chmod-000 file (root)")
    return path


def truncate(path, keep=0.5):
    data = path.read_bytes()
    path.chmod(0o644)
    path.write_bytes(data[: int(len(data) * keep)])
    return path


# --- the commands ------------------------------------------------------------------------


def train_data(dataset, root, out):
    return ["train", "--dataset", dataset, "--data-root", root, "--epochs", "1", "--out-dir", out,
            "--device", "cpu", "--progress", "none", "--batch-size", "4"]


def distill(ckpt, out):
    return ["distill", "--method", "kd", "--teacher", "resnet8", "--teacher-ckpt", ckpt, "--dataset", "digits",
            "--epochs", "1", "--train-fraction", "0.1", "--out-dir", out, "--device", "cpu", "--progress", "none"]


def evaluate(ckpt):
    return ["eval", ckpt, "--model", "resnet8", "--dataset", "digits", "--device", "cpu"]


# Each case: (tmp_path, world) -> (argv, verb, names the one-line error must contain).
CASES = case = CaseTable()


# paths


@case
def missing_teacher_ckpt(tmp, world):
    path = tmp / "nope.safetensors"
    return distill(path, tmp / "out"), "distill", [str(path)]


@case
def missing_recipe_file(tmp, world):
    path = tmp / "nope.yaml"
    return ["train", "--recipe", path, "--out-dir", tmp / "out"], "train", [str(path)]


@case
def missing_eval_checkpoint(tmp, world):
    path = tmp / "nope.safetensors"
    return evaluate(path), "eval", [str(path)]


@case
def missing_data_root(tmp, world):
    path = tmp / "no-such-folder"
    return train_data("cifar100", path, tmp / "out"), "train", [str(path), "does not exist"]


@case
def data_root_is_a_file(tmp, world):
    path = tmp / "data.txt"
    path.write_text("not a folder\n")
    return train_data("cifar100", path, tmp / "out"), "train", [str(path), "not a folder"]


@case
def eval_folder_without_model(tmp, world):
    path = tmp / "run"
    path.mkdir()
    (path / "config.yaml").write_text("seed: 0\n")
    return evaluate(path), "eval", [str(path), "model.safetensors"]


@case
def teacher_ckpt_is_a_folder(tmp, world):
    path = tmp / "teacher"
    path.mkdir()
    return distill(path, tmp / "out"), "distill", [str(path)]


@case
def recipe_is_a_folder(tmp, world):
    path = tmp / "recipe"
    path.mkdir()
    return ["train", "--recipe", path, "--out-dir", tmp / "out"], "train", [str(path)]


@case
def unreadable_teacher_ckpt(tmp, world):
    path = tmp / "teacher.safetensors"
    shutil.copy(world / "teacher.safetensors", path)
    return distill(unreadable(path), tmp / "out"), "distill", [str(path)]


@case
def unreadable_eval_checkpoint(tmp, world):
    path = tmp / "exported.safetensors"
    shutil.copy(world / "exported.safetensors", path)
    return evaluate(unreadable(path)), "eval", [str(path)]


@case
def unreadable_cifar_pickle(tmp, world):
    folder = write_cifar100(tmp / "data")
    unreadable(folder / "train")
    return train_data("cifar100", tmp / "data", tmp / "out"), "train", [str(folder / "train")]


@case
def empty_cifar_root(tmp, world):
    path = tmp / "empty"
    path.mkdir()
    return train_data("cifar100", path, tmp / "out"), "train", [str(path), "cifar-100-python"]


@case
def resume_without_checkpoint(tmp, world):
    run = tmp / "run"
    run.mkdir()
    shutil.copy(world / "runs" / "finished" / "model.safetensors", run / "model.safetensors")
    return resume(run), "train", [str(run)]


def copied_run(tmp, world):
    """A copy of the finished run as it was when killed after its last checkpoint (no
    summary.json nor model.safetensors yet), and that checkpoint's folder."""
    run = tmp / "run"
    shutil.copytree(world / "runs" / "finished", run)
    (run / "summary.json").unlink()
    (run / "model.safetensors").unlink()
    return run, run / "checkpoints" / (run / "checkpoints" / "latest").read_text().strip()


@case
def resume_truncated_state(tmp, world):
    run, latest = copied_run(tmp, world)
    truncate(latest / "state.pt")
    return resume(run), "train", [str(latest / "state.pt")]


@case
def resume_truncated_weights(tmp, world):
    run, latest = copied_run(tmp, world)
    truncate(latest / "weights.safetensors")
    return resume(run), "train", [str(latest / "weights.safetensors")]


@case
def resume_state_with_payload(tmp, world):
    run, latest = copied_run(tmp, world)
    state = torch.load(latest / "state.pt", weights_only=True)
    state["hook"] = Marker(tmp / "pwned")
    torch.save(state, latest / "state.pt")
    return resume(run), "train", [str(latest / "state.pt"), "system"]


@case
def eval_truncated_model(tmp, world):
    run = tmp / "run"
    run.mkdir()
    shutil.copy(world / "runs" / "finished" / "model.safetensors", run / "model.safetensors")
    truncate(run / "model.safetensors")
    return evaluate(run / "model.safetensors"), "eval", [str(run / "model.safetensors")]


# data


@case
def cifar_truncated_pickle(tmp, world):
    whole = pickle.dumps(cifar_batch(8, 1), protocol=2)
    folder = write_cifar100(tmp / "data", train=whole[: len(whole) // 2])
    return train_data("cifar100", tmp / "data", tmp / "out"), "train", [str(folder / "train")]


@case
def cifar_missing_fine_labels(tmp, world):
    batch = cifar_batch(8, 1)
    del batch[b"fine_labels"]
    folder = write_cifar100(tmp / "data", train=batch)
    return train_data("cifar100", tmp / "data", tmp / "out"), "train", [str(folder / "train"), "fine_labels"]


@case
def cifar_labels_out_of_range(tmp, world):
    batch = cifar_batch(8, 1)
    batch[b"fine_labels"][3] = 100
    folder = write_cifar100(tmp / "data", train=batch)
    return train_data("cifar100", tmp / "data", tmp / "out"), "train", [str(folder / "train"), "100"]


@case
def cifar_forbidden_global(tmp, world):
    batch = cifar_batch(8, 1)
    batch[b"data"] = Marker(tmp / "pwned")
    folder = write_cifar100(tmp / "data", train=batch)
    return train_data("cifar100", tmp / "data", tmp / "out"), "train", [str(folder / "train"), "system"]


@case
def stl10_wrong_length(tmp, world):
    folder = tmp / "data" / "stl10_binary"
    folder.mkdir(parents=True)
    np.zeros(3 * 96 * 96 * 2 - 5, np.uint8).tofile(folder / "train_X.bin")
    np.ones(2, np.uint8).tofile(folder / "train_y.bin")
    np.zeros(3 * 96 * 96, np.uint8).tofile(folder / "test_X.bin")
    np.ones(1, np.uint8).tofile(folder / "test_y.bin")
    names = ["airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck"]
    (folder / "class_names.txt").write_text("\n".join(names) + "\n")
    return train_data("stl10", tmp / "data", tmp / "out"), "train", [str(folder / "train_X.bin")]


@case
def svhn_wrong_keys(tmp, world):
    root = tmp / "data"
    root.mkdir()
    for split in ("train", "test"):
        scipy.io.savemat(root / f"{split}_32x32.mat", {"images": np.zeros((32, 32, 3, 2), np.uint8),
                                                       "labels": np.ones((2, 1), np.uint8)})
    return train_data("svhn", root, tmp / "out"), "train", [str(root / "train_32x32.mat"), "'X'"]


@case
def image_folder_without_images(tmp, world):
    root = write_images(tmp / "data", {("a", "readme.txt"): b"no images here\n",
                                       ("b", "notes.md"): b"nor here\n"})
    return (train_data("image_folder", root, tmp / "out") + ["--image-size", "32"], "train",
            [str(root / "train")])


@case
def image_folder_corrupt_jpeg(tmp, world):
    files = good_images()
    files[("b", "broken.jpg")] = b"\xff\xd8\xff\xe0" + b"\x00garbage" * 20
    root = write_images(tmp / "data", files)
    return (train_data("image_folder", root, tmp / "out") + ["--image-size", "32"], "train",
            [str(root / "train" / "b" / "broken.jpg")])


@case
def image_folder_corrupt_png(tmp, world):
    files = good_images()
    files[("a", "broken.png")] = b"this is not a PNG at all"
    root = write_images(tmp / "data", files)
    return (train_data("image_folder", root, tmp / "out") + ["--image-size", "32"], "train",
            [str(root / "train" / "a" / "broken.png")])


@case
def image_folder_truncated_png(tmp, world):
    files = good_images()
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(tmp / "whole.png")
    whole = (tmp / "whole.png").read_bytes()
    files[("a", "cut.png")] = whole[: len(whole) // 2]  # a sound header, half the pixel data
    root = write_images(tmp / "data", files)
    return (train_data("image_folder", root, tmp / "out") + ["--image-size", "32"], "train",
            [str(root / "train" / "a" / "cut.png")])


# checkpoints


@case
def text_teacher_ckpt_pth(tmp, world):
    path = tmp / "teacher.pth"
    path.write_text("these are not weights\n")
    return distill(path, tmp / "out"), "distill", [str(path)]


@case
def text_teacher_ckpt_safetensors(tmp, world):
    path = tmp / "teacher.safetensors"
    path.write_text("these are not weights\n")
    return distill(path, tmp / "out"), "distill", [str(path)]


@case
def text_eval_safetensors(tmp, world):
    path = tmp / "model.safetensors"
    path.write_text("these are not weights\n")
    return evaluate(path), "eval", [str(path)]


@case
def text_eval_pth(tmp, world):
    path = tmp / "model.pth"
    path.write_text("these are not weights\n")
    return evaluate(path), "eval", [str(path)]


@case
def teacher_ckpt_of_another_network(tmp, world):
    path = tmp / "resnet20.safetensors"
    save_file(resnet_state("resnet20"), str(path))
    return distill(path, tmp / "out"), "distill", [str(path), "resnet8"]


@case
def teacher_ckpt_extra_key(tmp, world):
    state = load_file(str(world / "teacher.safetensors"))
    state["extra.weight"] = torch.zeros(3)
    path = tmp / "extra.safetensors"
    save_file(state, str(path))
    return distill(path, tmp / "out"), "distill", [str(path), "extra.weight"]


@case
def teacher_ckpt_missing_key(tmp, world):
    state = load_file(str(world / "teacher.safetensors"))
    gone = sorted(state)[0]
    del state[gone]
    path = tmp / "missing.pth"
    torch.save(state, path)
    return distill(path, tmp / "out"), "distill", [str(path), gone]


@case
def eval_checkpoint_missing_key(tmp, world):
    state = load_file(str(world / "exported.safetensors"))
    gone = sorted(state)[-1]
    del state[gone]
    path = tmp / "missing.pth"
    torch.save(state, path)
    return evaluate(path), "eval", [str(path), gone]


@case
def teacher_ckpt_arbitrary_object(tmp, world):
    path = tmp / "object.pth"
    torch.save({"model": Arbitrary()}, path)
    return distill(path, tmp / "out"), "distill", [str(path), "Arbitrary"]


@case
def teacher_ckpt_reduce_payload(tmp, world):
    path = tmp / "payload.pth"
    torch.save({"state_dict": resnet_state("resnet8"), "hook": Marker(tmp / "pwned")}, path)
    return distill(path, tmp / "out"), "distill", [str(path), "system"]


@case
def eval_reduce_payload(tmp, world):
    path = tmp / "payload.pt"
    torch.save(Marker(tmp / "pwned"), path)
    return evaluate(path), "eval", [str(path), "system"]


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_is_refused_in_one_line(cli, world, tmp_path, name):
    argv, verb, names = CASES[name](tmp_path, world)
    result = cli.run(argv, cwd=world)
    try:
        print(assert_refused(result, verb, *names))
    finally:
        for path in tmp_path.rglob("*"):  # let pytest remove what was made unreadable
            if path.is_file() and not os.access(path, os.R_OK):
                path.chmod(0o644)
    assert not (tmp_path / "pwned").exists(), "a pickled payload was executed"
    assert not list((tmp_path / "out").rglob("model.safetensors")), "a refused run trained"


# Mixed sizes, grayscale, RGBA and palette images are valid: they are converted to RGB.
@pytest.mark.parametrize("kind", ["mixed_sizes", "grayscale_rgba_palette"])
def test_unusual_but_valid_images_train(cli, world, tmp_path, kind):
    files = good_images(n=3)
    if kind == "mixed_sizes":
        files[("a", "tall.png")] = Image.new("RGB", (20, 90), (200, 10, 10))
        files[("b", "wide.jpg")] = Image.new("RGB", (120, 17), (10, 200, 10))
        files[("b", "tiny.png")] = Image.new("RGB", (5, 7), (10, 10, 200))
    else:
        files[("a", "gray.png")] = Image.new("L", (40, 40), 128)
        files[("a", "gray16.png")] = Image.new("I;16", (33, 33), 40000)
        files[("b", "rgba.png")] = Image.new("RGBA", (36, 36), (10, 20, 30, 100))
        files[("b", "palette.png")] = Image.new("P", (30, 30), 3)
        files[("b", "gray.jpg")] = Image.new("L", (30, 45), 60)
    root = write_images(tmp_path / "data", files)
    argv = train_data("image_folder", root, tmp_path / "out") + ["--image-size", "32", "--name", "ok"]
    result = cli.run(argv, cwd=world)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "out" / "ok" / "model.safetensors").is_file()
