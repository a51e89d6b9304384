"""FSP's loss against BASELINES.md §7 and a hand computation of the flow matrices."""

import pytest
import torch

from sine_inputs import S
from sskd.losses.fsp import fsp_loss, fsp_matrix


def test_reference_value_of_the_crd_benchmark():
    s = [S((8, 16, 16, 16), .011, .2), S((8, 32, 8, 8), .013, .3)]
    t = [S((8, 16, 16, 16), .017, .4), S((8, 32, 8, 8), .019, .5)]
    assert fsp_loss(s, t).item() == pytest.approx(0.178638, rel=1e-4)


def loop_fsp(lower, upper):
    """G[b][i][j] = mean over positions of upper_i · lower_j (same spatial size)."""
    b, c1, h, w = lower.shape
    c2 = upper.shape[1]
    return [[[sum(upper[n, i, y, x].item() * lower[n, j, y, x].item() for y in range(h) for x in range(w)) / (h * w)
              for j in range(c1)] for i in range(c2)] for n in range(b)]


def test_hand_computed_flow_matrix_with_pooling():
    lower = torch.tensor([[[[1.0, 3.0], [5.0, 7.0]], [[2.0, 2.0], [0.0, 0.0]]]])  # [1, 2, 2, 2] → pooled 1×1
    upper = torch.tensor([[[[2.0]], [[-1.0]], [[0.5]]]])  # [1, 3, 1, 1]
    g = fsp_matrix(lower, upper)
    assert g.shape == (1, 3, 2)
    # pooled lower = (4, 1): G = upper ⊗ pooled lower
    assert g[0].flatten().tolist() == pytest.approx([8.0, 2.0, -4.0, -1.0, 2.0, 0.5])


def test_sum_over_consecutive_pairs_of_mean_squared_differences():
    g = torch.Generator().manual_seed(0)
    shapes = [(2, 2, 2, 2), (2, 3, 2, 2), (2, 2, 2, 2)]
    s = [torch.randn(*x, generator=g) for x in shapes]
    t = [torch.randn(*x, generator=g) for x in shapes]
    expected = 0.0
    for k in range(2):
        gs, gt = loop_fsp(s[k], s[k + 1]), loop_fsp(t[k], t[k + 1])
        diffs = [(gs[n][i][j] - gt[n][i][j]) ** 2 for n in range(2) for i in range(len(gs[0]))
                 for j in range(len(gs[0][0]))]
        expected += sum(diffs) / len(diffs)
    assert fsp_loss(s, t).item() == pytest.approx(expected, rel=1e-5)


def test_gradient_reaches_the_student_only_and_channels_must_match():
    s = [torch.randn(2, 2, 4, 4, requires_grad=True), torch.randn(2, 3, 2, 2)]
    t = [torch.randn(2, 2, 4, 4, requires_grad=True), torch.randn(2, 3, 2, 2)]
    fsp_loss(s, t).backward()
    assert s[0].grad is not None and t[0].grad is None
    with pytest.raises(ValueError, match="channel counts"):
        fsp_loss(s, [torch.zeros(2, 2, 4, 4), torch.zeros(2, 4, 2, 2)])
