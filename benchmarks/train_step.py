"""Images/s of one supervised training step (forward, backward, SGD) for a zoo network,
with and without channels_last and bf16 autocast, measured in one run.

    python benchmarks/train_step.py --model resnet20 --batch 64 --iters 20
"""

from __future__ import annotations

import argparse
import itertools
import time

import torch
import torch.nn.functional as F

from sskd.models import build_model, model_entry


def images_per_second(model_name: str, batch: int, iters: int, warmup: int, device: torch.device,
                      channels_last: bool, bf16: bool) -> float:
    torch.manual_seed(0)
    model = build_model(model_name, num_classes=100).to(device).train()
    size = model_entry(model_name).input_size
    x = torch.randn(batch, 3, size, size, device=device)
    y = torch.randint(0, 100, (batch,), device=device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step():
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            loss = F.cross_entropy(model(x).logits.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(iters):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return batch * iters / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="resnet20")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cpu":
        torch.set_flush_denormal(True)
    print(f"{args.model} batch {args.batch} on {device} ({torch.get_num_threads()} threads), torch {torch.__version__}")
    base = None
    for channels_last, bf16 in itertools.product((False, True), (False, True)):
        ips = images_per_second(args.model, args.batch, args.iters, args.warmup, device, channels_last, bf16)
        base = base or ips
        print(f"  channels_last={str(channels_last):<5} bf16={str(bf16):<5} {ips:8.1f} images/s  ×{ips / base:.2f}")


if __name__ == "__main__":
    main()
