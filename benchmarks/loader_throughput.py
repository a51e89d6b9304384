"""Does the image-folder loader keep up with the training step? Images/s of both, side by side.

Measured, for each ``--workers`` count:

* loader: one epoch of the training loader that runs use for an image folder
  (``make_loader`` -> ``FolderLoader`` over ``ImageFolderDataset(train=True)``: read, decode,
  seeded ``RandomResizedCrop`` to ``--image-size``, collate into uint8 ``[B, 3, S, S]``,
  pinned when the device is CUDA), each batch moved with ``.to(device, non_blocking=True)``.
  Workers are restarted every epoch, as in training, so their start-up is included.
* step: one supervised training step of ``--model`` (zoo name, or ``torchvision:<name>``)
  on ``--device`` for a uint8 batch already there: the on-device standard views (flip,
  normalise), forward, cross-entropy, backward, SGD; timed after a warm-up.

"loader >= step: yes" means that many workers produce batches at least as fast as the step
consumes them, so the device would not wait for data. On ``--device cpu`` the two share the
same CPUs in a real run, so the rates measured apart are upper bounds.

Without ``--root`` an image folder ``<tmp>/train/<class>/<i>.jpg`` of ``--images`` JPEGs
(smooth random content plus noise, sides drawn from ``--min-side``..``--max-side``) is
written once to a temporary folder and removed afterwards. ``--root`` takes an
ImageNet-layout folder of your own (its ``train`` split is read).

    python benchmarks/loader_throughput.py                     # 512 images, workers 0 1 2
    python benchmarks/loader_throughput.py --device cuda --workers 0 4 8 16 --bf16
    python benchmarks/loader_throughput.py --root /data/imagenet --images 2048 --workers 8
    python benchmarks/loader_throughput.py --compare-decoders  # also time PIL vs torchvision decoding
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from sskd.data import ImageFolderDataset, make_loader, make_views
from sskd.models import build_model


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", default=None, help="an ImageNet-layout folder (root/train/<class>/...); "
                   "default: write a synthetic one to a temporary folder")
    p.add_argument("--images", type=int, default=512, help="images in the synthetic folder, or the most "
                   "read from --root")
    p.add_argument("--classes", type=int, default=8, help="classes of the synthetic folder")
    p.add_argument("--min-side", type=int, default=256)
    p.add_argument("--max-side", type=int, default=400)
    p.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--image-size", type=int, default=224)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--epochs", type=int, default=1, help="loader epochs timed per worker count")
    p.add_argument("--model", default="resnet18", help="zoo name or torchvision:<name>; 'none' skips the step")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--iters", type=int, default=None, help="timed steps (default: 1 on CPU, 20 on GPU)")
    p.add_argument("--warmup", type=int, default=None, help="untimed steps (default: 1 on CPU, 5 on GPU)")
    p.add_argument("--bf16", action="store_true", help="bf16 autocast in the step")
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--compare-decoders", action="store_true",
                   help="also time decoding in one process: the reader used vs PIL")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def write_jpeg_folder(root: Path, images: int, classes: int, min_side: int, max_side: int, seed: int) -> None:
    """``root/train/c<k>/<i>.jpg``: smooth random colour fields plus noise, random sizes."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for i in range(images):
        folder = root / "train" / f"c{i % classes:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        h, w = (int(s) for s in rng.integers(min_side, max_side + 1, size=2))
        coarse = rng.integers(0, 256, size=(h // 16 + 2, w // 16 + 2, 3), dtype=np.uint8)
        smooth = np.asarray(Image.fromarray(coarse).resize((w, h), Image.BILINEAR), dtype=np.int16)
        pixels = np.clip(smooth + rng.integers(-24, 25, size=(h, w, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"{i:05d}.jpg", quality=90)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def loader_rate(dataset, batch: int, workers: int, device: torch.device, epochs: int) -> tuple[float, int]:
    """(images/s over ``epochs`` epochs, worker start-up included; batches per epoch)."""
    loader = make_loader(dataset, batch, shuffle=True, seed=0, drop_last=True, num_workers=workers,
                         pin_memory=device.type == "cuda")
    images = 0
    start = time.perf_counter()
    for epoch in range(epochs):
        loader.set_epoch(epoch)
        for x, y in loader:
            x = x.to(device, non_blocking=True)
            y = y.to(device, non_blocking=True)
            images += x.shape[0]
    _sync(device)
    return images / (time.perf_counter() - start), len(loader)


def step_rate(model_name: str, batch: int, size: int, num_classes: int, device: torch.device, iters: int,
              warmup: int, bf16: bool, channels_last: bool, mean, std) -> float:
    """Images/s of views + forward + backward + SGD on a uint8 batch already on ``device``."""
    torch.manual_seed(0)
    model = build_model(model_name, num_classes=num_classes).to(device).train()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    maker = make_views("standard", mean=mean, std=std, train=True, crop_padding=0)
    gen = torch.Generator(device=device).manual_seed(0)
    x = torch.randint(0, 256, (batch, 3, size, size), dtype=torch.uint8, device=device, generator=gen)
    y = torch.randint(0, num_classes, (batch,), device=device, generator=gen)

    def step():
        views = maker(x, y, gen).views[:, 0]
        if channels_last:
            views = views.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            out = model(views)
        logits = getattr(out, "logits", out)
        loss = F.cross_entropy(logits.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(warmup):
        step()
    _sync(device)
    start = time.perf_counter()
    for _ in range(iters):
        step()
    _sync(device)
    return batch * iters / (time.perf_counter() - start)


def compare_decoders(paths: list[str], size: int) -> None:
    """Images/s in this process (1 thread) of the reader used vs PIL, and of the crops."""
    from PIL import Image

    from sskd.data.dataset import image_transform, read_image_rgb

    def pil(path):
        with Image.open(path) as img:
            array = np.asarray(img.convert("RGB"))
        return torch.from_numpy(array.copy()).permute(2, 0, 1).contiguous()

    def rate(fn, items):
        start = time.perf_counter()
        for item in items:
            fn(item)
        return len(items) / (time.perf_counter() - start)

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in a DataLoader worker
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            rate(read_image_rgb, paths[:8])
            print(f"  decode, 1 process: read_image_rgb {rate(read_image_rgb, paths):7.0f} images/s, "
                  f"PIL {rate(pil, paths):7.0f} images/s")
            decoded = [read_image_rgb(p) for p in paths]
        for train in (True, False):
            crop = image_transform(size, train)
            name = "random-resized-crop" if train else "resize + centre crop"
            print(f"  {name} to {size}, 1 process: {rate(crop, decoded):7.0f} images/s")
    finally:
        torch.set_num_threads(threads)


def main(argv=None) -> None:
    args = parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cpu":
        torch.set_flush_denormal(True)
    iters = args.iters or (1 if device.type == "cpu" else 20)
    warmup = args.warmup if args.warmup is not None else (1 if device.type == "cpu" else 5)
    tmp = None
    if args.root is None:
        tmp = Path(tempfile.mkdtemp(prefix="sskd_loader_bench_"))
        start = time.perf_counter()
        write_jpeg_folder(tmp, args.images, args.classes, args.min_side, args.max_side, args.seed)
        print(f"wrote {args.images} JPEGs ({args.min_side}-{args.max_side} px, {args.classes} classes) "
              f"to {tmp} in {time.perf_counter() - start:.1f}s")
    root = Path(args.root) if args.root else tmp
    try:
        dataset = ImageFolderDataset(root, "train", image_size=args.image_size, train=True)
        if len(dataset) > args.images:
            keep = np.random.default_rng(args.seed).choice(len(dataset), args.images, replace=False)
            dataset = dataset.subset(np.sort(keep))
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        print(f"{len(dataset)} images, image_size {args.image_size}, batch {args.batch}, device {device}, "
              f"{cpus} CPUs, torch {torch.__version__}")
        if args.compare_decoders:
            compare_decoders([path for path, _ in dataset.samples], args.image_size)
        step = None
        if args.model != "none":
            step = step_rate(args.model, args.batch, args.image_size, dataset.info.num_classes, device, iters,
                             warmup, args.bf16, args.channels_last, dataset.info.mean, dataset.info.std)
            print(f"step  {args.model} (bf16={args.bf16}, channels_last={args.channels_last}): "
                  f"{step:8.1f} images/s")
        best = 0.0
        for workers in args.workers:
            rate, batches = loader_rate(dataset, args.batch, workers, device, args.epochs)
            best = max(best, rate)
            verdict = "" if step is None else f"   loader ≥ step: {'yes' if rate >= step else 'no'}"
            print(f"loader workers={workers:<2d} ({batches} batches/epoch): {rate:8.1f} images/s{verdict}")
        if step is not None:
            print(f"best loader {best:.1f} images/s vs step {step:.1f} images/s: "
                  f"loader ≥ step: {'yes' if best >= step else 'no'}")
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
