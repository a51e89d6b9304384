"""Restricted unpickling for the CIFAR python pickles.

A pickle can name any importable callable and have it called while loading. The CIFAR
files only need numpy array reconstruction (``_reconstruct``, or ``_frombuffer`` in files
re-saved with pickle protocol 5, under either ``numpy.core`` or numpy 2's ``numpy._core``)
and ``_codecs.encode``, which Python 3 uses for ``bytes`` in protocol-2 pickles; every
other global is refused before it is looked up, let alone called.
"""

from __future__ import annotations

import codecs
import io
import os
import pickle

import numpy as np

from sskd.data.dataset import DatasetFormatError

try:
    from numpy._core import multiarray as _multiarray
    from numpy._core import numeric as _numeric
except ImportError:  # numpy < 2 keeps these in numpy.core
    from numpy.core import multiarray as _multiarray
    from numpy.core import numeric as _numeric

__all__ = ["UnsafePickleError", "safe_load_pickle", "ALLOWED_GLOBALS"]

_LATIN1_NAMES = frozenset({"latin1", "latin-1", "iso-8859-1", "iso8859-1", "l1"})


class UnsafePickleError(DatasetFormatError):
    """A pickle asked for a global outside the allowed set; nothing it named was called."""


def _latin1_encode(obj, encoding="utf-8", errors="strict"):
    """``_codecs.encode`` limited to latin-1, the only codec protocol-2 ``bytes`` pickles use."""
    if not isinstance(obj, str) or str(encoding).lower() not in _LATIN1_NAMES:
        raise UnsafePickleError(
            f"pickle called _codecs.encode with encoding {encoding!r}; only latin-1 on a str is allowed"
        )
    return codecs.encode(obj, "latin1", errors)


ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _multiarray._reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _multiarray._reconstruct,
    ("numpy.core.multiarray", "scalar"): _multiarray.scalar,
    ("numpy._core.multiarray", "scalar"): _multiarray.scalar,
    # protocol >= 5 pickles of contiguous arrays; frombuffer refuses object dtypes
    ("numpy.core.numeric", "_frombuffer"): _numeric._frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _numeric._frombuffer,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _latin1_encode,
}


def _allowed_text() -> str:
    return ", ".join(f"{m}.{n}" for m, n in ALLOWED_GLOBALS)


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file, name_for_errors: str):
        super().__init__(file, encoding="bytes")
        self._name_for_errors = name_for_errors

    def find_class(self, module: str, name: str):
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"refused to load {self._name_for_errors!r}: it references the global "
                f"{module}.{name}, which is not allowed (allowed: {_allowed_text()})"
            ) from None


def safe_load_pickle(path_or_fileobj, *, name_for_errors: str | None = None) -> object:
    """Unpickle a CIFAR-style pickle (``encoding="bytes"``: Python-2 strings come back as ``bytes``).

    ``path_or_fileobj`` is a path or a binary file object. Raises ``UnsafePickleError`` for
    any global outside ``ALLOWED_GLOBALS`` and ``DatasetFormatError`` for a corrupt or
    truncated pickle; both messages name the file (``name_for_errors`` if given).
    """
    if isinstance(path_or_fileobj, (str, os.PathLike)):
        name = name_for_errors or os.fspath(path_or_fileobj)
        with open(path_or_fileobj, "rb") as f:
            return _load(f, name)
    name = name_for_errors or str(getattr(path_or_fileobj, "name", "<file object>"))
    return _load(path_or_fileobj, name)


def _load(file: io.BufferedIOBase, name: str) -> object:
    try:
        return _RestrictedUnpickler(file, name).load()
    except UnsafePickleError as exc:
        if name in str(exc):
            raise
        raise UnsafePickleError(f"refused to load {name!r}: {exc}") from None
    except Exception as exc:
        raise DatasetFormatError(
            f"cannot unpickle {name!r}: not a complete pickle file ({type(exc).__name__}: {exc})"
        ) from exc
