"""Runs ``sskd`` command lines for the fuzz tests, each in its own forked process.

Started once per test session as ``python cli_server.py``; it imports the CLI (torch and
all) once and runs no tensor operation, so that forking is safe. For each JSON request
line on stdin ``{"argv": [...], "cwd": DIR, "env": {...}}`` it forks a child that behaves as
the ``sskd`` console script does — ``sys.exit(main(argv))``, an uncaught exception printed
as a traceback with exit status 1 — with its stdout and stderr in files, and answers one
JSON line ``{"returncode", "stdout", "stderr"}``. A child is a real process: it exits,
writes files and can be killed like ``sskd`` itself, without paying the 3-4 s import.
"""

import json
import os
import sys
import tempfile
import traceback

from sskd.cli import main


def run_in_child(argv: list[str], cwd: str, env: dict[str, str]) -> dict:
    out, err = (tempfile.TemporaryFile(mode="w+") for _ in range(2))
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.chdir(cwd)
            os.environ.update(env)
            os.dup2(out.fileno(), 1)
            os.dup2(err.fileno(), 2)
            sys.stdout = os.fdopen(1, "w", buffering=1)
            sys.stderr = os.fdopen(2, "w", buffering=1)
            code = main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:
            traceback.print_exc()
            code = 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    out.seek(0)
    err.seek(0)
    return {"returncode": os.waitstatus_to_exitcode(status), "stdout": out.read(), "stderr": err.read()}


if __name__ == "__main__":
    for line in sys.stdin:
        request = json.loads(line)
        answer = run_in_child(request["argv"], request["cwd"], request.get("env", {}))
        sys.__stdout__.write(json.dumps(answer) + "\n")
        sys.__stdout__.flush()
