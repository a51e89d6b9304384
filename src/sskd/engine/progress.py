"""Progress on long loops: a tqdm bar on a terminal, plain log lines otherwise (CI logs)."""

from __future__ import annotations

import sys
from typing import Optional


class Progress:
    """Reports steps of one epoch. ``mode``: ``auto`` (bar on a TTY, else lines), ``bar``,
    ``lines`` or ``none``. Lines are printed every ``every`` steps and at the last one."""

    def __init__(self, mode: str, enabled: bool = True, every: int = 20, stream=None):
        self.stream = stream or sys.stderr
        if mode == "auto":
            mode = "bar" if self.stream.isatty() else "lines"
        self.enabled = enabled
        self.mode = mode if enabled else "none"
        self.every = every
        self._bar = None
        self._label = ""
        self._total = 0

    def start(self, label: str, total: int) -> None:
        self._label, self._total = label, total
        if self.mode == "bar":
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=label, file=self.stream, leave=False, dynamic_ncols=True)

    def wants(self, step: int) -> bool:
        """Whether :meth:`step` will show step ``step`` (so the caller may skip a host sync)."""
        return self.mode != "none" and (step % self.every == 0 or step == self._total)

    def step(self, step: int, info: Optional[dict[str, float]] = None) -> None:
        text = " ".join(f"{k} {v:.4g}" for k, v in (info or {}).items())
        if self.mode == "bar" and self._bar is not None:
            self._bar.n = step
            self._bar.set_postfix_str(text, refresh=True)
        elif self.mode == "lines":
            print(f"{self._label} step {step}/{self._total} {text}", file=self.stream, flush=True)

    def end(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def message(self, text: str) -> None:
        """An epoch summary or notice (printed by the main process only)."""
        if not self.enabled:
            return
        if self.mode == "bar" and self._bar is not None:
            self._bar.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)
