"""Inputs shared by the view-maker tests: CIFAR-100 constants, random uint8 images, labels,
seeded generators, on CPU and (when there is one) CUDA."""

import pytest
import torch

from sskd.data.augment import normalize

MEAN = (0.5071, 0.4865, 0.4409)
STD = (0.2673, 0.2564, 0.2762)
DEVICES = [
    "cpu",
    pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(),
                                                  reason="CUDA not available")),
]


def _images(n, size=32, seed=0, device="cpu", width=None):
    g = torch.Generator().manual_seed(seed)
    shape = (n, 3, size, size if width is None else width)
    return torch.randint(0, 256, shape, generator=g, dtype=torch.uint8).to(device)


def _labels(n, device="cpu"):
    return (torch.arange(n) % 10).to(device)


def _gen(seed, device="cpu"):
    return torch.Generator(device=device).manual_seed(seed)


def _norm(x):
    return normalize(x, MEAN, STD)
