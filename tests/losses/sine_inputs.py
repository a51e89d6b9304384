"""The RNG-free inputs of BASELINES.md §7: ``S(shape, a, b)`` = sin(a·k + b) for k = 0 … numel−1,
evaluated in float64, cast to float32 (unless ``dtype`` says otherwise), reshaped row-major."""

import math

import torch


def S(shape, a, b, dtype=torch.float32):
    numel = math.prod(shape)
    k = torch.arange(numel, dtype=torch.float64)
    return torch.sin(a * k + b).to(dtype).reshape(shape)
