"""The fuzz suite's tools: the CLI run in a separate process (the ``cli`` fixture of
conftest.py), a fingerprint of every file a refused command must leave alone, and the
check of a refusal."""

import hashlib
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

SERVER = Path(__file__).with_name("cli_server.py")


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


class CLI:
    """``run(argv, cwd)``: ``sskd *argv`` in its own process (see cli_server.py)."""

    def __init__(self):
        self.server = subprocess.Popen([sys.executable, str(SERVER)], stdin=subprocess.PIPE,
                                       stdout=subprocess.PIPE, text=True, bufsize=1)

    def run(self, argv: list[str], cwd: Path, env: dict | None = None) -> Result:
        self.server.stdin.write(json.dumps({"argv": [str(a) for a in argv], "cwd": str(cwd),
                                            "env": env or {}}) + "\n")
        self.server.stdin.flush()
        return Result(**json.loads(self.server.stdout.readline()))

    def close(self):
        self.server.stdin.close()
        self.server.wait(timeout=30)


def fingerprint(*roots: Path) -> dict[str, str]:
    """SHA-256 of every file under ``roots`` (files themselves allowed)."""
    files = [p for root in roots for p in ([root] if root.is_file() else sorted(root.rglob("*"))) if p.is_file()]
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def assert_refused(result: Result, verb: str, *names: str) -> str:
    """Exit 2, one line ``sskd <verb>: error: …`` naming every one of ``names``, no traceback,
    no advice to load with ``weights_only=False``; returns the line."""
    everything = result.stdout + result.stderr
    assert "Traceback" not in everything, everything
    assert "weights_only=False" not in everything, everything
    assert result.returncode == 2, everything
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, everything
    assert lines[0].startswith(f"sskd {verb}: error: "), lines[0]
    for name in names:
        assert str(name) in lines[0], (name, lines[0])
    return lines[0]


def resume(run) -> list[str]:
    """``sskd train --resume RUN``'s arguments."""
    return ["train", "--resume", str(run)]


class CaseTable(dict):
    """A table of named fuzz cases, filled by using it as a decorator."""

    def __call__(self, fn):
        self[fn.__name__] = fn
        return fn
