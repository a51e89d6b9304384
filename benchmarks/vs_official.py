"""Side-by-side epoch benchmark: one student epoch of ours against the official SSKD / HSSAKD code.

Same machine, synthetic data, teacher weights, batch and thread count on both sides.

    python benchmarks/vs_official.py --official-dir DIR --pair resnet32x4-resnet8x4
    python benchmarks/vs_official.py --sskd-dir SSKD --hssakd-dir HSAKD --pair vgg13-vgg8 \\
        --images 640 --batch 64 --repeats 2 --amp none --json out.json
    python benchmarks/vs_official.py --pair vgg13-vgg8 --amp bf16 --channels-last   # ours alone

Official code (never copied here; run from its own checkout):

* ``--sskd-dir``: a checkout of github.com/xuguodong03/SSKD (runs its ``student.py``);
* ``--hssakd-dir``: a checkout of github.com/winycg/HSAKD (runs its ``train_student_cifar.py``);
* ``--official-dir``: a folder holding both as subfolders ``SSKD`` and ``HSAKD`` (either may
  be missing; an explicit ``--sskd-dir``/``--hssakd-dir`` wins).

A method without its official checkout is timed on our side alone; ``--methods`` picks
SSKD, HSSAKD or both.

Set-up, written once into a temporary folder: a synthetic CIFAR-100 in the real python
format (``cifar-100-python/{train,test,meta}``; ``--images`` random training images,
``--test-images`` test images) read by both sides, and randomly initialised teachers saved in
the official formats: SSKD's ``teacher_<arch>_seed0/ckpt/best.pth`` (``{'state_dict'}``, built
by the official ``models``) and HSSAKD's ``<arch>_aux.pth.tar`` (``{'net'}`` of the official
``<arch>_aux`` network, auxiliary branches included). Our side loads the same files with
``--teacher-ckpt`` (without an official checkout, our own zoo builds them).

Each repeat runs the sides alternately (ours, official, ours, official, …), every run a
fresh process; each official run has a fresh working folder (its ``./data`` links to the
synthetic set; its ``./experiments``, ``./checkpoint``, ``result/`` land there). What each
number covers, the training loop of ONE student epoch only, no evaluation, no start-up:

* official SSKD: ``run_time`` of ``student_train_Epoch:001/001`` printed by ``student.py``
  (``--epoch 1 --t-epoch 0``, so its teacher's projection head stays untrained): from just
  before ``for x, target in train_loader`` to its end, including the DataLoader's start and
  its 4 worker processes (``num_workers=4``, per-image PIL crops of the 4 rotations: part of
  what the official code costs) and the per-batch ``.item()`` bookkeeping;
* official HSSAKD: ``duration`` of epoch 0 written to ``result/<name>.txt`` by
  ``train_student_cifar.py`` (``--epochs 1``): the loop over ``trainloader`` (no workers,
  per-image PIL transforms in the main process, rotations on the batch, a print per batch)
  plus its epoch-end accuracy sums;
* ours: the student stage's ``time_s`` (and ``images_per_s``) in the run's
  ``metrics.jsonl``, i.e. :meth:`sskd.engine.trainer.StageRunner.train_epoch`: the loop over
  the loader (images kept on the device), view making, forward/backward/step and the meters.
  SSKD: ``sskd distill --recipe cifar100_sskd_<T>-<S>`` with both stages at 1 epoch (its
  teacher-head stage runs before the timed student stage; cached after the first repeat);
  HSSAKD: ``sskd distill --method hssakd_student`` (student stage only: the teacher file
  already holds its branches).

images/s = training images / seconds (each image's 4 rotated views count once). Both sides
get the same ``OMP_NUM_THREADS``/``MKL_NUM_THREADS`` (``--threads``); the official side is
always fp32, ours follows ``--amp`` (``auto``: bf16 where the device computes it natively,
the project's default speed setting) and ``--channels-last``.

The official code is run unchanged under a few shims (a ``sitecustomize.py`` put first on
its ``PYTHONPATH``, see :data:`SHIMS`) for torch 2.x, a machine without CUDA, no
``tensorboardX``, synthetic data files, and HSAKD's ``models`` not exporting ``vgg8_bn_aux``.
On a CUDA machine both sides use the GPU. Linux only: official SSKD's DataLoader workers need the
``fork`` start method (its ``student.py`` has no ``__main__`` guard).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

NUM_CLASSES = 100
SSKD_SCRIPT = "student.py"
HSSAKD_SCRIPT = "train_student_cifar.py"


@dataclass(frozen=True)
class Pair:
    teacher: str  # our zoo's names (the recipes' <T>-<S>)
    student: str
    sskd_teacher: str  # official SSKD model_dict keys
    sskd_student: str
    hssakd_teacher: str  # official HSAKD models.<name>
    hssakd_student: str


PAIRS = {
    "resnet32x4-resnet8x4": Pair("resnet32x4", "resnet8x4", "resnet32x4", "resnet8x4",
                                 "resnet32x4_aux", "resnet8x4_aux"),
    "vgg13-vgg8": Pair("vgg13", "vgg8", "vgg13", "vgg8", "vgg13_bn_aux", "vgg8_bn_aux"),
    "wrn_40_2-wrn_16_2": Pair("wrn_40_2", "wrn_16_2", "wrn_40_2", "wrn_16_2", "wrn_40_2_aux", "wrn_16_2_aux"),
    "resnet56-resnet20": Pair("resnet56", "resnet20", "resnet56", "resnet20", "resnet56_aux", "resnet20_aux"),
}

# Shims for running the official code unchanged; each names the lines of theirs that need it.
SHIMS = '''\
"""vs_official.py shims for the official SSKD / HSAKD code (torch 2.x, CPU, synthetic data)."""
import importlib.abc
import importlib.util
import sys
import types

import torch

# SSKD cifar.py, VisionDataset.__init__: `isinstance(root, torch._six.string_classes)`;
# torch._six was removed in torch 2.0.
if not hasattr(torch, "_six"):
    torch._six = types.ModuleType("torch._six")
    torch._six.string_classes = (str, bytes)
    sys.modules["torch._six"] = torch._six

# Both scripts move everything with `.cuda()` (SSKD student.py: `model_dict[...](...).cuda()`,
# `x.view(...).cuda()`; HSAKD train_student_cifar.py: `net = model(...).cuda()`,
# `input.float().cuda()`, `torch.tensor(0.).cuda()`, `criterion_list.cuda()`): no-ops without CUDA.
if not torch.cuda.is_available():
    torch.Tensor.cuda = lambda self, *args, **kwargs: self
    torch.nn.Module.cuda = lambda self, *args, **kwargs: self

# SSKD student.py: `from tensorboardX import SummaryWriter` (per-epoch scalars, outside the
# timed loop); a do-nothing writer when tensorboardX is not installed.
try:
    import tensorboardX  # noqa: F401
except ImportError:
    class SummaryWriter:
        def __init__(self, *args, **kwargs):
            pass

        def __getattr__(self, name):
            return lambda *args, **kwargs: None

    sys.modules["tensorboardX"] = types.ModuleType("tensorboardX")
    sys.modules["tensorboardX"].SummaryWriter = SummaryWriter

# HSAKD train_student_cifar.py: `torchvision.datasets.CIFAR100(root=args.data, ..., download=True)`
# checks the real files' md5 (and would download, offline here); the data are synthetic.
import torchvision.datasets.cifar as _cifar  # noqa: E402

_cifar.check_integrity = lambda *args, **kwargs: True


# HSAKD train_student_cifar.py: `getattr(models, args.arch)`; models/vgg.py defines vgg8_bn_aux
# but its `__all__ = ['vgg13_bn_aux']` keeps it out of the `models` package.
class _ExportVgg8Aux(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name != "models":
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_and_export(module):
            exec_module(module)
            vgg = sys.modules.get("models.vgg")
            if vgg is not None and hasattr(vgg, "vgg8_bn_aux") and not hasattr(module, "vgg8_bn_aux"):
                module.vgg8_bn_aux = vgg.vgg8_bn_aux

        spec.loader.exec_module = exec_and_export
        return spec


sys.meta_path.insert(0, _ExportVgg8Aux())
'''

# Run inside an official checkout (argv: checkout, arch, output file, state-dict key): a
# randomly initialised teacher saved as that code saves it.
MAKE_TEACHER = '''\
import sys
import torch
sys.path.insert(0, sys.argv[1])
import models
torch.manual_seed(0)
builder = models.model_dict[sys.argv[2]] if hasattr(models, "model_dict") else getattr(models, sys.argv[2])
torch.save({sys.argv[4]: builder(num_classes=100).state_dict()}, sys.argv[3])
'''


# --------------------------------------------------------------------------- set-up


def write_cifar100(root: Path, train_images: int, test_images: int, seed: int = 0) -> None:
    """A synthetic CIFAR-100 under ``root/cifar-100-python`` in the real pickle format."""
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for split, n in (("train", train_images), ("test", test_images)):
        labels = [int(i % NUM_CLASSES) for i in range(n)]
        entry = {
            "data": rng.integers(0, 256, size=(n, 3072), dtype=np.uint8),
            "fine_labels": labels,
            "coarse_labels": [label // 5 for label in labels],
            "filenames": [f"synthetic_{split}_{i}.png" for i in range(n)],
            "batch_label": f"synthetic {split} batch",
        }
        with open(folder / split, "wb") as f:
            pickle.dump(entry, f, protocol=2)
    meta = {"fine_label_names": [f"class_{i}" for i in range(NUM_CLASSES)],
            "coarse_label_names": [f"superclass_{i}" for i in range(NUM_CLASSES // 5)]}
    with open(folder / "meta", "wb") as f:
        pickle.dump(meta, f, protocol=2)


def official_teacher(checkout: Path, arch: str, out: Path, key: str, env: dict) -> Path:
    """Build ``arch`` with the official ``models`` of ``checkout`` and save ``{key: state_dict}``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    run_checked([sys.executable, "-c", MAKE_TEACHER, str(checkout), arch, str(out), key],
                cwd=out.parent, env=env, what=f"building the official {arch} teacher")
    return out


def our_sskd_teacher(name: str, out: Path) -> Path:
    """Our zoo's ``name``, random init, saved as SSKD's ``{'state_dict'}`` (same module names)."""
    from sskd.models import build_model

    torch.manual_seed(0)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": build_model(name, num_classes=NUM_CLASSES).state_dict()}, out)
    return out


def our_hssakd_teacher(name: str, out: Path) -> Path:
    """Our zoo's ``name`` with its auxiliary branches, random init, as a run exports them."""
    from sskd.engine.checkpoint import export_model
    from sskd.models import build_model
    from sskd.models.branches import AuxiliaryModel, build_branches

    torch.manual_seed(0)
    backbone = build_model(name, num_classes=NUM_CLASSES)
    model = AuxiliaryModel(backbone, build_branches(name, backbone, NUM_CLASSES))
    export_model(model, out, {"model": name})
    return out


# --------------------------------------------------------------------------- running


def run_checked(cmd: list[str], cwd: Path, env: dict, what: str, timeout: float | None = None) -> str:
    """Run ``cmd``; its stdout and stderr together, or an error with their tail."""
    proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=timeout)
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.splitlines()[-30:])
        raise RuntimeError(f"{what} failed (exit {proc.returncode}) in {cwd}:\n  {' '.join(cmd)}\n{tail}")
    return proc.stdout


def fresh_workdir(tmp: Path, tag: str, data: Path) -> Path:
    """An empty working folder for one official run, with ``./data`` linking to the data set."""
    work = Path(tempfile.mkdtemp(prefix=f"{tag}_", dir=tmp))
    (work / "data").symlink_to(data, target_is_directory=True)
    (work / "result").mkdir()  # HSAKD writes result/<name>.txt but does not create result/
    return work


def official_sskd_epoch(checkout: Path, pair: Pair, teacher_dir: Path, args, tmp: Path, data: Path,
                        env: dict) -> float:
    """Seconds of official SSKD's student training epoch."""
    work = fresh_workdir(tmp, "sskd_official", data)
    out = run_checked([sys.executable, str(checkout / SSKD_SCRIPT), "--epoch", "1", "--t-epoch", "0",
                       "--batch-size", str(args.batch), "--s-arch", pair.sskd_student,
                       "--t-path", str(teacher_dir)],
                      cwd=work, env=env, what="official SSKD", timeout=args.timeout)
    found = re.search(r"student_train_Epoch:001/001\s+run_time:([0-9.]+)", out)
    if found is None:
        raise RuntimeError(f"official SSKD printed no student_train_Epoch:001/001 line:\n{out[-2000:]}")
    clean_up(work, args)
    return float(found.group(1))


def official_hssakd_epoch(checkout: Path, pair: Pair, teacher: Path, args, tmp: Path, data: Path,
                          env: dict) -> float:
    """Seconds of official HSSAKD's student training epoch."""
    work = fresh_workdir(tmp, "hssakd_official", data)
    run_checked([sys.executable, str(checkout / HSSAKD_SCRIPT), "--epochs", "1",
                 "--batch-size", str(args.batch), "--tarch", pair.hssakd_teacher, "--arch", pair.hssakd_student,
                 "--tcheckpoint", str(teacher), "--data", "./data/", "--checkpoint-dir", "./checkpoint"],
                cwd=work, env=env, what="official HSSAKD", timeout=args.timeout)
    logs = sorted((work / "result").glob("*.txt"))
    found = [re.search(r"Epoch:0\s+lr:[0-9.]+\s+duration:([0-9.]+)", p.read_text()) for p in logs]
    found = [m for m in found if m is not None]
    if not found:
        raise RuntimeError(f"official HSSAKD wrote no 'Epoch:0 ... duration:' line under {work / 'result'}")
    clean_up(work, args)
    return float(found[0].group(1))


def our_epoch(method: str, pair: Pair, teacher: Path, args, tmp: Path, data: Path, env: dict,
              name: str, amp: str, channels_last: bool) -> tuple[float, float]:
    """(seconds, images/s) of our student stage's epoch, read from the run's metrics.jsonl."""
    out_dir = tmp / "ours"
    if method == "sskd":
        stages = ["--recipe", f"cifar100_sskd_{pair.teacher}-{pair.student}",
                  "--set", "stages.0.epochs=1", "--set", "stages.0.milestones=[]", "--set", "stages.1.epochs=1"]
    else:  # the teacher file holds its auxiliary branches: the student stage only
        stages = ["--method", "hssakd_student", "--dataset", "cifar100", "--teacher", pair.teacher,
                  "--model", pair.student, "--epochs", "1"]
    cmd = [sys.executable, "-m", "sskd.cli", "distill", *stages, "--data-root", str(data),
           "--teacher-ckpt", str(teacher), "--batch-size", str(args.batch), "--amp", amp,
           "--channels-last" if channels_last else "--no-channels-last",
           "--out-dir", str(out_dir), "--name", name, "--progress", "none"]
    run_checked(cmd, cwd=tmp, env=env, what=f"our {method}", timeout=args.timeout)
    records = [json.loads(line) for line in (out_dir / name / "metrics.jsonl").read_text().splitlines()
               if line.strip()]
    last = [r for r in records if r.get("stage") == "student"] or records[-1:]
    if not last:
        raise RuntimeError(f"our {method} run wrote no epoch record to {out_dir / name / 'metrics.jsonl'}")
    if args.clean:
        shutil.rmtree(out_dir / name, ignore_errors=True)
    return float(last[-1]["time_s"]), float(last[-1]["images_per_s"])


def clean_up(work: Path, args) -> None:
    if args.clean:
        shutil.rmtree(work, ignore_errors=True)


# --------------------------------------------------------------------------- CLI


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--official-dir", type=Path, help="folder holding the official checkouts SSKD/ and HSAKD/")
    p.add_argument("--sskd-dir", type=Path, help="checkout of github.com/xuguodong03/SSKD")
    p.add_argument("--hssakd-dir", type=Path, help="checkout of github.com/winycg/HSAKD")
    p.add_argument("--pair", default="resnet32x4-resnet8x4", choices=sorted(PAIRS), help="teacher-student")
    p.add_argument("--methods", nargs="+", default=["sskd", "hssakd"], choices=["sskd", "hssakd"])
    p.add_argument("--images", type=int, default=640, help="synthetic training images (one epoch)")
    p.add_argument("--test-images", type=int, default=128, help="synthetic test images")
    p.add_argument("--batch", type=int, default=64, help="training batch (images) on both sides")
    p.add_argument("--repeats", type=int, default=2, help="alternating (ours, official) pairs of runs")
    p.add_argument("--threads", type=int, default=torch.get_num_threads(),
                   help="intra-op threads on both sides (OMP_NUM_THREADS); default torch's")
    p.add_argument("--amp", choices=["none", "bf16", "fp16", "auto"], default="none",
                   help="our side's mixed precision (official: fp32); auto = bf16 where native")
    p.add_argument("--channels-last", action="store_true", help="our side in channels_last")
    p.add_argument("--fast", action="store_true",
                   help="also time our side with the project's default speed settings (bf16 where native, "
                        "channels_last), as a third side 'ours+speed'")
    p.add_argument("--timeout", type=float, default=1800.0, help="seconds allowed per run")
    p.add_argument("--json", type=Path, help="write the numbers here")
    p.add_argument("--keep", dest="clean", action="store_false", help="keep the temporary folder")
    args = p.parse_args(argv)
    for given, flag, script in ((args.sskd_dir, "--sskd-dir", SSKD_SCRIPT),
                                (args.hssakd_dir, "--hssakd-dir", HSSAKD_SCRIPT)):
        if given is not None and not (given / script).is_file():
            p.error(f"{flag} {given}: no {script} there; expected a checkout of the official code")
    args.sskd_dir = checkout(args.sskd_dir, args.official_dir, "SSKD", SSKD_SCRIPT)
    args.hssakd_dir = checkout(args.hssakd_dir, args.official_dir, "HSAKD", HSSAKD_SCRIPT)
    if args.official_dir is not None and args.sskd_dir is None and args.hssakd_dir is None:
        p.error(f"--official-dir {args.official_dir}: holds neither SSKD/{SSKD_SCRIPT} nor HSAKD/{HSSAKD_SCRIPT}")
    args.our_amp = our_amp(args.amp)
    return args


def checkout(given: Path | None, parent: Path | None, sub: str, script: str) -> Path | None:
    """The official checkout to use: ``given`` (checked to hold ``script``), else ``parent/sub``
    when that holds ``script``, else none."""
    if given is not None:
        return given.resolve()
    if parent is not None and (parent / sub / script).is_file():
        return (parent / sub).resolve()
    return None


def our_amp(amp: str) -> str:
    if amp != "auto":
        return amp
    from sskd.engine.runtime import native_bf16

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return "bf16" if native_bf16(device) else "none"


def thread_env(threads: int, shims: Path | None = None) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), PYTHONUNBUFFERED="1")
    if shims is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(shims), *filter(None, [os.environ.get("PYTHONPATH")])])
    return env


def median_row(times: list[float], images: int) -> dict:
    seconds = statistics.median(times)
    return {"seconds": seconds, "images_per_s": images / seconds, "runs": times}


def make_teachers(args, pair: Pair, folder: Path, env: dict) -> dict[str, Path]:
    """Per method, the teacher file both sides load: built by the official code where its
    checkout is given, else by our zoo."""
    teachers = {}
    if "sskd" in args.methods:  # official SSKD reads the teacher's arch from this folder name
        best = folder / f"teacher_{pair.sskd_teacher}_seed0" / "ckpt" / "best.pth"
        teachers["sskd"] = (official_teacher(args.sskd_dir, pair.sskd_teacher, best, "state_dict", env)
                            if args.sskd_dir else our_sskd_teacher(pair.teacher, best))
    if "hssakd" in args.methods:
        aux = folder / f"{pair.hssakd_teacher}.pth.tar"
        teachers["hssakd"] = (official_teacher(args.hssakd_dir, pair.hssakd_teacher, aux, "net", env)
                              if args.hssakd_dir else our_hssakd_teacher(pair.teacher, aux.with_suffix(".safetensors")))
    return teachers


def official_epoch(method: str, checkout: Path, pair: Pair, teacher: Path, args, tmp: Path, data: Path,
                   env: dict) -> float:
    if method == "sskd":  # --t-path is the teacher_<arch>_seed0 folder above ckpt/best.pth
        return official_sskd_epoch(checkout, pair, teacher.parent.parent, args, tmp, data, env)
    return official_hssakd_epoch(checkout, pair, teacher, args, tmp, data, env)


def main(argv=None) -> int:
    args = parse_args(argv)
    pair = PAIRS[args.pair]
    tmp = Path(tempfile.mkdtemp(prefix="vs_official_"))
    data = tmp / "data"
    write_cifar100(data, args.images, args.test_images)
    shims = tmp / "shims"
    shims.mkdir()
    (shims / "sitecustomize.py").write_text(SHIMS)
    ours_env, official_env = thread_env(args.threads), thread_env(args.threads, shims)
    official = {"sskd": args.sskd_dir, "hssakd": args.hssakd_dir}
    teachers = make_teachers(args, pair, tmp / "teachers", official_env)

    print(f"pair {args.pair}, {args.images} training images, batch {args.batch}, {args.threads} threads, "
          f"device {'cuda' if torch.cuda.is_available() else 'cpu'}; ours amp={args.our_amp} "
          f"channels_last={args.channels_last}, official fp32; work folder {tmp}", flush=True)
    ours = [("ours", args.our_amp, args.channels_last)] + ([("ours+speed", our_amp("auto"), True)] if args.fast else [])
    times: dict[str, dict[str, list[float]]] = {m: {side: [] for side, _, _ in ours} | {"official": []}
                                                for m in args.methods}
    reported: dict[str, list[float]] = {m: [] for m in args.methods}  # our metrics' images_per_s
    for r in range(args.repeats):
        for method in args.methods:
            for side, amp, channels_last in ours:
                seconds, per_s = our_epoch(method, pair, teachers[method], args, tmp, data, ours_env,
                                           f"{method}_{side}_{r}", amp, channels_last)
                times[method][side].append(seconds)
                if side == "ours":
                    reported[method].append(per_s)
                print(f"  repeat {r + 1}: {method} {side} {seconds:.2f} s", flush=True)
            if official[method] is not None:
                seconds = official_epoch(method, official[method], pair, teachers[method], args, tmp, data,
                                         official_env)
                times[method]["official"].append(seconds)
                print(f"  repeat {r + 1}: {method} official {seconds:.2f} s", flush=True)

    results = report(times, args, official)
    for method, per_s in reported.items():
        results["methods"][method]["ours"]["reported_images_per_s"] = per_s
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    if args.clean:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


def report(times: dict, args, official: dict) -> dict:
    """Print the table; the numbers as a dict."""
    results = {"pair": args.pair, "images": args.images, "batch": args.batch, "threads": args.threads,
               "repeats": args.repeats, "our_amp": args.our_amp, "channels_last": args.channels_last,
               "device": "cuda" if torch.cuda.is_available() else "cpu", "methods": {}}
    print(f"\none student epoch, {args.images} images, median of {args.repeats}")
    print(f"{'method':<8} {'side':<10} {'s/epoch':>9} {'images/s':>9} {'ours/official':>14}")
    for method, sides in times.items():
        row = {side: median_row(t, args.images) for side, t in sides.items() if t}
        ours_sides = [side for side in row if side.startswith("ours")]
        if "official" in row:
            for side in ours_sides:
                row[f"speedup_{side}"] = row[side]["images_per_s"] / row["official"]["images_per_s"]
            row["speedup"] = row["speedup_ours"]
        results["methods"][method] = row
        for side in (*ours_sides, "official"):
            if side in row:
                ratio = f"{row[f'speedup_{side}']:.2f}x" if f"speedup_{side}" in row else ""
                print(f"{method:<8} {side:<10} {row[side]['seconds']:>9.2f} {row[side]['images_per_s']:>9.1f} "
                      f"{ratio:>14}")
            elif official[method] is None:
                print(f"{method:<8} {side:<10} {'(no official checkout given)':>34}")
    print("official SSKD loads data with num_workers=4 (per-image PIL transforms), official HSSAKD in the "
          "main process; both fp32. Ours: images on the device.")
    return results


if __name__ == "__main__":
    sys.exit(main())
