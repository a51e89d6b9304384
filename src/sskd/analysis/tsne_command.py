"""The ``sskd tsne`` subcommand: the t-SNE figure of SSKD Fig. 3a for one saved network."""

from __future__ import annotations

import argparse
from pathlib import Path

from sskd.analysis.tsne import write_tsne


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``sskd tsne CHECKPOINT --out PNG [options]`` on ``sub``."""
    p = sub.add_parser("tsne", help="t-SNE of a network's pooled embeddings, one colour per class (SSKD Fig. 3a)",
                       description="Embed a few test images of each chosen class with a saved network, map "
                                   "the pooled embeddings to 2-D with t-SNE and plot them; a JSON file next "
                                   "to the PNG records the images drawn and silhouette scores of the "
                                   "embeddings and of the 2-D points.")
    p.add_argument("checkpoint", metavar="CHECKPOINT", help="run directory or .safetensors/.pth weights")
    p.add_argument("--out", required=True, metavar="PNG", help="figure to write (the .json goes next to it)")
    p.add_argument("--model", help="the network, for weights whose metadata does not name it")
    p.add_argument("--dataset", help="data set; default: the one the network was trained on")
    p.add_argument("--data-root", help="folder holding the data set's files")
    p.add_argument("--split", default="test", help="data-set split; default test")
    p.add_argument("--classes", type=int, nargs="+", metavar="C",
                   help="class indices to plot; default the first ten")
    p.add_argument("--per-class", type=int, default=100, help="images per class; default 100")
    p.add_argument("--seed", type=int, default=0, help="seed of the images drawn and of t-SNE; default 0")
    p.add_argument("--perplexity", type=float, default=30.0,
                   help="t-SNE perplexity, clipped below the number of points; default 30")
    p.add_argument("--batch-size", type=int, default=256, help="images per batch; default 256")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N; default auto")
    p.set_defaults(func=cmd_tsne)
    return p


def cmd_tsne(args: argparse.Namespace) -> int:
    summary = write_tsne(args.checkpoint, args.out, model=args.model, dataset=args.dataset,
                         data_root=args.data_root, split=args.split, classes=args.classes,
                         per_class=args.per_class, seed=args.seed, perplexity=args.perplexity,
                         batch_size=args.batch_size, device=args.device)
    print(f"{summary['points']} points of {len(summary['classes'])} classes; silhouette of the embeddings "
          f"{summary['silhouette_embedding']:.4f}, of the 2-D points {summary['silhouette_2d']:.4f}")
    print(f"wrote {args.out} and {Path(args.out).with_suffix('.json')}")
    return 0
