"""Time the training steps of distillation methods against a plain KD step for one
teacher → student pair, in one run: views/s (images × views through the student), peak
memory, and each method's step time per image relative to KD.

    python benchmarks/distill_step.py --teacher resnet32x4 --student resnet8x4 --batch 64
    python benchmarks/distill_step.py --methods kd sskd hssakd --amp bf16
    python benchmarks/distill_step.py --methods all --teacher vgg13 --student vgg8

Methods are distill presets (``sskd methods``); ``all`` is KD, every baseline of the CRD
benchmark, SSKD and HSSAKD. The stages a preset runs before its student stage are built
first (they make the teacher-side networks) but not timed. SSKD: teacher forward on the 4
views + student forward/backward with its head. HSSAKD: teacher + branches forward on the 4
views + student with branches forward/backward. CRD: its bank sized for CIFAR-100's 50,000
training images. Each method runs in its own process, so the CPU's peak memory (max RSS)
is that method's alone.

The teacher gets random weights (its values do not change the cost).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import queue
import resource
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from sskd.config import config_from_dict, load_preset
from sskd.data import make_views
from sskd.engine.checkpoint import export_model
from sskd.engine.runtime import to_channels_last_views
from sskd.methods import MethodContext, build_method
from sskd.models import build_model
from sskd.rules import apply_rules

BASELINES = ["fitnet", "at", "sp", "cc", "vid", "rkd", "pkt", "ab", "ft", "fsp", "nst", "crd"]
ALL = ["kd", *BASELINES, "sskd", "hssakd"]
TRAIN_IMAGES = 50_000  # CIFAR-100's training set: the size of CRD's memory bank
NUM_CLASSES = 100


def build(method: str, teacher: str, student: str, ckpt: Path, device: torch.device):
    """The student stage of preset ``method``, after building its earlier stages' networks."""
    networks = nn.ModuleDict()
    stages = [dict(s, epochs=1, milestones=[]) for s in load_preset(method)["stages"]]
    config = apply_rules(config_from_dict({"model": {"name": student},
                                           "teacher": {"name": teacher, "checkpoint": str(ckpt)}, "stages": stages}))
    labels = torch.arange(TRAIN_IMAGES) % NUM_CLASSES
    for k, stage in enumerate(config.stages):
        context = MethodContext(config, stage, NUM_CLASSES, networks, image_size=32, train_labels=labels)
        built = build_method(context, f"stages[{k}]")
    return built.to(device).train()


def measure(method_name: str, args, ckpt: Path, device: torch.device) -> tuple[float, float, float]:
    """(views/s, images/s, peak MiB): on CUDA the peak allocated; on the CPU the growth of the
    process's peak RSS over what it held before the method was built."""
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    method = build(method_name, args.teacher, args.student, ckpt, device)
    if args.channels_last:
        method = method.to(memory_format=torch.channels_last)
    forward = method if args.compile_mode == "off" else torch.compile(method, mode=args.compile_mode)
    maker = make_views(method.views, mean=(0.5,) * 3, std=(0.25,) * 3, train=True)
    opt = torch.optim.SGD(list(method.trainable_parameters()), lr=0.01, momentum=0.9, fused=device.type == "cuda")
    g = torch.Generator(device=device).manual_seed(0)
    images = torch.randint(0, 256, (args.batch, 3, 32, 32), dtype=torch.uint8, device=device)
    labels = torch.randint(0, NUM_CLASSES, (args.batch,), device=device)
    indices = torch.randperm(TRAIN_IMAGES, device=device)[:args.batch]

    amp = torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.amp == "bf16")

    def step():
        batch = maker(images, labels, g)._replace(indices=indices)
        if args.channels_last:
            batch = batch._replace(views=to_channels_last_views(batch.views))
        with amp:
            _, losses = forward(batch)
        opt.zero_grad(set_to_none=True)
        torch.stack(list(losses.values())).sum().backward()
        opt.step()
        return batch.views.shape[1]

    for _ in range(args.warmup):
        views = step()
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for _ in range(args.iters):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    peak = (torch.cuda.max_memory_allocated() if device.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - rss_before) / 2**20
    return args.batch * views * args.iters / seconds, args.batch * args.iters / seconds, peak


def _measure_in_child(answers, method_name, args, ckpt, device_name) -> None:
    device = torch.device(device_name)
    if device.type == "cpu":
        torch.set_flush_denormal(True)
    answers.put(measure(method_name, args, ckpt, device))


def measure_alone(method_name: str, args, ckpt: Path, device: torch.device):
    """:func:`measure` in a fresh process, so that its peak memory is its own."""
    ctx = multiprocessing.get_context("spawn")
    answers = ctx.Queue()
    child = ctx.Process(target=_measure_in_child, args=(answers, method_name, args, ckpt, str(device)))
    child.start()
    while True:
        try:
            result = answers.get(timeout=1)
            break
        except queue.Empty:
            if not child.is_alive():
                raise SystemExit(f"timing {method_name} failed (exit code {child.exitcode}); see above")
    child.join()
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--teacher", default="resnet32x4")
    p.add_argument("--student", default="resnet8x4")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--iters", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2, help="untimed steps first (compilation happens there)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--amp", choices=["none", "bf16"], default="none", help="bf16 autocast around the forward")
    p.add_argument("--channels-last", action="store_true", help="networks and views in channels_last")
    p.add_argument("--compile-mode", choices=["off", "default", "reduce-overhead", "max-autotune"], default="off",
                   help="torch.compile the method's forward (reduce-overhead: CUDA graphs); default off")
    p.add_argument("--json", type=Path, help="also write the numbers here")
    p.add_argument("--methods", nargs="+", default=["kd", "sskd"],
                   help="distill presets to time, or all (KD is always timed first, as the reference); "
                        "default kd sskd")
    args = p.parse_args()
    methods = ALL if args.methods == ["all"] else args.methods
    for m in methods:
        load_preset(m)  # an unknown name fails here, listing the valid ones
    device = torch.device(args.device)
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Path(tmp) / "teacher.safetensors"
        export_model(build_model(args.teacher, num_classes=NUM_CLASSES), ckpt, {"model": args.teacher})
        timed = {m: measure_alone(m, args, ckpt, device) for m in ["kd"] + [m for m in methods if m != "kd"]}
    mem = "peak GPU memory" if device.type == "cuda" else "peak RSS growth"
    print(f"{args.teacher} -> {args.student}, batch {args.batch} images, {device}, amp {args.amp}, "
          f"torch {torch.__version__}, {args.iters} timed steps after {args.warmup}")
    kd_ips, kd_peak = timed["kd"][1], timed["kd"][2]
    print(f"  {'method':<8}{'views/s':>10}{'images/s':>10}{'step/KD':>9}{mem:>22}{'mem/KD':>8}")
    for name, (vps, ips, peak) in timed.items():
        print(f"  {name:<8}{vps:10.1f}{ips:10.1f}{kd_ips / ips:9.2f}{peak:18.0f} MiB{peak / kd_peak:8.2f}")
    if args.json:
        settings = {k: getattr(args, k) for k in ("teacher", "student", "batch", "amp", "channels_last",
                                                   "compile_mode", "iters", "warmup")}
        args.json.write_text(json.dumps({**settings, "device": str(device), "torch": torch.__version__,
                                         "methods": {name: {"views_per_s": vps, "images_per_s": ips, "peak_mib": peak}
                                                     for name, (vps, ips, peak) in timed.items()}}, indent=2) + "\n")


if __name__ == "__main__":
    main()
