"""Tests of the batched jigsaw primitives and the "jigsaw" view maker."""

import itertools

import pytest
import torch

from sskd.data import augment, views
from sskd.data.augment import (
    jigsaw_permutations,
    permute_tiles,
    random_jigsaw,
    to_float,
)
from sskd.data.views import (
    IDENTITY,
    JIGSAW,
    TRANSFORM_NAMES,
    jigsaw_targets,
    list_view_makers,
    make_views,
)

from view_helpers import DEVICES, MEAN, STD, _gen, _images, _labels, _norm

def _reference_permute_tiles(x, perms, grid):
    """Slow, obviously correct version: copy tile by tile with Python loops."""
    n, _, h, w = x.shape
    th, tw = h // grid, w // grid
    out = torch.empty_like(x)
    for i in range(n):
        for j in range(grid * grid):
            s = int(perms[i, j])
            r, q = divmod(j, grid)
            sr, sq = divmod(s, grid)
            out[i, :, r * th:(r + 1) * th, q * tw:(q + 1) * tw] = \
                x[i, :, sr * th:(sr + 1) * th, sq * tw:(sq + 1) * tw]
    return out


# --- permutation table -----------------------------------------------------------------------

@pytest.mark.parametrize("device", DEVICES)
def test_jigsaw_permutations_are_all_24_in_itertools_order(device):
    table = jigsaw_permutations(2, device)
    assert table.dtype == torch.int64 and table.shape == (24, 4)
    assert table.device.type == torch.device(device).type
    rows = [tuple(r) for r in table.tolist()]
    assert rows[0] == (0, 1, 2, 3), "row 0 must be the identity"
    assert len(set(rows)) == 24, "rows must be distinct"
    assert rows == list(itertools.permutations(range(4)))


def test_jigsaw_permutations_returns_a_copy_of_the_cache():
    table = jigsaw_permutations(2)
    table.fill_(0)
    assert jigsaw_permutations(2)[0].tolist() == [0, 1, 2, 3]


@pytest.mark.parametrize("grid", [0, 1, 3, 4, True, 2.0])
def test_jigsaw_permutations_rejects_other_grids(grid):
    with pytest.raises(ValueError, match=f"grid={grid!r}"):
        jigsaw_permutations(grid, "cpu")
    with pytest.raises(ValueError, match="only grid=2"):
        random_jigsaw(torch.zeros(1, 1, 12, 12), grid=grid)


# --- permute_tiles ---------------------------------------------------------------------------

def test_permute_tiles_by_hand_on_4x4():
    x = torch.arange(16).view(1, 1, 4, 4)
    # tiles: 0 = [[0, 1], [4, 5]], 1 = [[2, 3], [6, 7]], 2 = [[8, 9], [12, 13]],
    #        3 = [[10, 11], [14, 15]]; position j gets input tile perm[j].
    out = permute_tiles(x, torch.tensor([[3, 0, 2, 1]]), 2)
    expected = torch.tensor([[10, 11, 0, 1],
                             [14, 15, 4, 5],
                             [8, 9, 2, 3],
                             [12, 13, 6, 7]]).view(1, 1, 4, 4)
    assert torch.equal(out, expected)
    assert torch.equal(permute_tiles(x, torch.tensor([[0, 1, 2, 3]]), 2), x)


def test_permute_tiles_by_hand_non_square():
    x = torch.arange(8).view(1, 1, 2, 4)  # 2 x 2 tiles of 1 x 2 pixels
    out = permute_tiles(x, torch.tensor([[1, 0, 3, 2]]), 2)
    assert out.tolist() == [[[[2, 3, 0, 1], [6, 7, 4, 5]]]]
    out = permute_tiles(x, torch.tensor([[2, 3, 0, 1]]), 2)
    assert out.tolist() == [[[[4, 5, 6, 7], [0, 1, 2, 3]]]]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("grid,h,w", [(2, 8, 8), (2, 6, 10), (3, 9, 6), (1, 5, 7)])
def test_permute_tiles_matches_loop_reference_and_inverse_undoes_it(grid, h, w, device):
    n, t = 16, grid * grid
    g = torch.Generator().manual_seed(grid * 100 + h)
    x = torch.rand(n, 3, h, w, generator=g)
    perms = torch.stack([torch.randperm(t, generator=g) for _ in range(n)])
    expected = _reference_permute_tiles(x, perms, grid)
    out = permute_tiles(x.to(device), perms.to(device), grid)
    assert torch.equal(out.cpu(), expected)
    back = permute_tiles(out, perms.argsort(dim=1).to(device), grid)
    assert torch.equal(back.cpu(), x)


def test_permute_tiles_keeps_dtype_and_every_pixel():
    x = _images(4, size=8)
    perms = jigsaw_permutations(2)[torch.tensor([5, 11, 17, 23])]
    out = permute_tiles(x, perms, 2)
    assert out.dtype == torch.uint8 and out.shape == x.shape
    assert torch.equal(out.flatten(1).sort(1).values, x.flatten(1).sort(1).values)
    assert not torch.equal(out, x)


def test_permute_tiles_rejects_indivisible_sizes_and_bad_perms():
    with pytest.raises(ValueError, match=r"H=3.*W=3"):
        permute_tiles(torch.zeros(1, 1, 3, 3), torch.tensor([[0, 1, 2, 3]]), 2)
    with pytest.raises(ValueError, match=r"H=4.*W=5"):
        permute_tiles(torch.zeros(1, 1, 4, 5), torch.tensor([[0, 1, 2, 3]]), 2)
    x = torch.zeros(2, 1, 4, 4)
    with pytest.raises(ValueError, match=r"\[2, 4\]"):
        permute_tiles(x, torch.tensor([[0, 1, 2, 3]]), 2)
    with pytest.raises(ValueError, match=r"\[2, 4\]"):
        permute_tiles(x, torch.zeros(2, 4), 2)
    with pytest.raises(ValueError, match="permutation"):
        permute_tiles(x, torch.tensor([[0, 1, 2, 3], [0, 0, 2, 3]]), 2)
    with pytest.raises(ValueError, match=r"\[B, C, H, W\]"):
        permute_tiles(torch.zeros(1, 4, 4), torch.tensor([[0, 1, 2, 3]]), 2)


# --- random_jigsaw ---------------------------------------------------------------------------

@pytest.mark.parametrize("device", DEVICES)
def test_random_jigsaw_never_identity_and_consistent(device):
    x = torch.rand(4096, 1, 4, 4, device=device)
    out, index = random_jigsaw(x, _gen(0, device))
    assert index.dtype == torch.int64 and index.shape == (4096,)
    assert index.device == x.device
    assert (index >= 1).all() and (index <= 23).all(), "the identity (0) must never be drawn"
    counts = torch.bincount(index.cpu(), minlength=24)
    assert counts[0] == 0 and (counts[1:] > 4096 / 23 * 0.6).all(), "draws must be ~uniform"
    table = jigsaw_permutations(2, device)
    assert torch.equal(permute_tiles(x, table[index], 2), out)
    assert not (out == x).flatten(1).all(1).any(), "every image must be shuffled"
    again, index2 = random_jigsaw(x, _gen(0, device))
    assert torch.equal(again, out) and torch.equal(index2, index)


def test_random_jigsaw_rejects_odd_sizes():
    with pytest.raises(ValueError, match=r"H=3.*W=3"):
        random_jigsaw(torch.zeros(2, 3, 3, 3), _gen(0))


# --- transform ids ---------------------------------------------------------------------------

def test_jigsaw_id_vocabulary():
    assert JIGSAW == 7 and TRANSFORM_NAMES[JIGSAW] == "jigsaw" and len(TRANSFORM_NAMES) == 8
    assert "JIGSAW" in views.__all__ and "jigsaw_targets" in views.__all__
    assert "JigsawViews" in views.__all__
    for name in ("jigsaw_permutations", "permute_tiles", "random_jigsaw"):
        assert name in augment.__all__ and name not in views.__all__


@pytest.mark.parametrize("device", DEVICES)
def test_jigsaw_targets_mapping(device):
    ids = torch.tensor([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 29, 30]], device=device)
    targets = jigsaw_targets(ids)
    assert targets.dtype == torch.int64 and targets.device == ids.device
    assert targets.tolist() == [[0, 0, 0, 0], [0, 0, 0, 0], [1, 2, 22, 23]]
    expected = [0] * 8 + list(range(1, 24)) + [0]
    assert jigsaw_targets(torch.arange(32, dtype=torch.int32)).tolist() == expected


# --- the "jigsaw" view maker -----------------------------------------------------------------

def test_jigsaw_maker_is_registered():
    assert "jigsaw" in list_view_makers()
    maker = make_views("jigsaw", mean=MEAN, std=STD, train=True)
    assert isinstance(maker, views.JigsawViews)
    assert maker.num_views == 4 and maker.grid == 2 and maker.name == "jigsaw"


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("train", [True, False])
def test_jigsaw_maker_shapes_ids_and_views(train, device):
    maker = make_views("jigsaw", mean=MEAN, std=STD, train=train)
    x = _images(64, device=device)
    batch = maker(x, _labels(64, device), _gen(3, device))
    assert batch.views.shape == (64, 4, 3, 32, 32)
    assert batch.views.dtype == torch.float32 and batch.views.is_contiguous()
    assert batch.views.device == x.device and batch.transform_ids.device == x.device
    assert torch.equal(batch.labels, _labels(64, device))
    ids = batch.transform_ids
    assert ids.dtype == torch.int64 and ids.shape == (64, 4)
    assert (ids[:, 0] == IDENTITY).all()
    assert ((ids[:, 1:] >= JIGSAW + 1) & (ids[:, 1:] <= JIGSAW + 23)).all()
    targets = jigsaw_targets(ids)
    assert (targets[:, 0] == 0).all() and torch.equal(targets[:, 1:], ids[:, 1:] - JIGSAW)
    assert (ids[:, 1:] != ids[:, 1:2]).any(), "the views' permutations must be drawn independently"
    table = jigsaw_permutations(2, device)
    for v in range(1, 4):
        expected = permute_tiles(batch.views[:, 0], table[targets[:, v]], 2)
        assert torch.equal(batch.views[:, v], expected), f"view {v} is not view 0 shuffled"
    src = _norm(to_float(x))
    if train:
        assert not torch.allclose(batch.views[:, 0], src), "train views must be cropped/flipped"
    else:
        torch.testing.assert_close(batch.views[:, 0], src, rtol=0, atol=1e-6)


def test_jigsaw_maker_train_with_crop_padding_0_is_flip_only():
    maker = make_views("jigsaw", mean=MEAN, std=STD, train=True, crop_padding=0)
    x = _images(64)
    view0 = maker(x, _labels(64), _gen(2)).views[:, 0]
    src = _norm(to_float(x))
    same = (view0 == src).flatten(1).all(1)
    flipped = (view0 == src.flip(-1)).flatten(1).all(1)
    assert (same ^ flipped).all() and 0 < flipped.sum() < 64


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("train", [True, False])
def test_jigsaw_maker_same_seed_same_output(train, device):
    maker = make_views("jigsaw", mean=MEAN, std=STD, train=train)
    x, y = _images(16, device=device), _labels(16, device)
    a, b, c = (maker(x, y, _gen(s, device)) for s in (7, 7, 8))
    assert torch.equal(a.views, b.views) and torch.equal(a.transform_ids, b.transform_ids)
    assert not torch.equal(a.transform_ids, c.transform_ids)
    assert not torch.equal(a.views, c.views)


def test_jigsaw_maker_non_square_and_odd_sizes():
    maker = make_views("jigsaw", mean=MEAN, std=STD, train=True)
    batch = maker(_images(2, size=8, width=12), _labels(2), _gen(0))
    assert batch.views.shape == (2, 4, 3, 8, 12)
    for train in (True, False):
        maker = make_views("jigsaw", mean=MEAN, std=STD, train=train)
        with pytest.raises(ValueError, match=r"H=3.*W=3"):
            maker(_images(2, size=3), _labels(2), _gen(0))
        with pytest.raises(ValueError, match=r"H=5.*W=8"):
            maker(_images(2, size=5, width=8), _labels(2), _gen(0))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA not available")
@pytest.mark.parametrize("crop_padding", [4, 0])
@pytest.mark.parametrize("train", [True, False])
def test_jigsaw_targets_do_not_sync_cuda(train, crop_padding):
    """The maker's own no-sync check is in test_views.py (MAKERS); this adds the targets."""
    maker = make_views("jigsaw", mean=MEAN, std=STD, train=train, crop_padding=crop_padding)
    x, y, g = _images(16, device="cuda"), _labels(16, "cuda"), _gen(0, "cuda")
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(2):
            batch = maker(x, y, g)
            targets = jigsaw_targets(batch.transform_ids)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert batch.views.shape == (16, 4, 3, 32, 32) and targets.shape == (16, 4)
