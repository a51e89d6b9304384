"""Linear CKA (Kornblith et al. 2019): properties, kernel form, streaming, BASELINES.md §6 value."""

import math

import pytest
import torch

from sskd.analysis.cka import LinearCKAAccumulator, linear_cka


def S(shape, a, b):
    """BASELINES.md §7: sin(a·k + b) in float64 for k = 0 … numel−1, cast to float32, row-major."""
    k = torch.arange(math.prod(shape), dtype=torch.float64)
    return torch.sin(a * k + b).to(torch.float32).reshape(shape)


def kernel_cka(x, y):
    """HSIC(K, L) / √(HSIC(K, K)·HSIC(L, L)), K = XXᵀ, L = YYᵀ, HSIC = tr(KHLH)/(n−1)²."""
    x, y = x.double(), y.double()
    n = x.shape[0]
    h = torch.eye(n, dtype=torch.float64) - torch.full((n, n), 1.0 / n, dtype=torch.float64)
    hsic = lambda k, l: torch.trace(k @ h @ l @ h) / (n - 1) ** 2  # noqa: E731
    k, l = x @ x.T, y @ y.T
    return float(hsic(k, l) / torch.sqrt(hsic(k, k) * hsic(l, l)))


def random_pair(seed, n=60, p1=12, p2=7):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, p1, generator=g)
    y = torch.tanh(x @ torch.randn(p1, p2, generator=g)) + 0.5 * torch.randn(n, p2, generator=g)
    return x, y


def test_reference_value_of_baselines():
    x = S((100, 64), 0.13, 0.5)
    y = torch.tanh(x.double() @ S((64, 32), 0.3, 0.2).double())
    assert linear_cka(x, y) == pytest.approx(0.802393, abs=1e-6)
    assert kernel_cka(x, y) == pytest.approx(0.802393, abs=1e-6)


def test_cka_of_a_representation_with_itself_is_one():
    x, _ = random_pair(0)
    assert linear_cka(x, x) == pytest.approx(1.0, abs=1e-12)


def test_agrees_with_the_kernel_form_and_lies_in_the_unit_interval():
    for seed in range(4):
        x, y = random_pair(seed, n=30 + seed, p1=5 + seed, p2=3)
        value = linear_cka(x, y)
        assert 0.0 < value < 1.0
        assert value == pytest.approx(kernel_cka(x, y), rel=1e-10)


def test_invariant_to_orthogonal_maps_and_isotropic_scaling():
    x, y = random_pair(1)
    g = torch.Generator().manual_seed(5)
    qx, _ = torch.linalg.qr(torch.randn(x.shape[1], x.shape[1], generator=g, dtype=torch.float64))
    qy, _ = torch.linalg.qr(torch.randn(y.shape[1], y.shape[1], generator=g, dtype=torch.float64))
    x, y = x.double(), y.double()
    reference = linear_cka(x, y)
    assert linear_cka(x @ qx, y) == pytest.approx(reference, rel=1e-10)
    assert linear_cka(x, y @ qy) == pytest.approx(reference, rel=1e-10)
    assert linear_cka(3.7 * x, y) == pytest.approx(reference, rel=1e-10)
    assert linear_cka(x, 0.01 * y) == pytest.approx(reference, rel=1e-10)


def test_not_invariant_to_an_arbitrary_invertible_map():
    x, y = random_pair(2)
    g = torch.Generator().manual_seed(9)
    a = torch.randn(x.shape[1], x.shape[1], generator=g) + torch.diag(torch.arange(1.0, x.shape[1] + 1))
    assert abs(torch.linalg.det(a.double())) > 1e-3
    assert abs(linear_cka(x @ a, y) - linear_cka(x, y)) > 1e-3


def test_streamed_over_uneven_batches_equals_the_whole_set():
    x, y = random_pair(3, n=100, p1=9, p2=4)
    x = x + 1e3  # a large mean: the streamed centring must not cancel it away
    acc = LinearCKAAccumulator()
    start = 0
    for size in (7, 1, 0, 30, 62):
        acc.update(x[start:start + size], y[start:start + size])
        start += size
    assert acc.count == 100
    assert acc.value() == pytest.approx(linear_cka(x, y), rel=1e-9)


@pytest.mark.parametrize("x, y, message", [
    (torch.ones(5, 3), torch.ones(4, 3), "5 rows in x and 4 rows in y"),
    (torch.ones(5), torch.ones(5, 3), r"2-D representations \[n, p\]; got shapes \(5,\) and \(5, 3\)"),
    (torch.ones(2, 3, 4), torch.ones(2, 3), r"got shapes \(2, 3, 4\)"),
    (torch.randn(1, 3), torch.randn(1, 3), "at least 2 rows; got 1"),
    (torch.full((6, 3), 2.5), torch.randn(6, 3), "representation x has zero variance"),
    (torch.randn(6, 3), torch.zeros(6, 2), "representation y has zero variance"),
])
def test_refusals(x, y, message):
    with pytest.raises(ValueError, match=message):
        linear_cka(x, y)


def test_accumulator_refusals():
    acc = LinearCKAAccumulator()
    with pytest.raises(ValueError, match="at least 2 rows; got 0"):
        acc.value()
    acc.update(torch.randn(4, 3), torch.randn(4, 2))
    with pytest.raises(ValueError, match="keep their widths"):
        acc.update(torch.randn(4, 5), torch.randn(4, 2))
    constant = LinearCKAAccumulator()
    constant.update(torch.full((3, 2), 7.0), torch.randn(3, 2))
    constant.update(torch.full((4, 2), 7.0), torch.randn(4, 2))
    with pytest.raises(ValueError, match="representation x has zero variance"):
        constant.value()
