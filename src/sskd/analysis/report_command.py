"""The ``sskd report`` subcommand: arguments and the call into :func:`write_report`."""

from __future__ import annotations

import argparse

from sskd.analysis.report_markdown import write_report


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``sskd report EXP [EXP ...] [--out DIR]`` on ``sub``."""
    p = sub.add_parser("report", help="one Markdown report (tables, plots, commands) of experiment folders",
                       description="Write DIR/report.md and its PNG figures from the files of experiment "
                                   "folders alone (plan.json, the runs' summary.json, the analyses' JSON): "
                                   "teachers, each grid's last- and best-epoch test top-1 (mean ± std over "
                                   "seeds), similarity, t-SNE, linear probes and the commands behind them.")
    p.add_argument("experiments", metavar="EXP", nargs="+", help="experiment folder (holding plan.json)")
    p.add_argument("--out", metavar="DIR", help="output folder; default the first EXP's report/")
    p.set_defaults(func=cmd_report)
    return p


def cmd_report(args: argparse.Namespace) -> int:
    print(write_report(args.experiments, args.out))
    return 0
