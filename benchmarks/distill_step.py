"""Time the training steps of distillation methods against a plain KD step for one
teacher → student pair, in one run: views/s (images × views through the student), peak
memory, and each method's step time per image relative to KD.

    python benchmarks/distill_step.py --teacher resnet32x4 --student resnet8x4 --batch 64
    python benchmarks/distill_step.py --methods kd sskd hssakd --amp bf16

SSKD: teacher forward on the 4 views + student forward/backward with its head. HSSAKD:
teacher + branches forward on the 4 views + student with branches forward/backward.

The teacher gets random weights (its values do not change the cost).
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from sskd.config import config_from_dict
from sskd.rules import apply_rules
from sskd.data import make_views
from sskd.engine.checkpoint import export_model
from sskd.methods import MethodContext, build_method
from sskd.models import build_model


# The stages a method needs before its student stage (they build the teacher-side networks).
PREPARE = {"kd": [], "sskd": ["sskd_teacher_head"], "hssakd": ["hssakd_teacher"]}


def build(method: str, teacher: str, student: str, ckpt: Path, device: torch.device):
    networks = nn.ModuleDict()
    stages = [{"name": f"prep{i}", "method": m, "epochs": 1} for i, m in enumerate(PREPARE[method])]
    stages.append({"name": "student", "method": method, "epochs": 1})
    config = apply_rules(config_from_dict({"model": {"name": student},
                                           "teacher": {"name": teacher, "checkpoint": str(ckpt)}, "stages": stages}))
    for k, stage in enumerate(config.stages):
        built = build_method(MethodContext(config, stage, 100, networks), f"stages[{k}]")
    return built.to(device).train()


def measure(method_name: str, args, ckpt: Path, device: torch.device) -> tuple[float, float]:
    method = build(method_name, args.teacher, args.student, ckpt, device)
    maker = make_views(method.views, mean=(0.5,) * 3, std=(0.25,) * 3, train=True)
    opt = torch.optim.SGD(list(method.trainable_parameters()), lr=0.01, momentum=0.9)
    g = torch.Generator(device=device).manual_seed(0)
    images = torch.randint(0, 256, (args.batch, 3, 32, 32), dtype=torch.uint8, device=device)
    labels = torch.randint(0, 100, (args.batch,), device=device)

    amp = torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.amp == "bf16")

    def step():
        batch = maker(images, labels, g)
        with amp:
            _, losses = method.forward_train(batch)
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
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024) / 2**20
    return args.batch * views * args.iters / seconds, args.batch * args.iters / seconds, peak


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--teacher", default="resnet32x4")
    p.add_argument("--student", default="resnet8x4")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--iters", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--amp", choices=["none", "bf16"], default="none", help="bf16 autocast around the forward")
    p.add_argument("--methods", nargs="+", default=["kd", "sskd"], choices=sorted(PREPARE),
                   help="methods to time (KD is always timed first, as the reference); default kd sskd")
    args = p.parse_args()
    device = torch.device(args.device)
    if device.type == "cpu":
        torch.set_flush_denormal(True)
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Path(tmp) / "teacher.safetensors"
        export_model(build_model(args.teacher, num_classes=100), ckpt, {"model": args.teacher})
        timed = {m: measure(m, args, ckpt, device) for m in ["kd"] + [m for m in args.methods if m != "kd"]}
    mem = "peak GPU memory" if device.type == "cuda" else "peak process RSS (cumulative)"
    print(f"{args.teacher} -> {args.student}, batch {args.batch} images, {device}, amp {args.amp}, "
          f"torch {torch.__version__}")
    for name, (vps, ips, peak) in timed.items():
        print(f"  {name.upper():<7} {vps:9.1f} views/s  {ips:8.1f} images/s  {mem} {peak:8.0f} MiB")
    for name, (_, ips, _) in timed.items():
        if name != "kd":
            print(f"  {name.upper()}/KD step time per image: ×{timed['kd'][1] / ips:.2f}")


if __name__ == "__main__":
    main()
