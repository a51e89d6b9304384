"""Adapters that map a student feature map onto a teacher's shape (BASELINES.md §3, FitNet's
ConvReg and AB's connector)."""

from __future__ import annotations

from torch import Tensor, nn


def shape_conv(s_shape: tuple[int, int, int], t_shape: tuple[int, int, int]) -> nn.Module:
    """The convolution ``[C_s, H_s, W_s] → [C_t, H_t, W_t]`` of the benchmark's ConvReg:

    * ``H_s = 2·H_t``: 3×3, stride 2, padding 1;
    * ``2·H_s = H_t``: transposed 4×4, stride 2, padding 1;
    * ``H_s ≥ H_t``: kernel ``(1 + H_s − H_t, 1 + W_s − W_t)`` (1×1 for equal sizes).

    Any other pair of sizes raises ``ValueError`` naming both shapes.
    """
    (c_s, h_s, w_s), (c_t, h_t, w_t) = s_shape, t_shape
    if h_s == 2 * h_t:
        return nn.Conv2d(c_s, c_t, kernel_size=3, stride=2, padding=1)
    if 2 * h_s == h_t:
        return nn.ConvTranspose2d(c_s, c_t, kernel_size=4, stride=2, padding=1)
    if h_s >= h_t and w_s >= w_t:
        return nn.Conv2d(c_s, c_t, kernel_size=(1 + h_s - h_t, 1 + w_s - w_t))
    raise ValueError(f"no ConvReg maps a student map {c_s}x{h_s}x{w_s} onto a teacher map {c_t}x{h_t}x{w_t} "
                     f"(the student's side must be the teacher's, twice it, half it, or larger)")


class ConvReg(nn.Sequential):
    """FitNet's regressor (Romero et al., ICLR 2015, as the CRD benchmark codes it):
    :func:`shape_conv` → BatchNorm(C_t) → ReLU; with ``relu=False`` AB's connector
    (Heo et al., AAAI 2019). ``[B, C_s, H_s, W_s] → [B, C_t, H_t, W_t]``."""

    def __init__(self, s_shape: tuple[int, int, int], t_shape: tuple[int, int, int], relu: bool = True):
        layers = [shape_conv(s_shape, t_shape), nn.BatchNorm2d(t_shape[0])]
        if relu:
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


def feature_shape(x: Tensor) -> tuple[int, int, int]:
    """``[B, C, H, W]`` → ``(C, H, W)``."""
    return tuple(x.shape[1:])
