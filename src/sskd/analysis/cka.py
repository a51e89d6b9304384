"""Linear CKA (Kornblith et al., "Similarity of Neural Network Representations Revisited",
ICML 2019), the representation similarity of SSKD Table 6 (BASELINES.md §6).

For ``x`` [n, p1] and ``y`` [n, p2], two representations of the same n inputs, with
column-centred X̃ and Ỹ:

    CKA = ‖ỸᵀX̃‖²_F / (‖X̃ᵀX̃‖_F · ‖ỸᵀỸ‖_F)

which equals HSIC(K, L) / √(HSIC(K, K) · HSIC(L, L)) for K = XXᵀ, L = YYᵀ and the biased
estimator HSIC(K, L) = tr(KHLH) / (n − 1)², H = I − 11ᵀ/n. Everything runs in float64,
over the whole set: :class:`LinearCKAAccumulator` gives the same value batch by batch.
"""

from __future__ import annotations

import torch
from torch import Tensor

# A centred Gram matrix this much smaller than the uncentred one is rounding noise of a constant.
FLAT_RATIO = 1e-12


def _check_pair(x: Tensor, y: Tensor) -> None:
    if x.ndim != 2 or y.ndim != 2:
        raise ValueError(f"linear CKA needs 2-D representations [n, p]; got shapes "
                         f"{tuple(x.shape)} and {tuple(y.shape)}")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"linear CKA needs both representations of the same inputs; got "
                         f"{x.shape[0]} rows in x and {y.shape[0]} rows in y")


def _check_rows(n: int) -> None:
    if n < 2:
        raise ValueError(f"linear CKA needs at least 2 rows; got {n}")


def _cka_of_grams(xx: Tensor, yy: Tensor, yx: Tensor, raw_xx: Tensor, raw_yy: Tensor) -> float:
    """CKA from the centred Gram matrices X̃ᵀX̃, ỸᵀỸ, ỸᵀX̃ (``raw_*``: the uncentred ones)."""
    norm_xx = torch.linalg.matrix_norm(xx)
    norm_yy = torch.linalg.matrix_norm(yy)
    for name, centred, raw in (("x", norm_xx, raw_xx), ("y", norm_yy, raw_yy)):
        if centred <= FLAT_RATIO * torch.linalg.matrix_norm(raw):
            raise ValueError(f"linear CKA is undefined: representation {name} has zero variance "
                             f"(every row is the same)")
    value = float(yx.square().sum() / (norm_xx * norm_yy))
    return min(value, 1.0)  # rounding can overshoot 1 by an ulp


def linear_cka(x: Tensor, y: Tensor) -> float:
    """Linear CKA of ``x`` [n, p1] and ``y`` [n, p2] (rows: the same n inputs; p1 ≠ p2 is
    allowed), in [0, 1]. Refuses other shapes, n < 2 and a constant representation."""
    x, y = torch.as_tensor(x), torch.as_tensor(y)
    _check_pair(x, y)
    _check_rows(x.shape[0])
    x, y = x.detach().double(), y.detach().double()
    xc, yc = x - x.mean(0), y - y.mean(0)
    return _cka_of_grams(xc.T @ xc, yc.T @ yc, yc.T @ xc, x.T @ x, y.T @ y)


class LinearCKAAccumulator:
    """Linear CKA of two representations fed batch by batch: ``update(x, y)`` with
    ``x`` [b, p1], ``y`` [b, p2] (the same b inputs), then ``value()``.

    Exact, not a minibatch average: it keeps the float64 column sums and the Gram
    matrices XᵀX, YᵀY, YᵀX of the whole set and centres them at the end
    (C = M − n·μμᵀ), so ``value()`` equals :func:`linear_cka` of all rows at once.
    Memory is O(p1² + p2² + p1·p2), independent of the number of rows n, so 50k+ rows
    are fine. Rows are shifted by the first batch's means before accumulating, which
    leaves C unchanged and keeps the subtraction from cancelling large means.
    State lives on the device of the first batch.
    """

    def __init__(self) -> None:
        self.count = 0
        self._shift_x: Tensor | None = None
        self._shift_y: Tensor | None = None

    def update(self, x: Tensor, y: Tensor) -> None:
        _check_pair(x, y)
        if x.shape[0] == 0:
            return
        if self._shift_x is None:
            self._start(x.detach().double(), y.detach().double())
        elif (x.shape[1], y.shape[1]) != (self._shift_x.shape[0], self._shift_y.shape[0]):
            raise ValueError(f"linear CKA batches must keep their widths: got x [*, {x.shape[1]}] and "
                             f"y [*, {y.shape[1]}] after x [*, {self._shift_x.shape[0]}] and "
                             f"y [*, {self._shift_y.shape[0]}]")
        device = self._shift_x.device
        x = x.detach().to(device, torch.float64) - self._shift_x
        y = y.detach().to(device, torch.float64) - self._shift_y
        self._sum_x += x.sum(0)
        self._sum_y += y.sum(0)
        self._xx += x.T @ x
        self._yy += y.T @ y
        self._yx += y.T @ x
        self.count += x.shape[0]

    def _start(self, x: Tensor, y: Tensor) -> None:
        self._shift_x, self._shift_y = x.mean(0), y.mean(0)
        p1, p2 = x.shape[1], y.shape[1]
        zeros = lambda *shape: torch.zeros(shape, dtype=torch.float64, device=x.device)  # noqa: E731
        self._sum_x, self._sum_y = zeros(p1), zeros(p2)
        self._xx, self._yy, self._yx = zeros(p1, p1), zeros(p2, p2), zeros(p2, p1)

    def value(self) -> float:
        """CKA of every row fed so far, in [0, 1]."""
        _check_rows(self.count)
        n = self.count
        mean_x, mean_y = self._sum_x / n, self._sum_y / n
        xx = self._xx - n * torch.outer(mean_x, mean_x)
        yy = self._yy - n * torch.outer(mean_y, mean_y)
        yx = self._yx - n * torch.outer(mean_y, mean_x)
        return _cka_of_grams(xx, yy, yx, self._xx, self._yy)
