"""The ``sskd export`` subcommand: arguments and the call into :func:`sskd.export.export_run`."""

from __future__ import annotations

import argparse

from sskd.export.exporter import FORMATS, export_run


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``sskd export RUN --format F [--out PATH] [--force]`` on ``sub``."""
    p = sub.add_parser("export", help="write a run's trained student alone (onnx, torchscript, safetensors)",
                       description="Write the trained network of a run alone (no SSKD heads, no HSSAKD "
                                   "branches), taking normalised images [N, 3, S, S] and returning logits "
                                   "[N, K], with its preprocessing (input size, mean, std) and class names "
                                   "in the file's metadata. The file is read back and checked against PyTorch.")
    p.add_argument("run", metavar="RUN", help="run directory (or its model.safetensors)")
    p.add_argument("--format", required=True, choices=list(FORMATS),
                   help="onnx (needs the onnx extra), torchscript or safetensors")
    p.add_argument("--out", metavar="PATH", help="file to write; default RUN/export/model.{onnx,pt,safetensors}")
    p.add_argument("--force", action="store_true", help="replace the output file if it exists")
    p.set_defaults(func=cmd_export)
    return p


def cmd_export(args: argparse.Namespace) -> int:
    export_run(args.run, args.format, out=args.out, force=args.force, log=print)
    return 0
