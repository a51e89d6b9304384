"""error_rank / selective_mask: SSKD.md §3.4 (all correct rows + floor(k·W) least-wrong rows)."""

import math

import pytest
import torch

from sskd.losses import error_rank, selective_mask


# ---------------------------------------------------------------- error_rank

def test_error_rank_hand_cases():
    scores = torch.tensor([
        [0.1, 0.5, 0.4],   # target 2: only 0.5 is higher               -> 1
        [0.3, 0.3, 0.1],   # target 0: tied with 0.3, tie does not count -> 0
        [0.3, 0.3, 0.1],   # target 2: two entries higher              -> 2
        [0.2, 0.2, 0.2],   # target 1: all tied                          -> 0
        [0.9, 0.0, -0.5],  # target 0: top-1 correct                     -> 0
        [0.7, 0.7, 0.1],   # target 2: both tied entries are higher      -> 2
    ])
    targets = torch.tensor([2, 0, 2, 1, 0, 2])
    rank = error_rank(scores, targets)
    assert rank.dtype == torch.int64
    assert rank.tolist() == [1, 0, 2, 0, 0, 2]


def test_error_rank_worst_case_is_C_minus_1():
    scores = torch.tensor([[4.0, 3.0, 2.0, 1.0]])
    assert error_rank(scores, torch.tensor([3])).tolist() == [3]
    assert error_rank(scores, torch.tensor([1])).tolist() == [1]


@pytest.mark.parametrize("temperature", [0.5, 1.0, 4.0])
def test_error_rank_invariant_under_softmax_and_temperature(temperature):
    scores = torch.tensor([
        [0.1, 0.5, 0.4, -0.3],
        [2.0, -1.0, 0.0, 1.0],
        [0.3, 0.3, 0.1, 0.0],
        [-0.2, 0.6, 0.6, 0.1],
    ])
    targets = torch.tensor([2, 1, 0, 3])
    expected = [1, 3, 0, 2]            # by hand from the raw scores
    assert error_rank(scores, targets).tolist() == expected
    probs = torch.softmax(scores / temperature, dim=1)
    assert error_rank(probs, targets).tolist() == expected


# ---------------------------------------------------------------- selective_mask

def _mask(rank, k):
    return selective_mask(torch.tensor(rank, dtype=torch.int64), k).tolist()


def test_basic_rule():
    # W = 3 wrong rows (ranks 2, 1, 3); floor(0.5 * 3) = 1 -> keep the rank-1 row.
    assert _mask([0, 2, 1, 0, 3], 0.5) == [True, False, True, True, False]


def test_ties_at_cut_lower_index_wins():
    # W = 3, floor(1.5) = 1, two rank-1 rows compete: index 1 beats index 2.
    assert _mask([2, 1, 1, 0], 0.5) == [False, True, False, True]


def test_ties_at_cut_inside_a_tie_group():
    rank = [0, 3, 2, 5, 2, 2]   # W = 5; wrong rows sorted by rank: idx 2, 4, 5 (rank 2), 1, 3
    # floor(0.6 * 5) = 3 -> all three rank-2 rows.
    assert _mask(rank, 0.6) == [True, False, True, False, True, True]
    # floor(0.4 * 5) = 2 -> the lower two rank-2 rows (2, 4); index 5 loses the tie.
    assert _mask(rank, 0.4) == [True, False, True, False, True, False]
    # floor(0.2 * 5) = 1 -> only index 2.
    assert _mask(rank, 0.2) == [True, False, True, False, False, False]
    # floor(0.8 * 5) = 4 -> the rank-3 row joins; the rank-5 row is the one left out.
    assert _mask(rank, 0.8) == [True, True, True, False, True, True]


@pytest.mark.parametrize("k", [0.0, 0.3, 0.75, 1.0])
def test_all_correct_keeps_everything(k):
    assert _mask([0, 0, 0, 0], k) == [True] * 4


def test_all_wrong():
    rank = [3, 1, 2, 1]
    assert _mask(rank, 0.0) == [False] * 4
    assert _mask(rank, 0.5) == [False, True, False, True]      # floor(2) = 2 -> both rank-1
    assert _mask(rank, 0.75) == [False, True, True, True]      # floor(3) = 3 -> ranks 1, 1, 2
    assert _mask(rank, 1.0) == [True] * 4


def test_k_zero_keeps_only_correct():
    assert _mask([0, 1, 0, 7, 2, 0], 0.0) == [True, False, True, False, False, True]


def test_k_one_keeps_everything():
    assert _mask([0, 1, 0, 7, 2, 0], 1.0) == [True] * 6


def test_k_075_with_five_wrong_keeps_three():
    # W = 5, floor(3.75) = 3 (not round -> 4, not ceil -> 4): keep ranks 1, 2, 3.
    rank = [0, 5, 4, 3, 2, 1, 0]
    out = _mask(rank, 0.75)
    assert out == [True, False, False, True, True, True, True]
    assert sum(out) == 2 + math.floor(0.75 * 5)


def test_k_075_with_one_wrong_drops_it():
    # floor(0.75) = 0: the default L_ss ratio drops a lone wrong row.
    assert _mask([0, 0, 4, 0], 0.75) == [True, True, False, True]


def test_odd_size_48_last_cifar_batch():
    # M = 48 = 16 images x 3 rotations; rank = i % 4: 12 correct rows, 36 wrong rows with
    # 12 each of ranks 1, 2, 3. floor(0.75 * 36) = 27 -> all ranks 1 and 2 (24 rows) plus
    # the 3 lowest-index rank-3 rows (i = 3, 7, 11).
    rank = [i % 4 for i in range(48)]
    out = _mask(rank, 0.75)
    expected = [(i % 4 != 3) or i in (3, 7, 11) for i in range(48)]
    assert out == expected
    assert sum(out) == 12 + 27


def test_odd_size_48_odd_wrong_count():
    # 11 correct rows (i < 11), 37 wrong rows with ranks 1..37 in reverse index order:
    # row i >= 11 has rank 48 - i. floor(0.75 * 37) = 27 -> ranks 1..27, i.e. rows 21..47.
    rank = [0] * 11 + [48 - i for i in range(11, 48)]
    out = _mask(rank, 0.75)
    expected = [i < 11 or i >= 21 for i in range(48)]
    assert out == expected


@pytest.mark.parametrize("k", [-0.1, 1.0001, 2.0, float("nan")])
def test_bad_k_raises(k):
    with pytest.raises(ValueError):
        selective_mask(torch.tensor([0, 1, 2]), k)


def test_dtype_and_shape():
    out = selective_mask(torch.tensor([0, 2, 1]), 0.5)
    assert out.dtype == torch.bool
    assert out.shape == (3,)


def test_device_follows_input_meta():
    out = selective_mask(torch.tensor([0, 2, 1, 0, 3], device="meta"), 0.5)
    assert out.device.type == "meta"
    assert out.dtype == torch.bool


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_device_follows_input_cuda():
    rank = torch.tensor([0, 2, 1, 0, 3], device="cuda")
    out = selective_mask(rank, 0.5)
    assert out.device == rank.device
    assert out.dtype == torch.bool
    assert out.cpu().tolist() == [True, False, True, True, False]


def test_does_not_modify_input():
    rank = torch.tensor([3, 0, 1, 2])
    selective_mask(rank, 0.5)
    assert rank.tolist() == [3, 0, 1, 2]
