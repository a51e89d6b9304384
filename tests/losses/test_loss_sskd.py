"""SSKD self-supervision losses vs hand values (SSKD.md §2.2, §3.3, §3.4)."""

import math

import numpy as np
import pytest
import torch

from sskd.losses import (contrastive_loss, contrastive_targets, similarity_matrix, sskd_ss_loss,
                         sskd_transform_loss)

R2 = math.sqrt(2.0)


def _t(rows, **kw):
    return torch.tensor(rows, dtype=torch.float32, **kw)


def sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


def kl2(p, q):
    """KL between two-class distributions (p, 1-p) || (q, 1-q)."""
    return p * math.log(p / q) + (1 - p) * math.log((1 - p) / (1 - q))


# ---------------------------------------------------------------- similarity_matrix

H_T = [[1.0, 0.0], [1.0, 1.0], [-3.0, 4.0]]      # M = 3 transformed rows
H_N = [[3.0, 4.0], [1.0, -1.0]]                  # B = 2 normal rows (norms 5, sqrt 2)
# cos(u, v) = u.v / (|u| |v|), by hand:
COS = [
    [3 / 5, 1 / R2],                 # [1,0]: 3/(1*5), 1/(1*sqrt2)
    [7 / (5 * R2), 0.0],             # [1,1]: 7/(sqrt2*5), 0
    [7 / 25, -7 / (5 * R2)],         # [-3,4]: (-9+16)/25, (-3-4)/(5*sqrt2)
]


def test_similarity_hand_cosines():
    a = similarity_matrix(_t(H_T), _t(H_N))
    assert a.shape == (3, 2)
    assert np.allclose(a.numpy(), COS, atol=1e-6)


def test_similarity_shape_M_by_B():
    h_t = torch.arange(6 * 5, dtype=torch.float32).reshape(6, 5).sin()
    h_n = torch.arange(2 * 5, dtype=torch.float32).reshape(2, 5).cos()
    a = similarity_matrix(h_t, h_n)
    assert a.shape == (6, 2)
    assert float(a.abs().max()) <= 1.0 + 1e-6


def test_similarity_invariant_to_positive_row_scaling():
    h_t = _t(H_T) * _t([[2.0], [0.5], [10.0]])
    h_n = _t(H_N) * _t([[3.0], [0.1]])
    a = similarity_matrix(h_t, h_n)
    assert np.allclose(a.numpy(), COS, atol=1e-6)


def test_similarity_negative_scaling_flips_sign():
    a = similarity_matrix(-_t(H_T), _t(H_N))
    assert np.allclose(a.numpy(), -np.array(COS), atol=1e-6)


def test_similarity_zero_row_is_finite():
    a = similarity_matrix(_t([[0.0, 0.0], [1.0, 0.0]]), _t(H_N))
    assert torch.isfinite(a).all()
    assert np.allclose(a[0].numpy(), [0.0, 0.0])


# ---------------------------------------------------------------- contrastive_targets

def test_targets_three_views():
    t = contrastive_targets(3, 3)
    assert t.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert t.dtype == torch.int64


def test_targets_other_sizes():
    assert contrastive_targets(2, 1).tolist() == [0, 1]
    assert contrastive_targets(2, 2).tolist() == [0, 0, 1, 1]
    t = contrastive_targets(16, 3)
    assert t.tolist() == [a // 3 for a in range(48)]


# ---------------------------------------------------------------- contrastive_loss

SIM = [[0.5, -0.5], [0.2, 0.8]]
TGT = [0, 1]


def test_contrastive_T1_hand():
    # row 0: -log(e^.5 / (e^.5 + e^-.5)) = log(1 + e^-1)
    # row 1: -log(e^.8 / (e^.2 + e^.8))  = log(1 + e^-0.6)
    expected = (math.log(1 + math.exp(-1.0)) + math.log(1 + math.exp(-0.6))) / 2
    loss = contrastive_loss(_t(SIM), torch.tensor(TGT))
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    assert contrastive_loss(_t(SIM), torch.tensor(TGT), temperature=1.0).item() == \
        pytest.approx(expected, rel=1e-6)


def test_contrastive_T05_hand():
    # logits doubled: log(1 + e^-2), log(1 + e^-1.2)
    expected = (math.log(1 + math.exp(-2.0)) + math.log(1 + math.exp(-1.2))) / 2
    loss = contrastive_loss(_t(SIM), torch.tensor(TGT), temperature=0.5)
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_contrastive_wrong_target_hand():
    # targets [1, 0]: log(1 + e^1), log(1 + e^0.6)
    expected = (math.log(1 + math.e) + math.log(1 + math.exp(0.6))) / 2
    loss = contrastive_loss(_t(SIM), torch.tensor([1, 0]))
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_contrastive_floor_B64():
    # SSKD.md §2.2: tau = 1 on cosines, so with perfect separation (1 on target, -1 on the
    # 63 others) each row's CE is -1 + ln(e + 63/e) ~ 2.2540.
    B = 64
    targets = contrastive_targets(B, 3)
    sim = -torch.ones(3 * B, B)
    sim[torch.arange(3 * B), targets] = 1.0
    expected = -1.0 + math.log(math.e + 63 / math.e)
    assert expected == pytest.approx(2.2540, abs=1e-4)
    loss = contrastive_loss(sim, targets)
    assert loss.item() == pytest.approx(expected, abs=1e-4)


# ---------------------------------------------------------------- sskd_ss_loss

# B = 2 images, 2 transformed views each: M = 4, targets [0, 0, 1, 1].
SS_TGT = [0, 0, 1, 1]
A_T = [[0.8, 0.2],     # target 0, correct
       [0.6, -0.2],    # target 0, correct
       [0.5, 0.1],     # target 1, WRONG (rank 1)
       [-0.4, 0.4]]    # target 1, correct
A_S = [[0.2, 0.4],     # student wrong here, but only the teacher's ranking matters
       [0.0, 0.0],
       [0.3, 0.3],
       [0.1, -0.1]]
# T = 0.5: two-column softmax of x/T gives P(col 0) = sigmoid((x0 - x1) / 0.5).
SS_KL = [kl2(sigmoid(2 * (t[0] - t[1])), sigmoid(2 * (s[0] - s[1]))) for t, s in zip(A_T, A_S)]


def test_ss_hand_kl_values():
    # Spot-check the per-row hand numbers: row 1 has a uniform student.
    p = sigmoid(1.6)
    assert SS_KL[1] == pytest.approx(p * math.log(2 * p) + (1 - p) * math.log(2 * (1 - p)))


def test_ss_keep0_drops_teacher_wrong_row():
    targets = torch.tensor(SS_TGT)
    loss = sskd_ss_loss(_t(A_S), _t(A_T), targets, temperature=0.5, keep_ratio=0.0)
    expected = 0.25 * (SS_KL[0] + SS_KL[1] + SS_KL[3]) / 3
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_ss_keep1_keeps_all_rows():
    targets = torch.tensor(SS_TGT)
    loss = sskd_ss_loss(_t(A_S), _t(A_T), targets, temperature=0.5, keep_ratio=1.0)
    expected = 0.25 * sum(SS_KL) / 4
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    # and the two differ, so the mask matters on this case
    assert expected != pytest.approx(0.25 * (SS_KL[0] + SS_KL[1] + SS_KL[3]) / 3, rel=1e-3)


def test_ss_defaults_T05_k075():
    # Defaults T = 0.5, k = 0.75; one wrong row, floor(0.75) = 0 -> dropped.
    loss = sskd_ss_loss(_t(A_S), _t(A_T), torch.tensor(SS_TGT))
    assert loss.item() == pytest.approx(0.25 * (SS_KL[0] + SS_KL[1] + SS_KL[3]) / 3, rel=1e-5)


def test_ss_dropped_row_does_not_influence_loss_or_grad():
    targets = torch.tensor(SS_TGT)
    a_s = _t(A_S, requires_grad=True)
    a_t = _t(A_T, requires_grad=True)
    loss = sskd_ss_loss(a_s, a_t, targets, temperature=0.5, keep_ratio=0.0)
    loss.backward()
    assert a_t.grad is None
    assert torch.all(a_s.grad[2] == 0)
    assert torch.all(a_s.grad[[0, 1, 3]].abs().sum(dim=1) > 0)
    other = _t(A_S)
    other[2] = _t([-5.0, 5.0])
    loss2 = sskd_ss_loss(other, _t(A_T), targets, temperature=0.5, keep_ratio=0.0)
    assert loss2.item() == pytest.approx(loss.item(), rel=1e-6)


# ---------------------------------------------------------------- sskd_transform_loss

# K = 3 classes, T = 4. Logits are 4 ln(weights), so softmax(z / 4) = weights / sum exactly.
def _logits(weights):
    return [4.0 * math.log(w) for w in weights]


TF_T = [_logits([1, 2, 1]),    # p = (1/4, 1/2, 1/4), label 1: correct
        _logits([2, 1, 1]),    # p = (1/2, 1/4, 1/4), label 2: WRONG (rank 1; tie with class 1 not counted)
        _logits([1, 1, 2])]    # p = (1/4, 1/4, 1/2), label 2: correct
TF_S = [_logits([1, 1, 1]),    # q = (1/3, 1/3, 1/3)
        _logits([1, 1, 2]),    # q = (1/4, 1/4, 1/2)
        _logits([2, 1, 1])]    # q = (1/2, 1/4, 1/4)
TF_Y = [1, 2, 2]
# KL(p || q) by hand:
TF_KL = [
    0.25 * math.log(0.75) + 0.5 * math.log(1.5) + 0.25 * math.log(0.75),   # = (1/2) ln(9/8)
    0.5 * math.log(2.0) + 0.25 * math.log(1.0) + 0.25 * math.log(0.5),     # = (1/4) ln 2
    0.25 * math.log(0.5) + 0.25 * math.log(1.0) + 0.5 * math.log(2.0),     # = (1/4) ln 2
]


def test_tf_hand_kl_closed_forms():
    assert TF_KL[0] == pytest.approx(0.5 * math.log(9 / 8))
    assert TF_KL[1] == pytest.approx(0.25 * math.log(2))
    assert TF_KL[2] == pytest.approx(0.25 * math.log(2))


def test_tf_default_keeps_every_row_even_teacher_wrong():
    loss = sskd_transform_loss(_t(TF_S), _t(TF_T), torch.tensor(TF_Y))   # T = 4, k = 1
    assert loss.item() == pytest.approx(16.0 * sum(TF_KL) / 3, rel=1e-5)


def test_tf_keep0_keeps_only_correct_rows():
    loss = sskd_transform_loss(_t(TF_S), _t(TF_T), torch.tensor(TF_Y), temperature=4.0,
                               keep_ratio=0.0)
    assert loss.item() == pytest.approx(16.0 * (TF_KL[0] + TF_KL[2]) / 2, rel=1e-5)


def test_tf_ranking_uses_labels_not_student():
    # With labels making every teacher row correct, keep 0 equals keep 1.
    y = torch.tensor([1, 0, 2])
    k0 = sskd_transform_loss(_t(TF_S), _t(TF_T), y, keep_ratio=0.0)
    k1 = sskd_transform_loss(_t(TF_S), _t(TF_T), y, keep_ratio=1.0)
    assert k0.item() == pytest.approx(16.0 * sum(TF_KL) / 3, rel=1e-5)
    assert k1.item() == pytest.approx(k0.item(), rel=1e-6)


def test_tf_gradient_student_only():
    z_s = _t(TF_S, requires_grad=True)
    z_t = _t(TF_T, requires_grad=True)
    sskd_transform_loss(z_s, z_t, torch.tensor(TF_Y)).backward()
    assert z_t.grad is None
    # d/dz_s = T (q - p) / N = 4 (q - p) / 3; row 0: q - p = (1/12, -1/6, 1/12)
    assert np.allclose(z_s.grad[0].numpy(), [4 / 3 / 12, -4 / 3 / 6, 4 / 3 / 12], atol=1e-6)
