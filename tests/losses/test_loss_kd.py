"""kd_loss / kl_div_rows against hand-computed values (BASELINES.md §3 KD, §7; SSKD.md §3.3)."""

import math

import numpy as np
import pytest
import torch

from sskd.losses import kd_loss, kl_div_rows

LN3 = math.log(3.0)


def S(shape, a, b):
    """BASELINES §7 recipe: sin(a·k + b) in float64, cast to float32, reshaped row-major."""
    k = np.arange(int(np.prod(shape)), dtype=np.float64)
    return torch.from_numpy(np.sin(a * k + b).astype(np.float32).reshape(shape))


def test_golden_value_baselines_s7():
    z_s = 3 * S((8, 100), 0.37, 0.1)
    z_t = 3 * S((8, 100), 0.23, 0.7)
    loss = kd_loss(z_s, z_t, temperature=4.0)
    assert loss.dim() == 0
    assert loss.item() == pytest.approx(4.19288, rel=1e-4)


def test_recipe_is_row_major():
    # Guard on the input recipe itself: element [1, 0] is k = 100.
    x = S((8, 100), 0.37, 0.1)
    assert x[1, 0].item() == pytest.approx(math.sin(0.37 * 100 + 0.1), abs=1e-6)


# Two rows, two classes; the logits are logs of simple ratios so the softmaxes are exact
# fractions at T = 1:
#   row 0: student [0, 0]    -> q = (1/2, 1/2); teacher [0, ln 3] -> p = (1/4, 3/4)
#   row 1: student [ln 3, 0] -> q = (3/4, 1/4); teacher [0, 0]    -> p = (1/2, 1/2)
Z_S = [[0.0, 0.0], [LN3, 0.0]]
Z_T = [[0.0, LN3], [0.0, 0.0]]
# KL(p || q) = sum p ln(p / q)
KL0_T1 = 0.25 * math.log(0.25 / 0.5) + 0.75 * math.log(0.75 / 0.5)   # = (3/4) ln 3 - ln 2 ~0.1308
KL1_T1 = 0.5 * math.log(0.5 / 0.75) + 0.5 * math.log(0.5 / 0.25)     # = ln(4/3)/2 ~0.1438


def _t(rows, **kw):
    return torch.tensor(rows, dtype=torch.float32, **kw)


def test_hand_values_are_what_we_think():
    # Sanity of the arithmetic above (closed forms), so a typo cannot make the tests vacuous.
    assert KL0_T1 == pytest.approx(0.75 * LN3 - math.log(2.0))
    assert KL1_T1 == pytest.approx(0.5 * math.log(4.0 / 3.0))


def test_rows_T1():
    rows = kl_div_rows(_t(Z_S), _t(Z_T), 1.0)
    assert rows.shape == (2,)
    assert rows.tolist() == pytest.approx([KL0_T1, KL1_T1], rel=1e-5, abs=1e-7)


def test_kd_T1_is_batchmean():
    loss = kd_loss(_t(Z_S), _t(Z_T), temperature=1.0)
    assert loss.item() == pytest.approx((KL0_T1 + KL1_T1) / 2, rel=1e-5)


def test_kd_direction_is_kl_teacher_to_student():
    # Row 0 alone: KL(p_t || p_s) = (3/4) ln 3 - ln 2 ~0.1308, while the reverse
    # KL(p_s || p_t) = (1/2) ln 2 + (1/2) ln(2/3) = ln 2 - (1/2) ln 3 ~0.1438.
    rev = 0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(0.5 / 0.75)
    assert rev == pytest.approx(math.log(2.0) - 0.5 * LN3)
    assert kd_loss(_t(Z_S[:1]), _t(Z_T[:1]), temperature=1.0).item() == pytest.approx(KL0_T1, rel=1e-5)
    assert kd_loss(_t(Z_T[:1]), _t(Z_S[:1]), temperature=1.0).item() == pytest.approx(rev, rel=1e-5)


def test_kd_T2_hand():
    # At T = 2 the logits are halved: row 0 teacher [0, ln3/2] -> p = (1, sqrt3)/(1 + sqrt3),
    # student uniform; row 1 student [ln3/2, 0] -> q = (sqrt3, 1)/(1 + sqrt3), teacher uniform.
    r3 = math.sqrt(3.0)
    p0 = (1 / (1 + r3), r3 / (1 + r3))
    kl0 = p0[0] * math.log(p0[0] / 0.5) + p0[1] * math.log(p0[1] / 0.5)
    q1 = (r3 / (1 + r3), 1 / (1 + r3))
    kl1 = 0.5 * math.log(0.5 / q1[0]) + 0.5 * math.log(0.5 / q1[1])
    expected = 4.0 * (kl0 + kl1) / 2          # T^2 = 4
    loss = kd_loss(_t(Z_S), _t(Z_T), temperature=2.0)
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_kd_T_squared_factor():
    # Doubling the logits and T leaves the distributions unchanged, so only T^2 changes:
    # KD(2z, T=2) = 4 * KD(z, T=1) = 4 * hand value.
    loss = kd_loss(2 * _t(Z_S), 2 * _t(Z_T), temperature=2.0)
    assert loss.item() == pytest.approx(4.0 * (KL0_T1 + KL1_T1) / 2, rel=1e-5)
    loss4 = kd_loss(4 * _t(Z_S), 4 * _t(Z_T), temperature=4.0)
    assert loss4.item() == pytest.approx(16.0 * (KL0_T1 + KL1_T1) / 2, rel=1e-5)


def test_identical_logits_give_zero():
    z = _t([[1.0, -2.0, 0.5], [3.0, 3.0, -1.0]])
    assert kd_loss(z, z.clone(), temperature=4.0).item() == pytest.approx(0.0, abs=1e-6)


# ---------------------------------------------------------------- masked version

def test_mask_mean_over_kept_rows_only():
    # Three rows: rows 0 and 1 as above, row 2 a copy of row 0. Keeping rows 0 and 1
    # divides by 2 (the kept count), not by 3.
    z_s = _t(Z_S + [Z_S[0]])
    z_t = _t(Z_T + [Z_T[0]])
    mask = torch.tensor([True, True, False])
    loss = kd_loss(z_s, z_t, temperature=1.0, mask=mask)
    assert loss.item() == pytest.approx((KL0_T1 + KL1_T1) / 2, rel=1e-5)
    only1 = kd_loss(z_s, z_t, temperature=1.0, mask=torch.tensor([False, True, False]))
    assert only1.item() == pytest.approx(KL1_T1, rel=1e-5)


def test_mask_applies_T_squared():
    mask = torch.tensor([False, True])
    loss = kd_loss(2 * _t(Z_S), 2 * _t(Z_T), temperature=2.0, mask=mask)
    assert loss.item() == pytest.approx(4.0 * KL1_T1, rel=1e-5)


def test_mask_all_true_equals_unmasked():
    z_s = 3 * S((4, 5), 0.37, 0.1)
    z_t = 3 * S((4, 5), 0.23, 0.7)
    full = kd_loss(z_s, z_t, 4.0)
    masked = kd_loss(z_s, z_t, 4.0, mask=torch.ones(4, dtype=torch.bool))
    assert masked.item() == pytest.approx(full.item(), rel=1e-6)


def test_mask_no_row_kept_is_zero():
    z_s = _t(Z_S, requires_grad=True)
    loss = kd_loss(z_s, _t(Z_T), temperature=4.0, mask=torch.zeros(2, dtype=torch.bool))
    assert loss.item() == 0.0
    loss.backward()
    assert torch.all(z_s.grad == 0)


# ---------------------------------------------------------------- gradients

def test_gradient_student_only_and_hand_value():
    z_s = _t(Z_S, requires_grad=True)
    z_t = _t(Z_T, requires_grad=True)
    kd_loss(z_s, z_t, temperature=1.0).backward()
    assert z_t.grad is None
    # d/dz_s [T^2 * mean_rows KL] = T * (q - p) / N; at T = 1, N = 2:
    #   row 0: (1/2 - 1/4, 1/2 - 3/4) / 2 = (1/8, -1/8)
    #   row 1: (3/4 - 1/2, 1/4 - 1/2) / 2 = (1/8, -1/8)
    expected = [[0.125, -0.125], [0.125, -0.125]]
    assert np.allclose(z_s.grad.numpy(), expected, atol=1e-6)


def test_gradient_masked_rows_get_none():
    z_s = _t(Z_S, requires_grad=True)
    z_t = _t(Z_T, requires_grad=True)
    kd_loss(z_s, z_t, temperature=1.0, mask=torch.tensor([True, False])).backward()
    assert z_t.grad is None
    # only row 0 counts, mean over 1 row: (q - p) = (1/4, -1/4)
    assert np.allclose(z_s.grad.numpy(), [[0.25, -0.25], [0.0, 0.0]], atol=1e-6)
