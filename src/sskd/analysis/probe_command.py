"""The ``sskd probe`` subcommand: the linear-probe transfer of HSSAKD §6.6 (Yang et al.,
TNNLS 2022), arguments and the call into :func:`sskd.analysis.linear_probe.linear_probe`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``sskd probe CHECKPOINT --dataset D [...]`` on ``sub``."""
    p = sub.add_parser("probe", help="linear-probe transfer of a trained network to another data set",
                       description="Freeze a trained network (eval mode, BN statistics fixed) and train only a "
                                   "new linear layer on its pooled embedding for another data set (HSSAKD §6.6): "
                                   "RandomResizedCrop + flip for training, a resize for testing, SGD nesterov. "
                                   "The best epoch is selected on the test set, as the paper reports it, so it "
                                   "is optimistic; the last epoch is the honest number.")
    p.add_argument("checkpoint", metavar="CHECKPOINT",
                   help="model.safetensors, a run directory, or a .pth of the original code (with --model)")
    p.add_argument("--dataset", required=True, help="target data set (e.g. stl10, image_folder)")
    p.add_argument("--data-root", help="folder holding the target data set's files")
    p.add_argument("--model", help="network name; needed unless the checkpoint says it")
    p.add_argument("--source-classes", type=int,
                   help="classes the network was trained with; needed unless the checkpoint says it")
    p.add_argument("--epochs", type=int, default=100, help="default 100")
    p.add_argument("--lr", type=float, default=0.1, help="default 0.1")
    p.add_argument("--batch-size", type=int, default=64, help="default 64")
    p.add_argument("--milestones", type=int, nargs="*", default=[30, 60, 90],
                   help="epochs where the lr drops ×0.1; default 30 60 90 (no value: none)")
    p.add_argument("--no-augment", dest="augment", action="store_false",
                   help="train on features computed once from un-augmented images (fast; not the paper's "
                        "protocol)")
    p.add_argument("--image-size", type=int,
                   help="side at which image folders are read; default the network's input side")
    p.add_argument("--train-split", default="train", help="default train")
    p.add_argument("--test-split", default="test", help="default test")
    p.add_argument("--seed", type=int, default=0, help="seeds crops, flips, batch order and the layer; default 0")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--amp", choices=["none", "bf16", "fp16"], default="none",
                   help="mixed precision of the frozen network")
    p.add_argument("--json", metavar="OUT", help="write the result (with every epoch) to this JSON file")
    p.set_defaults(func=cmd_probe)
    return p


def cmd_probe(args: argparse.Namespace) -> int:
    from sskd.analysis.linear_probe import linear_probe

    result = linear_probe(args.checkpoint, args.dataset, data_root=args.data_root, model=args.model,
                          epochs=args.epochs, lr=args.lr, milestones=tuple(args.milestones),
                          batch_size=args.batch_size, augment=args.augment, seed=args.seed, device=args.device,
                          amp=args.amp, train_split=args.train_split, test_split=args.test_split, log=print,
                          image_size=args.image_size, source_classes=args.source_classes)
    print(final_line(result))
    if args.json:
        write_json(result, Path(args.json))
        print(f"wrote {args.json}")
    return 0


def final_line(result: dict[str, Any]) -> str:
    """``last epoch (E): test top1 X | best epoch (e, selected on test/top1): Y``."""
    last, best = result["last_epoch"], result["best_epoch"]
    return (f"last epoch ({last['epoch']}): test top1 {last['test/top1']:.2f} | "
            f"best epoch ({best['epoch']}, selected on {best['selected_on']}): {best['test/top1']:.2f}")


def write_json(result: dict[str, Any], path: Path) -> None:
    """Write ``result`` to ``path`` atomically, creating its parent folders."""
    from sskd.engine.checkpoint import atomic_write_text

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(result, indent=2) + "\n")
