"""Forward passes of frozen networks (a teacher, its pretext head, its HSSAKD branches).

A frozen network never needs an autograd record, so it runs under ``torch.inference_mode``;
its outputs are then copied into ordinary tensors, which the losses may save for the
student's backward pass (inference tensors may not be). Being in eval mode, it may also
run in chunks of rows with the same result as one pass: on a CPU, a pass over 4 views of a
64-image batch (256 rows) runs about 1.3× faster as four passes of 64 rows, whose
activations stay in the cache (``speed.frozen_rows``).
"""

from __future__ import annotations

from typing import Any, Callable, Optional, TypeVar

import torch
from torch import Tensor

Output = TypeVar("Output")

#: Rows per frozen pass on a CPU when ``speed.frozen_rows`` is unset (``None``).
CPU_FROZEN_ROWS = 64


def resolve_frozen_rows(rows: Optional[int], device: torch.device) -> int:
    """Rows per pass for ``speed.frozen_rows``: as given (0: the whole batch), else
    :data:`CPU_FROZEN_ROWS` on a CPU and the whole batch on an accelerator."""
    if rows is not None:
        return rows
    return CPU_FROZEN_ROWS if device.type == "cpu" else 0


def frozen_forward(fn: Callable[[Tensor], Output], x: Tensor, rows: Optional[int] = None) -> Output:
    """``fn(x)`` for a frozen ``fn`` (no parameter of it is trained by this step).

    Args:
        fn: maps ``[N, ...]`` to a tensor, a ``ModelOutput`` or any tuple/list of those
            (``None`` entries allowed) whose tensors all have ``N`` rows.
        x: ``[N, ...]``.
        rows: rows per pass (:func:`resolve_frozen_rows`; 0 or ``>= N``: one pass).

    Returns ``fn(x)`` as ordinary tensors (not inference tensors), rows in input order.
    """
    step = resolve_frozen_rows(rows, x.device) or x.shape[0]
    # Inside torch.compile, no_grad: the graph then holds the frozen pass too.
    mode = torch.no_grad() if torch.compiler.is_compiling() else torch.inference_mode()
    with mode:
        parts = [fn(x[start:start + step]) for start in range(0, x.shape[0], step)]
    return _concat(parts)


def _concat(parts: list[Any]) -> Any:
    """Join the outputs of the chunks row-wise (one chunk: copied out of inference mode)."""
    first = parts[0]
    if first is None:
        return None
    if isinstance(first, Tensor):
        return torch.cat(parts) if len(parts) > 1 else first.clone()
    if isinstance(first, (list, tuple)):
        joined = [_concat(list(column)) for column in zip(*parts)]
        if hasattr(first, "_fields"):  # a NamedTuple such as ModelOutput
            return type(first)(*joined)
        return type(first)(joined)
    raise TypeError(f"frozen_forward: cannot join outputs of type {type(first).__name__}")
