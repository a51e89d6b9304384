"""Where an export is written: the default path, the refusal to overwrite, an atomic replace."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

from sskd.export.errors import ExportError


def output_path(run_dir: Path, file_name: str, out: Optional[str | Path], force: bool) -> Path:
    """``out``, or ``run_dir/export/<file_name>``; refused if it exists, unless ``force``."""
    path = Path(out) if out is not None else run_dir / "export" / file_name
    if path.is_dir():
        raise ExportError(f"--out {path} is a directory; expected the path of the file to write")
    if path.exists() and not force:
        raise ExportError(f"{path} exists already; pass --force to replace it")
    return path


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """Yields a temporary path next to ``path``; moved onto ``path`` if the block succeeds,
    removed if it raises (a failed check leaves no file behind)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{path.name}")  # same suffix: readers go by it
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
