"""One process at a time in a run directory: an exclusive ``flock`` on ``<run>/.lock``,
held from the run's first write to its end. The kernel drops it when the process dies, even
by SIGKILL, so a killed run can be resumed at once. The file holds the owner's pid while
locked (for the message of a refused second process) and is empty otherwise."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Optional

from sskd.errors import UserError

LOCK_NAME = ".lock"


class RunDirectoryError(UserError):
    """The run directory cannot be used as asked."""


def _in_use(run_dir: Path, fd: int) -> str:
    try:
        pid = os.pread(fd, 32, 0).decode(errors="replace").strip()
    except OSError:
        pid = ""
    return (f"run directory {run_dir} is in use by another process (pid {pid or 'unknown'}); "
            f"wait for it to end or stop it, then --resume {run_dir}")


class RunLock:
    def __init__(self, run_dir: Path, fd: int):
        self.run_dir, self._fd = run_dir, fd

    @classmethod
    def acquire(cls, run_dir: str | Path) -> "RunLock":
        """Lock ``run_dir`` (created if missing); :class:`RunDirectoryError` if another process holds it."""
        run_dir = Path(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(run_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            message = _in_use(run_dir, fd)
            os.close(fd)
            raise RunDirectoryError(message) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return cls(run_dir, fd)

    @staticmethod
    def holder(run_dir: str | Path) -> Optional[str]:
        """The refusal message if another process holds ``run_dir``'s lock, else None;
        creates nothing."""
        run_dir = Path(run_dir)
        try:
            fd = os.open(run_dir / LOCK_NAME, os.O_RDONLY)
        except OSError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            return None
        except BlockingIOError:
            return _in_use(run_dir, fd)
        finally:
            os.close(fd)  # also drops the shared lock taken to test

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            os.ftruncate(self._fd, 0)
        finally:
            os.close(self._fd)
            self._fd = None
