"""``sskd train`` killed with SIGKILL from outside, at random and at chosen moments
(a training step, an evaluation, a checkpoint being written, the end of the run), and
resumed with ``--resume`` after each kill, ends exactly as an uninterrupted run of the
same config: the same weights bit for bit, the same records, and a run directory where
every file is complete (and none is left half-written by a kill, even between rounds)."""

import json
import random
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import pytest
import torch
import yaml
from safetensors import safe_open
from safetensors.torch import load_file

EPOCHS = 4
ARGS = ["train", "--dataset", "digits", "--model", "resnet8", "--epochs", str(EPOCHS), "--train-fraction", "0.3",
        "--seed", "0", "--name", "run", "--progress", "lines", "--log-every", "1", "--keep-checkpoints", "2",
        "--no-cache", "--device", "cpu", "--set", "output.tensorboard=false"]
TIMING_KEYS = ("time_s", "images_per_s")  # the only fields of an epoch record that may differ
STEP = re.compile(r"^\[train\] epoch (\d+)/\d+ step (\d+)/(\d+) ")
PNG_END = b"IEND\xaeB`\x82"
LOCK = ".lock"  # held by the running process; the kernel drops the lock when it dies


@dataclass
class Kill:
    """When to kill an attempt: after a progress line (``on_line``), when the run
    directory shows something (``on_poll``), or ``delay`` seconds after the first line."""

    what: str
    on_line: Optional[Callable[[str], bool]] = None
    on_poll: Optional[Callable[[Path, set], bool]] = None
    delay: Optional[float] = None


@dataclass
class Attempt:
    returncode: int
    stderr: str
    seconds: float
    first_line_s: Optional[float] = None
    resumed: bool = False
    kill: Optional[str] = None
    left: list = field(default_factory=list)  # temporary files a kill left (removed by the next attempt)

    @property
    def killed(self) -> bool:
        return self.returncode == -signal.SIGKILL


def after_step(epoch: int, step: int) -> Kill:
    """During the next step of ``epoch`` (its line is printed when step ``step`` ends)."""
    def hit(line):
        m = STEP.match(line)
        return bool(m) and (int(m[1]), int(m[2])) == (epoch, step)
    return Kill(f"training step {step + 1} of epoch {epoch}", on_line=hit)


def during_evaluation(epoch: int) -> Kill:
    """Right after the last step of ``epoch``: its evaluation comes next."""
    def hit(line):
        m = STEP.match(line)
        return bool(m) and int(m[1]) == epoch and m[2] == m[3]
    return Kill(f"evaluation after epoch {epoch}", on_line=hit)


def during_checkpoint(epoch: int) -> Kill:
    """While the checkpoint of ``epoch`` is written: as soon as the epoch's record is in
    ``metrics.jsonl`` (the checkpoint comes next) or its temporary folder shows, at the
    latest just after it is renamed into place (the ``latest`` file and pruning follow)."""
    tag = f"s00-e{epoch:04d}"
    seen_fewer = []  # a resumed run first cuts metrics.jsonl back to its checkpoint's records

    def hit(run_dir, before):
        try:
            lines = (run_dir / "metrics.jsonl").read_text().count("\n")
            names = {p.name for p in (run_dir / "checkpoints").iterdir()}
        except FileNotFoundError:
            return False
        if lines < epoch:
            seen_fewer.append(True)
        return ((lines == epoch and bool(seen_fewer)) or any(n.startswith(f".tmp-{tag}-") for n in names)
                or (tag in names and tag not in before))
    return Kill(f"checkpoint {tag} being written", on_poll=hit)


def during_export() -> Kill:
    """While ``model.safetensors`` is written, or just after (summary and plots follow)."""
    def hit(run_dir, before):
        return (run_dir / ".model.safetensors.tmp").exists() or (
            "model.safetensors" not in before and (run_dir / "model.safetensors").exists())
    return Kill("export of model.safetensors, summary, plots", on_poll=hit)


def during_plots() -> Kill:
    """Once ``summary.json`` is written: the plots come after it."""
    def hit(run_dir, before):
        return "summary.json" not in before and (run_dir / "summary.json").exists()
    return Kill("plots (after summary.json)", on_poll=hit)


def at_random(rng: random.Random, span: float) -> Kill:
    delay = rng.uniform(0.0, span)
    return Kill(f"random, {delay:.2f} s after the first progress line", delay=delay)


def attempt(run_dir: Path, kill: Optional[Kill] = None, timeout: float = 240.0) -> Attempt:
    """Start (or resume, once ``config.yaml`` exists) the run and kill it as ``kill`` says."""
    resumed = (run_dir / "config.yaml").is_file()
    if resumed:
        cmd = ["train", "--resume", str(run_dir)]
    else:  # never started, or killed before writing anything
        assert not run_dir.exists() or {p.name for p in run_dir.iterdir()} <= {LOCK}, sorted(run_dir.iterdir())
        cmd = [*ARGS, "--out-dir", str(run_dir.parent)]
    before = set(p.name for p in run_dir.iterdir()) if run_dir.is_dir() else set()
    if (run_dir / "checkpoints").is_dir():
        before |= {p.name for p in (run_dir / "checkpoints").iterdir()}
    start = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "sskd.cli", *cmd], cwd=run_dir.parent, text=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    lines, first_line = [], []
    fired = threading.Event()

    def fire():
        if not fired.is_set():
            fired.set()
            proc.send_signal(signal.SIGKILL)

    def read():
        for line in proc.stderr:
            if not first_line:
                first_line.append(time.monotonic())
            lines.append(line)
            if kill is not None and kill.on_line is not None and kill.on_line(line):
                fire()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    while proc.poll() is None:
        now = time.monotonic()
        if now - start > timeout:
            proc.kill()
            pytest.fail(f"sskd train ran past {timeout} s:\n{''.join(lines)[-3000:]}")
        if kill is not None and not fired.is_set():
            if kill.on_poll is not None and kill.on_poll(run_dir, before):
                fire()
            elif kill.delay is not None and first_line and now - first_line[0] >= kill.delay:
                fire()
        time.sleep(0.001 if kill is not None and kill.on_poll is not None else 0.005)
    reader.join(timeout=30)
    result = Attempt(proc.returncode, "".join(lines), time.monotonic() - start,
                     first_line[0] - start if first_line else None, resumed, kill.what if kill else None)
    assert result.returncode == 0 or (fired.is_set() and result.killed), \
        f"sskd train {' '.join(cmd)} failed ({result.returncode}):\n{result.stderr[-3000:]}"
    return result


# ---- what a run directory must hold ---------------------------------------------------

def files(run_dir: Path) -> list[str]:
    return sorted(str(p.relative_to(run_dir)) for p in run_dir.rglob("*") if p.is_file())


def temporaries(run_dir: Path) -> list[str]:
    """Temporary files and folders (outermost only) of unfinished writes in ``run_dir``."""
    found = sorted(str(p.relative_to(run_dir)) for p in run_dir.rglob("*") if is_temporary(p.name))
    return [n for n in found if not is_temporary(str(Path(n).parent))]


def is_temporary(relpath: str) -> bool:
    """A file of an unfinished write: ``.<name>…tmp`` or inside a ``.tmp-…`` folder."""
    return any(p.startswith(".tmp-") or (p.startswith(".") and p.endswith(".tmp")) for p in Path(relpath).parts)


def has_finished(run_dir: Path) -> bool:
    """What ``sskd train --resume`` takes for a finished run (it refuses to resume one)."""
    return (run_dir / "summary.json").is_file() and (run_dir / "model.safetensors").is_file()


def read_checkpoint(folder: Path) -> tuple[dict, dict]:
    return load_file(str(folder / "weights.safetensors")), torch.load(folder / "state.pt", weights_only=True)


def check_complete(run_dir: Path, finished: bool) -> None:
    """Every file of ``run_dir`` parses; temporary files are allowed only between a kill
    and the next attempt, which must remove them."""
    names = files(run_dir)
    assert not (finished and temporaries(run_dir)), f"temporary files left behind: {temporaries(run_dir)}"
    known = {LOCK, "config.yaml", "metrics.jsonl", "summary.json", "model.safetensors", "checkpoints/latest",
             "plots/loss.png", "plots/accuracy.png"}
    for name in names:
        path = run_dir / name
        if is_temporary(name):
            continue
        if name in ("config.yaml", "checkpoints/config.yaml"):
            assert yaml.safe_load(path.read_text())["stages"][0]["epochs"] == EPOCHS
        elif name == "metrics.jsonl":
            text = path.read_text()
            assert text == "" or text.endswith("\n"), f"half a line in metrics.jsonl: {text[-200:]!r}"
            for i, line in enumerate(text.splitlines(), 1):
                assert json.loads(line)["epoch"] == i, line
        elif name == "summary.json":
            assert json.loads(path.read_text())["stages"]["train"]["epochs"] == EPOCHS
        elif name == "model.safetensors":
            assert load_file(str(path))
        elif name == "checkpoints/latest":
            tag = path.read_text().strip()
            assert (run_dir / "checkpoints" / tag / "weights.safetensors").is_file(), tag
        elif name.endswith("/weights.safetensors") or name.endswith("/state.pt"):
            folder = path.parent
            assert re.fullmatch(r"checkpoints/s00-e\d{4}", str(folder.relative_to(run_dir))), name
            weights, state = read_checkpoint(folder)
            assert weights and state["epoch"] == int(folder.name[-4:]), name
        elif name.endswith(".png"):
            data = path.read_bytes()
            assert data.startswith(b"\x89PNG\r\n\x1a\n") and data.endswith(PNG_END), f"{name} is cut short"
        else:
            assert name in known, f"unexpected file {name}"


def assert_bitwise_equal(a: dict, b: dict, what: str) -> None:
    assert a.keys() == b.keys(), what
    for key in a:
        x, y = a[key], b[key]
        if isinstance(x, dict):
            assert_bitwise_equal(x, y, f"{what}[{key!r}]")
        elif isinstance(x, torch.Tensor):
            assert x.dtype == y.dtype and x.shape == y.shape, f"{what}[{key!r}]"
            assert x.contiguous().view(-1).view(torch.uint8).equal(y.contiguous().view(-1).view(torch.uint8)), \
                f"{what}[{key!r}] differs"
        elif isinstance(x, list):
            assert len(x) == len(y), f"{what}[{key!r}]"
            assert_bitwise_equal(dict(enumerate(x)), dict(enumerate(y)), f"{what}[{key!r}]")
        else:
            assert x == y, f"{what}[{key!r}]: {x!r} != {y!r}"


def assert_same_run(ref: Path, run: Path) -> None:
    """``run`` ended as ``ref`` did: weights, last checkpoints, records, summary, config."""
    check_complete(run, finished=True)
    ref_files = [n for n in files(ref) if not n.startswith("checkpoints/s")]
    assert [n for n in files(run) if not n.startswith("checkpoints/s")] == ref_files
    assert_bitwise_equal(load_file(str(ref / "model.safetensors")), load_file(str(run / "model.safetensors")),
                         "model.safetensors")
    with safe_open(str(ref / "model.safetensors"), "pt") as a, safe_open(str(run / "model.safetensors"), "pt") as b:
        assert a.metadata() == b.metadata()
    assert (run / "checkpoints/latest").read_text() == (ref / "checkpoints/latest").read_text()
    for folder in sorted((ref / "checkpoints").glob("s*")):  # the kept ones; a kill in pruning may keep one more
        ours = read_checkpoint(run / "checkpoints" / folder.name)
        for part, a, b in zip(("weights", "state"), read_checkpoint(folder), ours):
            assert_bitwise_equal(a, b, f"checkpoints/{folder.name} {part}")

    def records(path):
        return [{k: v for k, v in json.loads(line).items() if k not in TIMING_KEYS}
                for line in (path / "metrics.jsonl").read_text().splitlines()]
    assert records(run) == records(ref)

    def summary(path):
        s = json.loads((path / "summary.json").read_text())
        return {k: v for k, v in s.items() if k not in ("run_dir", "wall_time_s")}
    assert summary(run) == summary(ref)

    def config(path):
        c = yaml.safe_load((path / "config.yaml").read_text())
        c["output"].pop("dir")
        return c
    assert config(run) == config(ref)


def kill_and_resume(tmp_path: Path, plan: Callable[[random.Random, float], list], max_rounds: int) -> list:
    """Run the config once uninterrupted, then again with the kills ``plan`` gives
    (from a seeded generator and the span of the first run after its first progress
    line), resuming after each until the run ends; returns the attempts."""
    ref = tmp_path / "whole" / "run"
    ref.parent.mkdir()
    whole = attempt(ref)
    assert whole.first_line_s is not None
    span = whole.seconds - whole.first_line_s
    check_complete(ref, finished=True)

    run = tmp_path / "killed" / "run"
    run.parent.mkdir()
    attempts = []
    for kill in plan(random.Random(0), span):
        attempts.append(attempt(run, kill))
        check_complete(run, finished=False)
        attempts[-1].left = temporaries(run)
        if not attempts[-1].killed or has_finished(run):
            break
    while not attempts or (attempts[-1].killed and not has_finished(run)):
        assert len(attempts) < max_rounds, [a.kill for a in attempts]
        attempts.append(attempt(run))
    assert attempts[-1].resumed or has_finished(run)
    report = "\n".join(f"  {a.kill or 'to the end'}: {'killed' if a.killed else 'finished'} after {a.seconds:.1f} s"
                       + (f", leaving {', '.join(a.left)}" if a.left else "") for a in attempts)
    print(f"uninterrupted: {whole.seconds:.1f} s\n{report}")
    assert_same_run(ref, run)
    return attempts


def test_kills_at_a_step_an_evaluation_a_checkpoint_write_and_the_export(tmp_path):
    attempts = kill_and_resume(tmp_path, lambda rng, span: [
        after_step(1, rng.randint(1, 5)),
        during_evaluation(2),
        during_checkpoint(3),
        during_export(),
    ], max_rounds=6)
    assert sum(a.killed for a in attempts) == 4


@pytest.mark.slow
def test_kills_at_random_moments_and_at_every_kind_of_write(tmp_path):
    def plan(rng, span):
        kills = [at_random(rng, span / 3) for _ in range(3)]
        kills += [after_step(2, rng.randint(1, 6)), during_evaluation(2), during_checkpoint(3),
                  at_random(rng, span / 3), during_checkpoint(4)]
        return kills + [during_export()]
    attempts = kill_and_resume(tmp_path, plan, max_rounds=12)
    assert sum(a.killed for a in attempts) >= 6


@pytest.mark.slow
def test_kill_while_the_plots_are_drawn(tmp_path):
    kill_and_resume(tmp_path, lambda rng, span: [during_plots()], max_rounds=3)
