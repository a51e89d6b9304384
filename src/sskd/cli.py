"""The ``sskd`` command: thin; it parses arguments and calls the library."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Optional, Sequence


def cmd_models(args: argparse.Namespace) -> int:
    from sskd.models import list_models, model_entry

    for name in list_models():
        entry = model_entry(name)
        print(f"{name:<15} {entry.input_size:>4}px  {entry.description}")
    return 0


def cmd_datasets(args: argparse.Namespace) -> int:
    from sskd.data import dataset_info, list_datasets

    for name in list_datasets():
        try:
            info = dataset_info(name)
            detail = f"{info.num_classes} classes, {info.image_size}px"
        except (ValueError, KeyError):
            detail = "classes read from the data root"
        print(f"{name:<13} {detail}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sskd", description="Knowledge distillation with self-supervision (SSKD, HSSAKD, baselines).")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("models", help="list the model zoo").set_defaults(func=cmd_models)
    sub.add_parser("datasets", help="list the data sets that can be read").set_defaults(func=cmd_datasets)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except BrokenPipeError:  # output piped into e.g. `head`, which closed early
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
