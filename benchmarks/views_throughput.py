"""Throughput of the multi-view batch makers of :mod:`sskd.data.views`.

Times ``maker(images, labels, generator)`` on random uint8 ``[B, 3, 32, 32]`` CIFAR-sized
batches after a warm-up and prints views/s = B * V * iters / seconds for each maker.

    python benchmarks/views_throughput.py --device cpu --threads 2
    python benchmarks/views_throughput.py --device cuda --maker sskd hssakd
"""

from __future__ import annotations

import argparse
import time

import torch

from sskd.data.cifar import cifar100_info
from sskd.data.views import CROP_PADDING, list_view_makers, make_views

CIFAR100 = cifar100_info()
DEFAULT_MAKERS = ("standard", "sskd", "hssakd", "sskd_paper")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--maker", nargs="+", default=list(DEFAULT_MAKERS), choices=list_view_makers(),
                   help="maker name(s); default: all four")
    p.add_argument("--iters", type=int, default=200)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads (CPU)")
    p.add_argument("--eval", action="store_true", help="time test-mode makers instead of train")
    p.add_argument("--crop-padding", type=int, default=CROP_PADDING,
                   help="training-time RandomCrop padding; 0 leaves the crop out")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_maker(name: str, images: torch.Tensor, labels: torch.Tensor, train: bool, iters: int,
               warmup: int, seed: int, crop_padding: int = CROP_PADDING) -> float:
    """Views per second of maker ``name`` on ``images`` ``[B, C, H, W]`` uint8."""
    maker = make_views(name, mean=CIFAR100.mean, std=CIFAR100.std, train=train,
                       crop_padding=crop_padding)
    gen = torch.Generator(device=images.device).manual_seed(seed)
    for _ in range(warmup):
        maker(images, labels, gen)
    _sync(images.device)
    start = time.perf_counter()
    for _ in range(iters):
        maker(images, labels, gen)
    _sync(images.device)
    seconds = time.perf_counter() - start
    return images.shape[0] * maker.num_views * iters / seconds


def main(argv=None) -> None:
    args = parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cpu":
        torch.set_flush_denormal(True)
    if args.threads:
        torch.set_num_threads(args.threads)
    gen = torch.Generator(device=device).manual_seed(args.seed)
    images = torch.randint(0, 256, (args.batch, 3, 32, 32), generator=gen, device=device,
                           dtype=torch.uint8)
    labels = torch.randint(0, 100, (args.batch,), generator=gen, device=device)
    mode = "test" if args.eval else "train"
    print(f"device={device} threads={torch.get_num_threads()} batch={args.batch} "
          f"iters={args.iters} mode={mode} crop_padding={args.crop_padding} "
          f"torch={torch.__version__}")
    for name in args.maker:
        rate = time_maker(name, images, labels, not args.eval, args.iters, args.warmup, args.seed,
                          args.crop_padding)
        print(f"{name:>12s}: {rate:12,.0f} views/s")


if __name__ == "__main__":
    main()
