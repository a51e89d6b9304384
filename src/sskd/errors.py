"""What the ``sskd`` command reports as a user error: one line, exit status 2.

A bad input — a file, key, value, model or device — raises a :class:`UserError` (the
library's own errors: :class:`sskd.config.ConfigError`,
:class:`sskd.engine.checkpoint.CheckpointError`, :class:`sskd.data.dataset.DatasetFormatError`,
...), another ``ValueError`` (from a library it uses) or an ``OSError`` naming a file
(missing, unreadable, a folder where a file is expected). The command prints
``sskd <verb>: error: <message>`` on one line and exits with 2; the traceback is shown
only with ``sskd --debug`` or ``SSKD_DEBUG=1``. Anything else is a bug, and keeps its
traceback.
"""

from __future__ import annotations

import os
from typing import Optional

EXIT_USER_ERROR = 2
DEBUG_ENV = "SSKD_DEBUG"
FILE_ERRORS = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError, FileExistsError)


class UserError(ValueError):
    """A bad input to sskd; the base of every error the library raises about one
    (``ConfigError``, ``CheckpointError``, ``DatasetFormatError``, ``ExportError``,
    ``RunDirectoryError``, ``NonFiniteLossError``, ...)."""


def user_message(exc: BaseException) -> Optional[str]:
    """The one-line message of a user error, or ``None`` when ``exc`` is not one."""
    if isinstance(exc, FILE_ERRORS) and exc.filename is not None:
        text = f"{exc.filename}: {(exc.strerror or type(exc).__name__).lower()}"
    elif isinstance(exc, (ValueError, FileNotFoundError)):
        text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    else:
        return None
    return " ".join(text.split()) or type(exc).__name__


def debug_enabled(flag: bool = False) -> bool:
    return flag or os.environ.get(DEBUG_ENV, "") not in ("", "0")
