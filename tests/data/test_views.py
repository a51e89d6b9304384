"""Tests of the batched augmentation ops and the multi-view batch makers."""

import types

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sskd.data import augment, views
from sskd.data.augment import (
    color_jitter,
    grayscale,
    normalize,
    random_crop,
    random_hflip,
    random_resized_crop,
    rotate90,
    to_float,
)
from sskd.data.views import (
    COLOR_DISTORTION,
    GRAYSCALE,
    IDENTITY,
    RESIZED_CROP,
    TRANSFORM_NAMES,
    flatten_views,
    joint_labels,
    list_view_makers,
    make_views,
    unflatten_views,
)

from view_helpers import DEVICES, MEAN, STD, _gen, _images, _labels, _norm

MAKERS = ["standard", "sskd", "hssakd", "sskd_paper", "jigsaw"]
ROTATION_MAKERS = ["sskd", "hssakd"]


def _find_shifts(out, src, padding, search, transform=lambda x: x):
    """Per image of ``out``, the shift (dy, dx) with |dy|, |dx| <= search such that the window of
    ``transform(src zero-padded by padding)`` shifted by (dy, dx) from the original equals it;
    (-99, -99) where none does. ``out`` and ``src`` are [B, C, H, W]; ``transform`` pointwise."""
    b, c, h, w = src.shape
    ref = transform(F.pad(src, (padding,) * 4))
    lo, hi = padding - search, padding + search
    ref = ref[..., lo: hi + h, lo: hi + w]
    windows = ref.unfold(2, h, 1).unfold(3, w, 1)
    hit = ((out[:, :, None, None] - windows).abs() <= 1e-5).all(-1).all(-1).all(1).cpu()
    n = 2 * search + 1
    found = torch.full((b, 2), -99, dtype=torch.int64)
    img, dy, dx = hit.nonzero(as_tuple=True)
    found[img] = torch.stack([dy - search, dx - search], dim=1)
    assert (hit.view(b, n * n).sum(1) <= 1).all(), "ambiguous match: use less regular images"
    return found


# --- rotation --------------------------------------------------------------------------------

def test_rotate90_direction_on_2x2():
    x = torch.tensor([[1, 2], [3, 4]])
    assert rotate90(x, 1).tolist() == [[2, 4], [1, 3]]
    assert rotate90(x, 2).tolist() == [[4, 3], [2, 1]]
    assert rotate90(x, 3).tolist() == [[3, 1], [4, 2]]


def test_rotate90_matches_np_rot90_on_hwc():
    hwc = np.random.default_rng(0).integers(0, 256, (5, 5, 3), dtype=np.uint8)
    chw = torch.from_numpy(hwc).permute(2, 0, 1)
    for k in range(4):
        ours = rotate90(chw, k).permute(1, 2, 0).numpy()
        np.testing.assert_array_equal(ours, np.rot90(hwc, k))


def test_rotate90_per_image_k_matches_scalar_k():
    x = torch.rand(8, 3, 6, 6)
    k = torch.tensor([0, 1, 2, 3, 3, 2, 1, 0])
    out = rotate90(x, k)
    for i in range(8):
        assert torch.equal(out[i], rotate90(x[i], int(k[i])))


def test_rotate90_non_square_raises():
    with pytest.raises(ValueError, match=r"\(2, 3, 4, 5\)"):
        rotate90(torch.zeros(2, 3, 4, 5), 1)
    images = torch.zeros(2, 3, 4, 5, dtype=torch.uint8)
    for name in ROTATION_MAKERS + ["sskd_paper"]:
        with pytest.raises(ValueError, match="square"):
            make_views(name, mean=MEAN, std=STD, train=True)(images, _labels(2), _gen(0))


# --- layout ----------------------------------------------------------------------------------

def test_flatten_views_is_image_major():
    b, v = 3, 4
    x = torch.arange(b * v, dtype=torch.float32).view(b, v, 1, 1, 1).expand(b, v, 2, 3, 3)
    flat = flatten_views(x)
    assert flat.shape == (b * v, 2, 3, 3)
    for i in range(b):
        for j in range(v):
            assert torch.equal(flat[v * i + j], x[i, j])
    assert torch.equal(unflatten_views(flat, v), x)
    with pytest.raises(ValueError):
        unflatten_views(flat, 5)


@pytest.mark.parametrize("name", MAKERS)
def test_view0_is_normalised_input_at_test_time(name):
    x = _images(6)
    batch = make_views(name, mean=MEAN, std=STD, train=False)(x, _labels(6), _gen(0))
    assert batch.views.shape[:2] == (6, make_views(name, mean=MEAN, std=STD).num_views)
    torch.testing.assert_close(batch.views[:, 0], _norm(x.float() / 255), rtol=0, atol=1e-6)
    assert torch.equal(batch.labels, _labels(6))


@pytest.mark.parametrize("name", ROTATION_MAKERS)
def test_rotation_makers_test_mode_views_are_rotations(name):
    batch = make_views(name, mean=MEAN, std=STD, train=False)(_images(5), _labels(5), _gen(0))
    for r in range(4):
        assert torch.equal(batch.views[:, r], rotate90(batch.views[:, 0], r))
        assert (batch.transform_ids[:, r] == r).all()


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", MAKERS)
@pytest.mark.parametrize("train", [True, False])
def test_maker_output_contract(name, train, device):
    maker = make_views(name, mean=MEAN, std=STD, train=train)
    x = _images(4, device=device)
    batch = maker(x, _labels(4, device), _gen(0, device))
    assert batch.views.shape == (4, maker.num_views, 3, 32, 32)
    assert batch.views.dtype == torch.float32 and batch.views.is_contiguous()
    assert batch.views.device.type == torch.device(device).type
    assert batch.labels.dtype == torch.int64 and batch.labels.shape == (4,)
    assert batch.transform_ids.dtype == torch.int64
    assert batch.transform_ids.shape == (4, maker.num_views)
    lo, hi = _norm(torch.zeros(1, 3, 1, 1)), _norm(torch.ones(1, 3, 1, 1))
    assert (batch.views >= lo.to(device) - 1e-5).all() and (batch.views <= hi.to(device) + 1e-5).all()
    assert maker.mean == MEAN and maker.std == STD


@pytest.mark.parametrize("name", MAKERS)
def test_float_input_raises_type_error(name):
    maker = make_views(name, mean=MEAN, std=STD, train=True)
    with pytest.raises(TypeError, match="float32"):
        maker(torch.rand(2, 3, 32, 32), _labels(2), _gen(0))


def test_registry():
    assert set(MAKERS) <= set(list_view_makers())
    with pytest.raises(ValueError, match="hssakd.*sskd"):
        make_views("nope", mean=MEAN, std=STD)


def test_views_exports_no_augment_primitives():
    for name in augment.__all__:
        assert name not in views.__all__, f"{name} belongs to sskd.data.augment only"


def test_generator_on_other_device_raises():
    maker = make_views("standard", mean=MEAN, std=STD)
    for where in ("cuda", "cuda:1"):  # only ``generator.device`` is looked at
        fake = types.SimpleNamespace(device=torch.device(where))
        with pytest.raises(ValueError, match="generator lives on"):
            maker(_images(2), _labels(2), fake)
    assert views._same_device(torch.device("cpu"), torch.device("cpu"))
    assert not views._same_device(torch.device("cpu"), torch.device("meta"))
    assert not views._same_device(torch.device("cuda", 0), torch.device("cuda", 1))
    assert views._same_device(torch.device("cuda", 1), torch.device("cuda", 1))


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two CUDA devices")
def test_generator_on_other_cuda_device_raises():
    maker = make_views("standard", mean=MEAN, std=STD)
    with pytest.raises(ValueError, match="generator lives on"):
        maker(_images(2, device="cuda:1"), _labels(2, "cuda:1"), _gen(0, "cuda:0"))
    with torch.cuda.device(1):
        maker(_images(2, device="cuda:1"), _labels(2, "cuda:1"), _gen(0, "cuda"))


# --- crop_padding ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", MAKERS)
def test_crop_padding_defaults_to_4_and_rejects_negative(name):
    assert make_views(name, mean=MEAN, std=STD).crop_padding == 4
    assert "crop_padding=0" in repr(make_views(name, mean=MEAN, std=STD, crop_padding=0))
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="crop_padding"):
            make_views(name, mean=MEAN, std=STD, crop_padding=bad)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", ["standard", "hssakd", "sskd"])
def test_crop_padding_0_train_views_are_exact_flips_and_rotations(name, device):
    maker = make_views(name, mean=MEAN, std=STD, train=True, crop_padding=0)
    x = _images(64, device=device)
    batch = maker(x, _labels(64, device), _gen(2, device))
    src = _norm(to_float(x))
    view0 = batch.views[:, 0]
    same = (view0 == src).flatten(1).all(1)
    flipped = (view0 == src.flip(-1)).flatten(1).all(1)
    assert (same ^ flipped).all(), "view 0 must be the input or its mirror image, uncropped"
    assert 0 < flipped.sum() < 64, "flips must still be drawn per image"
    for r in range(maker.num_views):
        assert torch.equal(batch.views[:, r], rotate90(view0, r))
    # With the default padding the same draws crop: the views are no longer exact flips.
    cropped = make_views(name, mean=MEAN, std=STD, train=True)(x, _labels(64, device),
                                                               _gen(2, device)).views[:, 0]
    assert not ((cropped == src) | (cropped == src.flip(-1))).flatten(1).all(1).all()


def test_crop_padding_0_sskd_paper_view0_is_uncropped():
    maker = make_views("sskd_paper", mean=MEAN, std=STD, train=True, crop_padding=0)
    x = _images(32)
    batch = maker(x, _labels(32), _gen(4))
    src = _norm(to_float(x))
    view0 = batch.views[:, 0]
    assert ((view0 == src) | (view0 == src.flip(-1))).flatten(1).all(1).all()
    for i in range(32):
        assert torch.equal(batch.views[i, 2], rotate90(view0[i], int(batch.transform_ids[i, 2])))


# --- no host<->device traffic in the hot path ------------------------------------------------

def test_normalize_reuses_cached_constants(monkeypatch):
    seen = []
    real_addcmul = torch.addcmul

    def spy(shift, x, scale, *args, **kwargs):
        seen.append((shift, scale))
        return real_addcmul(shift, x, scale, *args, **kwargs)

    monkeypatch.setattr(torch, "addcmul", spy)
    x = torch.rand(2, 3, 4, 4)
    first = normalize(x, MEAN, STD)
    second = normalize(x.clone(), list(MEAN), list(STD))
    assert len(seen) == 2
    assert seen[0][0] is seen[1][0] and seen[0][1] is seen[1][1], "constants rebuilt per call"
    torch.testing.assert_close(first, second, rtol=0, atol=0)
    torch.testing.assert_close(first, (x - torch.tensor(MEAN).view(3, 1, 1))
                               / torch.tensor(STD).view(3, 1, 1), rtol=0, atol=1e-6)
    normalize(x.double(), MEAN, STD)
    assert seen[2][0].dtype == torch.float64 and seen[2][0] is not seen[0][0]


@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("name", MAKERS)
def test_makers_build_no_tensors_from_host_data(name, train, monkeypatch):
    """Every small constant must come from a device-side cache or fill, never ``torch.tensor``
    (on CUDA each such host->device copy blocks the host)."""
    maker = make_views(name, mean=MEAN, std=STD, train=train)
    x, y = _images(8), _labels(8)
    calls = []

    def forbid(fn_name):
        real = getattr(torch, fn_name)

        def counted(*args, **kwargs):
            calls.append(fn_name)
            return real(*args, **kwargs)
        monkeypatch.setattr(torch, fn_name, counted)

    for fn_name in ("tensor", "as_tensor", "from_numpy"):
        forbid(fn_name)
    maker(x, y, _gen(0))
    maker(x, y, _gen(1))
    assert calls == [], f"{name} built tensors from host data: {calls}"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA not available")
@pytest.mark.parametrize("crop_padding", [4, 0])
@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("name", MAKERS)
def test_makers_do_not_sync_cuda(name, train, crop_padding):
    maker = make_views(name, mean=MEAN, std=STD, train=train, crop_padding=crop_padding)
    x, y, g = _images(16, device="cuda"), _labels(16, "cuda"), _gen(0, "cuda")
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(2):
            batch = maker(x, y, g)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert batch.views.shape == (16, maker.num_views, 3, 32, 32)


# --- rotation makers at train time -----------------------------------------------------------

@pytest.mark.parametrize("device", DEVICES)
def test_hssakd_train_views_share_crop_and_flip(device):
    maker = make_views("hssakd", mean=MEAN, std=STD, train=True)
    x = _images(32, device=device)
    batch = maker(x, _labels(32, device), _gen(3, device))
    for r in range(4):
        assert torch.equal(batch.views[:, r], rotate90(batch.views[:, 0], r))
    src = _norm(x.float() / 255)
    assert not torch.allclose(batch.views[:, 0], src), "train views must be cropped/flipped"


@pytest.mark.parametrize("device", DEVICES)
def test_sskd_train_views_share_flip_and_crop_independently(device):
    maker = make_views("sskd", mean=MEAN, std=STD, train=True)
    x = _images(64, device=device)
    batch = maker(x, _labels(64, device), _gen(1, device))
    src = to_float(x)
    shifts = {}
    for flip in (False, True):
        flipped_src = src.flip(-1) if flip else src
        shifts[flip] = torch.stack([
            _find_shifts(batch.views[:, r].rot90(-r, (-2, -1)), flipped_src, 5, 5, transform=_norm)
            for r in range(4)
        ], dim=1)
    ok = {f: (shifts[f] > -99).all(-1) for f in shifts}
    flipped = ok[True][:, 0]
    assert (ok[False][:, 0] ^ flipped).all(), "view 0 must match exactly one flip"
    for r in range(4):
        assert torch.equal(torch.where(flipped, ok[True][:, r], ok[False][:, r]),
                           torch.ones(64, dtype=torch.bool)), f"view {r} lost the shared flip"
    per_view = torch.where(flipped.view(-1, 1, 1), shifts[True], shifts[False])
    assert per_view.abs().max() <= 4
    assert 0 < flipped.sum() < 64
    independent = (per_view != per_view[:, :1]).any(-1).any(-1)
    assert independent.any(), "crops must differ across the views of an image"
    assert (batch.transform_ids == torch.arange(4, device=device)).all()


def test_joint_labels():
    labels = torch.tensor([0, 3, 7])
    rot = torch.arange(4).expand(3, 4)
    assert joint_labels(labels, rot).tolist() == [[0, 1, 2, 3], [12, 13, 14, 15], [28, 29, 30, 31]]
    assert joint_labels(labels, torch.tensor([1, 2, 3])).tolist() == [1, 14, 31]
    with pytest.raises(ValueError):
        joint_labels(labels, torch.full((3, 4), 4))


# --- sskd_paper ------------------------------------------------------------------------------

@pytest.mark.parametrize("train", [True, False])
def test_sskd_paper_views_follow_transform_ids(train):
    maker = make_views("sskd_paper", mean=MEAN, std=STD, train=train)
    batch = maker(_images(64), _labels(64), _gen(5))
    v0 = batch.views[:, 0]
    ids = batch.transform_ids
    assert TRANSFORM_NAMES[GRAYSCALE] == "grayscale"
    assert (ids[:, 0] == IDENTITY).all() and (ids[:, 1] == GRAYSCALE).all()
    assert (ids[:, 3] == RESIZED_CROP).all()
    gray = (batch.views[:, 1] * torch.tensor(STD).view(3, 1, 1) + torch.tensor(MEAN).view(3, 1, 1))
    torch.testing.assert_close(gray[:, 0], gray[:, 2], rtol=0, atol=1e-5)
    assert set(ids[:, 2].tolist()) == {1, 2, 3}
    for i in range(64):
        assert torch.equal(batch.views[i, 2], rotate90(v0[i], int(ids[i, 2])))
    applied = ids[:, 4] == COLOR_DISTORTION
    assert set(ids[:, 4].tolist()) <= {IDENTITY, COLOR_DISTORTION}
    assert 0.6 < applied.float().mean() < 0.95
    assert torch.equal(batch.views[~applied, 4], v0[~applied])
    assert not torch.allclose(batch.views[applied, 4], v0[applied])


# --- determinism -----------------------------------------------------------------------------

@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", MAKERS)
def test_same_seed_same_output_different_seed_different(name, device):
    maker = make_views(name, mean=MEAN, std=STD, train=True)
    x, y = _images(16, device=device), _labels(16, device)
    a, b, c = (maker(x, y, _gen(s, device)) for s in (7, 7, 8))
    assert torch.equal(a.views, b.views) and torch.equal(a.transform_ids, b.transform_ids)
    assert not torch.equal(a.views, c.views)


# --- primitives ------------------------------------------------------------------------------

@pytest.mark.parametrize("device", DEVICES)
def test_random_crop_is_shifted_window_of_padded_input(device):
    x = torch.rand(32, 3, 12, 12, device=device)
    out = random_crop(x, 4, _gen(0, device))
    shifts = _find_shifts(out, x, 6, 6)
    assert (shifts > -99).all(), "every output must be a window of the zero-padded input"
    assert shifts.abs().max() <= 4
    assert len({tuple(s) for s in shifts.tolist()}) > 1, "offsets must be drawn per image"


def test_flip_probability_is_about_half():
    x = torch.tensor([0.0, 1.0]).view(1, 1, 1, 2).expand(4096, 1, 1, 2)
    out = random_hflip(x, _gen(0))
    assert torch.equal(out.flip(-1).sort(-1).values, x)
    frac = (out[..., 0] == 1).float().mean().item()
    assert 0.45 < frac < 0.55


def test_random_resized_crop_shape_and_identity():
    x = torch.rand(6, 3, 32, 32)
    assert random_resized_crop(x, (16, 24), generator=_gen(0)).shape == (6, 3, 16, 24)
    same = random_resized_crop(x, 32, scale=(1.0, 1.0), ratio=(1.0, 1.0), generator=_gen(0))
    torch.testing.assert_close(same, x, rtol=0, atol=1e-5)
    other = random_resized_crop(x, 32, generator=_gen(0))
    assert not torch.allclose(other, x, atol=1e-2)


def test_resized_crop_boxes_fit_and_fall_back_to_centre():
    boxes = augment.sample_resized_crop_boxes(2048, 32, 32, (0.08, 1.0), (3 / 4, 4 / 3),
                                              _gen(0))
    top, left, h, w = boxes.unbind(1)
    assert (top >= 0).all() and (left >= 0).all() and (h >= 1).all() and (w >= 1).all()
    assert (top + h <= 32).all() and (left + w <= 32).all()
    assert torch.equal(boxes, boxes.round())
    assert h.unique().numel() > 10 and top.unique().numel() > 10
    never_fits = augment.sample_resized_crop_boxes(8, 32, 32, (2.0, 3.0), (3 / 4, 4 / 3), _gen(0))
    assert torch.equal(never_fits, torch.tensor([[0.0, 0.0, 32.0, 32.0]]).expand(8, 4))


def test_grayscale_channels_equal_luma():
    x = torch.rand(4, 3, 8, 8)
    g = grayscale(x)
    assert torch.equal(g[:, 0], g[:, 1]) and torch.equal(g[:, 1], g[:, 2])
    torch.testing.assert_close(g[:, 0], 0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2])
    mixed = augment.random_grayscale(x, _gen(0), p=0.5)
    assert not torch.equal(mixed, x) and not torch.equal(mixed, g)


def test_color_jitter_zero_strength_is_identity_and_nonzero_changes():
    x = torch.rand(8, 3, 16, 16)
    assert torch.equal(color_jitter(x, 0, 0, 0, 0, generator=_gen(0)), x)
    out = color_jitter(x, 0.4, 0.4, 0.4, 0.1, generator=_gen(0))
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1
    assert not torch.allclose(out, x, atol=1e-3)


def test_color_jitter_hue_keeps_luma():
    x = 0.4 + 0.2 * torch.rand(8, 3, 16, 16)
    out = color_jitter(x, hue=0.05, generator=_gen(0))
    assert not torch.allclose(out, x, atol=1e-3)
    torch.testing.assert_close(augment.rgb_to_luma(out), augment.rgb_to_luma(x),
                               rtol=0, atol=1e-5)


def test_to_float_rejects_float():
    with pytest.raises(TypeError, match="float32"):
        to_float(torch.rand(1, 3, 2, 2))
    assert torch.equal(to_float(torch.tensor([0, 255], dtype=torch.uint8)), torch.tensor([0.0, 1.0]))
