"""The one error type of ``sskd export``."""

from __future__ import annotations

from sskd.errors import UserError


class ExportError(UserError):
    """A run that cannot be exported as asked; the message names the path and what was expected."""
