"""Losses computed in float32 under mixed precision: the relational losses of the CRD benchmark
(Gram matrices, distances by ‖x_i‖² + ‖x_j‖² − 2 x_i·x_j, log-ratios) lose their meaning in
bfloat16 or float16, and their inputs are small (embeddings, a few maps)."""

from __future__ import annotations

import contextlib
import functools

import torch
from torch import Tensor

_HALF = (torch.float16, torch.bfloat16)


def _upcast(value):
    if isinstance(value, Tensor):
        return value.float() if value.dtype in _HALF else value
    if isinstance(value, (list, tuple)):
        return type(value)(_upcast(v) for v in value)
    return value


def _first_tensor(values) -> Tensor | None:
    for value in values:
        if isinstance(value, Tensor):
            return value
        if isinstance(value, (list, tuple)):
            found = _first_tensor(value)
            if found is not None:
                return found
    return None


def _autocast_off(tensor: Tensor | None):
    device = tensor.device.type if tensor is not None else None
    if device in ("cuda", "cpu") and torch.is_autocast_enabled(device):
        return torch.autocast(device, enabled=False)
    return contextlib.nullcontext()


def in_float32(loss):
    """Run ``loss`` with autocast off and its half-precision tensor arguments (also inside
    lists and tuples) cast to float32; float32 and float64 arguments are passed as they are."""

    @functools.wraps(loss)
    def wrapper(*args, **kwargs):
        with _autocast_off(_first_tensor(args)):
            return loss(*_upcast(args), **{k: _upcast(v) for k, v in kwargs.items()})

    return wrapper
