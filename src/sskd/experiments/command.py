"""The ``sskd experiment`` subcommand: plan a grid, then run what is not finished (or print it)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import yaml

from sskd.config import ConfigError
from sskd.engine.checkpoint import atomic_write_text
from sskd.experiments.plan import Plan, plan_experiment
from sskd.experiments.runner import job_levels, pending_jobs, run_jobs, summary_line
from sskd.experiments.spec import list_experiments, parse_experiment, read_experiment_file
from sskd.experiments.state import stale_cells

EXPERIMENT_FILE = "experiment.yaml"


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "experiment", help="run a grid of runs (methods × pairs × seeds × a swept setting) and its analyses",
        description="Plan an experiment (a shipped one, see --list, or a YAML file), write each cell's run "
                    "config under OUT/plan/, and run every cell and analysis that is not finished: a stopped "
                    "cell resumes from its last checkpoint, a finished one is skipped, and a cell whose run "
                    "was made with another config is refused. Each cell is one `sskd train` command run from "
                    "OUT; --print-commands lists them for a job scheduler. At the end, `sskd report` writes "
                    "OUT/report/report.md.")
    p.add_argument("--recipe", metavar="NAME|YAML", help="the experiment: a shipped name or a YAML file; "
                                                          "default: OUT's own experiment.yaml (to resume)")
    p.add_argument("--out", metavar="DIR", help="the experiment folder; default runs/<recipe name>")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="change a key of the experiment file, e.g. seeds=[0] or base.data.root=DIR (repeatable)")
    p.add_argument("--jobs", type=int, default=1,
                   help="cells run side by side as subprocesses (logs in OUT/logs); default 1, in this process")
    p.add_argument("--print-commands", action="store_true",
                   help="write the plan, print the pending commands in groups (each group after the one "
                        "before; run them from OUT) and exit")
    p.add_argument("--no-report", dest="report", action="store_false", help="do not write the report at the end")
    p.add_argument("--list", action="store_true", help="list the shipped experiments and exit")
    p.set_defaults(func=cmd_experiment)
    return p


def cmd_experiment(args: argparse.Namespace) -> int:
    if args.list:
        for name in list_experiments():
            print(f"{name:<28}{read_experiment_file(name).get('title', '')}")
        return 0
    if args.jobs < 1:
        raise ConfigError(f"--jobs: expected an integer >= 1, got {args.jobs}")
    exp_dir = Path(args.out) if args.out else None
    if args.recipe:
        exp_dir = exp_dir or Path("runs") / Path(args.recipe).stem
        raw = read_experiment_file(args.recipe, tuple(args.set))
    elif exp_dir is None:
        raise ConfigError("give --recipe (a new experiment) or --out (an experiment folder to resume)")
    else:
        saved = exp_dir / EXPERIMENT_FILE
        if not saved.is_file():
            raise ConfigError(f"--out {exp_dir}: no {EXPERIMENT_FILE} there; give --recipe to start an experiment")
        raw = read_experiment_file(saved, tuple(args.set))
    if exp_dir.exists() and not exp_dir.is_dir():
        raise ConfigError(f"--out {exp_dir}: a file, not a folder")
    plan = plan_experiment(parse_experiment(raw))
    stale = stale_cells(exp_dir, plan) if exp_dir.is_dir() else []
    if stale:
        raise ConfigError(f"{exp_dir}: {len(stale)} run(s) were made with another config than this experiment's, "
                          f"and would be mixed in: {' | '.join(stale[:5])}. Remove those run directories, or give "
                          f"another --out")
    write_plan(exp_dir, plan)
    jobs = pending_jobs(exp_dir, plan)
    if args.print_commands:
        print(format_commands(exp_dir, plan, jobs))
        return 0
    started = time.perf_counter()
    outcome = run_jobs(exp_dir, jobs, args.jobs, log=lambda m: print(m, file=sys.stderr, flush=True))
    print(summary_line(outcome, time.perf_counter() - started, exp_dir / "logs" if args.jobs > 1 else None))
    if outcome.failed or outcome.skipped:
        return 1
    if args.report:
        from sskd.analysis.report_markdown import write_report

        print(f"report: {write_report([exp_dir], exp_dir / 'report')}")
    return 0


def write_plan(exp_dir: Path, plan: Plan) -> None:
    """``experiment.yaml``, ``plan.json`` and every cell's ``plan/<cell>.yaml`` (atomically)."""
    (exp_dir / "plan").mkdir(parents=True, exist_ok=True)
    atomic_write_text(exp_dir / EXPERIMENT_FILE, yaml.safe_dump(plan.spec.raw, sort_keys=False))
    atomic_write_text(exp_dir / "plan.json", json.dumps(plan.to_json(), indent=1) + "\n")
    for run_dir, raw in plan.configs.items():
        cell_file = exp_dir / "plan" / f"{run_dir.rsplit('/', 1)[-1]}.yaml"
        atomic_write_text(cell_file, yaml.safe_dump(raw, sort_keys=False))


def format_commands(exp_dir: Path, plan: Plan, jobs) -> str:
    runs = len(plan.unique_cells())
    lines = [f"# {exp_dir}: {len(jobs)} command(s) pending of {runs + len(plan.analyses)}; run them from that "
             f"folder (cd {exp_dir}), each group once the groups before it have finished"]
    for n, group in enumerate(job_levels(jobs), 1):
        lines.append(f"# group {n}: {len(group)} command(s)")
        lines += [job.command for job in group]
    return "\n".join(lines)
