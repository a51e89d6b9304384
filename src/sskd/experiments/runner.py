"""Runs an experiment's pending commands in dependency order: one after another in this
process (``jobs=1``), or ``jobs`` side by side as ``sskd`` subprocesses with their output in
``EXP/logs/``. A finished command is never run again; a failed one is reported, and what
waits for it is skipped, while everything else goes on."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from sskd.experiments.plan import Plan
from sskd.experiments.state import FINISHED, analysis_done, cell_argv, record_command, run_state


@dataclass
class Job:
    """One pending command: ``argv`` for ``sskd``, run from the experiment folder."""

    key: str
    argv: list[str]
    after: list[str] = field(default_factory=list)
    records: Optional[str] = None  # an analysis: the command recorded for its output once it ran

    @property
    def command(self) -> str:
        return "sskd " + " ".join(shlex.quote(a) for a in self.argv)


def pending_jobs(exp_dir: Path, plan: Plan) -> list[Job]:
    """The plan's unfinished cells and analyses, in plan order; ``after`` names only pending
    jobs (what is finished is no longer waited for)."""
    key_of = {c.name: c.run_dir for c in plan.cells}
    key_of.update({a.name: a.output for a in plan.analyses})
    jobs = [Job(c.run_dir, cell_argv(exp_dir, c), [key_of[n] for n in c.after])
            for c in plan.unique_cells() if run_state(exp_dir, c.run_dir) != FINISHED]
    jobs += [Job(a.output, shlex.split(a.command)[1:], [key_of[n] for n in a.after], records=a.command)
             for a in plan.analyses
             if not analysis_done(exp_dir, a.output, [key_of[n] for n in a.after], a.command)]
    pending = {j.key for j in jobs}
    for job in jobs:
        job.after = [k for k in dict.fromkeys(job.after) if k in pending]
    return jobs


def job_levels(jobs: list[Job]) -> list[list[Job]]:
    """``jobs`` in groups that can each run once the groups before them are done."""
    level: dict[str, int] = {}
    for job in jobs:  # plan order lists every job after the jobs it waits for
        level[job.key] = 1 + max((level[k] for k in job.after), default=-1)
    return [[j for j in jobs if level[j.key] == n] for n in range(max(level.values(), default=-1) + 1)]


@dataclass
class Outcome:
    done: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def run_jobs(exp_dir: Path, jobs: list[Job], parallel: int = 1,
             log: Callable[[str], None] = print) -> Outcome:
    """Run ``jobs`` (see the module docstring); returns which finished, failed or were skipped."""
    outcome = Outcome()
    waiting = list(jobs)
    running: dict[str, tuple[subprocess.Popen, float]] = {}
    total = len(jobs)
    jobs_by_key = {j.key: j for j in jobs}
    while waiting or running:
        for key, (process, started) in list(running.items()):
            if process.poll() is not None:
                del running[key]
                _finish(exp_dir, outcome, jobs_by_key[key], process.returncode, time.perf_counter() - started, log)
        _skip_orphans(waiting, outcome, log)
        ready = [j for j in waiting if not any(k in running or k in {w.key for w in waiting} for k in j.after)]
        while ready and len(running) < parallel:
            job = ready.pop(0)
            waiting.remove(job)
            log(f"[{total - len(waiting) - len(running)}/{total}] {job.command}")
            if parallel == 1:
                started = time.perf_counter()
                _finish(exp_dir, outcome, job, _run_here(exp_dir, job.argv), time.perf_counter() - started, log)
            else:
                running[job.key] = (_spawn(exp_dir, job, parallel), time.perf_counter())
        if running:
            time.sleep(0.2)
    return outcome


def _finish(exp_dir: Path, outcome: Outcome, job: Job, returncode: int, seconds: float, log) -> None:
    if returncode == 0:
        outcome.done.append(job.key)
        if job.records is not None:
            record_command(exp_dir, job.key, job.records)
        log(f"  done {job.key} ({seconds:.0f} s)")
    else:
        outcome.failed.append(job.key)
        log(f"  FAILED {job.key} (exit {returncode})")


def _skip_orphans(waiting: list[Job], outcome: Outcome, log) -> None:
    lost = set(outcome.failed) | set(outcome.skipped)
    for job in [j for j in waiting if any(k in lost for k in j.after)]:
        waiting.remove(job)
        outcome.skipped.append(job.key)
        log(f"  skipped {job.key}: it waits for a failed run")
        _skip_orphans(waiting, outcome, log)
        return


def _run_here(exp_dir: Path, argv: list[str]) -> int:
    from sskd.cli import main

    before = os.getcwd()
    os.chdir(exp_dir)
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    except Exception:  # one broken cell must not stop the others; its traceback is kept
        traceback.print_exc()
        return 1
    finally:
        os.chdir(before)


def _spawn(exp_dir: Path, job: Job, parallel: int) -> subprocess.Popen:
    logs = exp_dir / "logs"
    logs.mkdir(exist_ok=True)
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // parallel)))
    out = open(logs / f"{job.key.replace('/', '_')}.log", "a")
    try:
        return subprocess.Popen([sys.executable, "-m", "sskd.cli", *job.argv], cwd=exp_dir, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    finally:
        out.close()


def summary_line(outcome: Outcome, seconds: float, log_dir: Optional[Path] = None) -> str:
    line = f"{len(outcome.done)} run, {len(outcome.failed)} failed, {len(outcome.skipped)} skipped in {seconds:.0f} s"
    if outcome.failed:
        line += "; failed: " + ", ".join(outcome.failed)
        if log_dir is not None:
            line += f" (logs in {log_dir})"
    return line
