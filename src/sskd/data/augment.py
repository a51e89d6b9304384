"""Batched, device-side image augmentation primitives.

Every op takes a float batch ``[B, C, H, W]`` with values in ``[0, 1]`` (unless stated) and
returns a new tensor of the same dtype on the same device. Randomness is drawn per image, all
images at once, from the ``generator`` argument (a ``torch.Generator`` living on ``x.device``;
``None`` means the device's default generator), so a seeded generator reproduces a batch bit for
bit. There is no Python loop over images anywhere.

Small constant tensors (normalisation scale/shift, luma weights, rotation tables, YIQ matrices,
jigsaw permutation and tile tables) are built directly on the device by scalar fills or
``arange`` arithmetic, never copied from host memory, and cached per (values, dtype, device), so
steady-state calls issue no host<->device transfer or sync.

These are the building blocks of the multi-view batches of SSKD (Xu et al., "Knowledge
Distillation Meets Self-Supervision", ECCV 2020) and HSSAKD (Yang et al., "Hierarchical
Self-supervised Augmented Knowledge Distillation", TNNLS 2022); see :mod:`sskd.data.views`.
"""

from __future__ import annotations

import functools
import math
import numbers
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F

__all__ = [
    "LUMA_WEIGHTS",
    "to_float",
    "normalize",
    "crop_at",
    "random_crop",
    "hflip_where",
    "random_hflip",
    "rotate90",
    "random_rotate90",
    "sample_resized_crop_boxes",
    "resized_crop",
    "random_resized_crop",
    "rgb_to_luma",
    "grayscale",
    "random_grayscale",
    "color_jitter",
    "jigsaw_permutations",
    "permute_tiles",
    "random_jigsaw",
]

LUMA_WEIGHTS: Tuple[float, float, float] = (0.299, 0.587, 0.114)
"""ITU-R BT.601 luma weights for R, G, B."""

_RGB_TO_YIQ = torch.tensor(
    [[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]], dtype=torch.float64
)
_YIQ_TO_RGB = torch.linalg.inv(_RGB_TO_YIQ)
# Host copies as nested tuples of Python floats: the device versions are filled from these.
_RGB_TO_YIQ_VALUES = tuple(tuple(row) for row in _RGB_TO_YIQ.tolist())
_YIQ_TO_RGB_VALUES = tuple(tuple(row) for row in _YIQ_TO_RGB.tolist())

Generator = Optional[torch.Generator]


def _filled(values: Sequence[float], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """1-D ``values`` as a tensor made on ``device`` by scalar fills (no host->device copy).

    Each element is cast from a Python float (a double) to ``dtype``, exactly as ``.to(dtype)``
    of a float64 tensor would. Made outside inference mode so that a tensor cached during
    evaluation can still be saved for backward later.
    """
    with torch.inference_mode(False):
        out = torch.empty(len(values), dtype=dtype, device=device)
        for i, v in enumerate(values):
            out[i].fill_(v)  # a fill kernel; ``out[i] = v`` would copy a host scalar
    return out


@functools.lru_cache(maxsize=32)
def _normalize_constants(mean: Tuple[float, ...], std: Tuple[float, ...], dtype: torch.dtype,
                         device: torch.device) -> Tuple[torch.Tensor, torch.Tensor]:
    """Cached ``(scale, shift)`` ``[C, 1, 1]`` = ``(1 / std, -mean / std)``, computed in double."""
    scale = _filled([1 / s for s in std], dtype, device).view(-1, 1, 1)
    shift = _filled([-m / s for m, s in zip(mean, std)], dtype, device).view(-1, 1, 1)
    return scale, shift


@functools.lru_cache(maxsize=16)
def _luma_weights(dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Cached ``LUMA_WEIGHTS`` as ``[1, 3, 1, 1]``."""
    return _filled(LUMA_WEIGHTS, dtype, device).view(1, 3, 1, 1)


@functools.lru_cache(maxsize=16)
def _yiq_matrices(dtype: torch.dtype, device: torch.device) -> Tuple[torch.Tensor, torch.Tensor]:
    """Cached ``(RGB->YIQ, YIQ->RGB)`` 3x3 matrices."""
    to_yiq = _filled([v for row in _RGB_TO_YIQ_VALUES for v in row], dtype, device).view(3, 3)
    # Column-major, like the ``linalg.inv`` result it replaces (the layout steers matmul rounding).
    to_rgb = _filled([v for col in zip(*_YIQ_TO_RGB_VALUES) for v in col], dtype, device)
    to_rgb = to_rgb.view(3, 3).t()
    return to_yiq, to_rgb


@functools.lru_cache(maxsize=16)
def _int_table(values: Tuple[int, ...], device: torch.device) -> torch.Tensor:
    """Cached int64 ``[len(values)]``."""
    return _filled(values, torch.int64, device)


def _check_batch(x: torch.Tensor, name: str = "x") -> None:
    if x.dim() != 4:
        raise ValueError(f"{name} must be a [B, C, H, W] batch, got shape {tuple(x.shape)}")


def _uniform(shape: Sequence[int], low: float, high: float, generator: Generator,
             device: torch.device) -> torch.Tensor:
    """Float32 samples of ``U[low, high)`` with the given ``shape``."""
    return torch.rand(tuple(shape), generator=generator, device=device) * (high - low) + low


def _bernoulli(n: int, p: float, generator: Generator, device: torch.device) -> torch.Tensor:
    """Bool ``[n]``: independent coin flips that come up True with probability ``p``."""
    return torch.rand(n, generator=generator, device=device) < p


def _per_image(v: torch.Tensor) -> torch.Tensor:
    """``[B]`` -> ``[B, 1, 1, 1]`` for broadcasting against an image batch."""
    return v.view(-1, 1, 1, 1)


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 ``[..., C, H, W]`` in ``[0, 255]`` -> float32 in ``[0, 1]`` (like ``ToTensor``)."""
    if images.dtype != torch.uint8:
        raise TypeError(f"to_float expects uint8 images, got dtype {images.dtype}")
    return images.to(torch.float32).div_(255.0)


def normalize(x: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """``(x - mean) / std`` per channel; ``x`` is ``[..., C, H, W]`` with ``C == len(mean)``.

    Computed as one fused ``x * (1 / std) - mean / std`` (agrees with it to float32 rounding).
    The per-channel constants are cached per (mean, std, dtype, device).
    """
    if len(mean) != len(std) or x.dim() < 3 or x.shape[-3] != len(mean):
        raise ValueError(
            f"mean/std of length {len(mean)}/{len(std)} do not fit images of shape {tuple(x.shape)}"
        )
    scale, shift = _normalize_constants(tuple(float(m) for m in mean),
                                        tuple(float(s) for s in std), x.dtype, x.device)
    return torch.addcmul(shift, x, scale)


def crop_at(x: torch.Tensor, padding: int, top: torch.Tensor, left: torch.Tensor) -> torch.Tensor:
    """Zero-pad ``x`` by ``padding`` on each side and cut per-image ``H x W`` windows.

    ``x``: ``[B, C, H, W]``; ``top``/``left``: int64 ``[B]`` offsets into the padded image, in
    ``[0, 2 * padding]``. Returns ``[B, C, H, W]``; the whole batch is one ``torch.gather`` over
    the flattened padded pixels (several times faster on CPU than 4-D advanced indexing).
    """
    _check_batch(x)
    b, c, h, w = x.shape
    padded = F.pad(x, (padding, padding, padding, padding))
    width = w + 2 * padding
    rows = top.view(b, 1, 1) + torch.arange(h, device=x.device).view(1, h, 1)
    cols = left.view(b, 1, 1) + torch.arange(w, device=x.device).view(1, 1, w)
    src = (rows * width + cols).view(b, 1, h * w).expand(b, c, h * w)
    return padded.reshape(b, c, -1).gather(2, src).view(b, c, h, w)


def random_crop(x: torch.Tensor, padding: int, generator: Generator = None) -> torch.Tensor:
    """Batched ``RandomCrop(size=(H, W), padding)``: zero padding, independent offsets per image.

    ``[B, C, H, W]`` -> ``[B, C, H, W]``; offsets are uniform over ``[0, 2 * padding]``.
    """
    _check_batch(x)
    offsets = torch.randint(0, 2 * padding + 1, (2, x.shape[0]), generator=generator,
                            device=x.device)
    return crop_at(x, padding, offsets[0], offsets[1])


def hflip_where(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mirror left-right the images of ``x`` ``[B, C, H, W]`` where bool ``mask`` ``[B]`` holds."""
    return torch.where(_per_image(mask), x.flip(-1), x)


def random_hflip(x: torch.Tensor, generator: Generator = None, p: float = 0.5) -> torch.Tensor:
    """Batched ``RandomHorizontalFlip(p)``: each image of ``[B, C, H, W]`` flipped with prob. p."""
    _check_batch(x)
    return hflip_where(x, _bernoulli(x.shape[0], p, generator, x.device))


def _check_square(x: torch.Tensor) -> None:
    if x.shape[-1] != x.shape[-2]:
        raise ValueError(f"rotate90 needs square images, got shape {tuple(x.shape)}")


@functools.lru_cache(maxsize=16)
def _rotation_index_table(size: int, device: torch.device) -> torch.Tensor:
    """int64 ``[4, size*size]``: row k lists, for each output pixel of ``rot90(., k)``, its source."""
    with torch.inference_mode(False):
        grid = torch.arange(size * size, device=device).view(size, size)
        return torch.stack([torch.rot90(grid, k, dims=(0, 1)).reshape(-1) for k in range(4)])


def rotate90(x: torch.Tensor, k: Union[int, torch.Tensor]) -> torch.Tensor:
    """Rotate square images by ``k * 90`` degrees counter-clockwise (row 0 displayed on top).

    Same as ``torch.rot90(x, k, dims=(-2, -1))`` and as ``np.rot90`` on an ``[H, W, C]`` array
    (the rotations of the SSKD and HSSAKD releases). ``x``: ``[..., H, W]`` with ``H == W``;
    ``k``: an int, or an int64 tensor ``[B]`` giving one rotation per image of ``[B, C, H, W]``
    (applied with a single gather). Raises ``ValueError`` for non-square images.
    """
    _check_square(x)
    if not isinstance(k, torch.Tensor):
        return torch.rot90(x, int(k), dims=(-2, -1))
    _check_batch(x)
    b, c, h, w = x.shape
    src = _rotation_index_table(h, x.device)[k.remainder(4)]
    out = x.reshape(b, c, h * w).gather(2, src.unsqueeze(1).expand(b, c, h * w))
    return out.view(b, c, h, w)


def random_rotate90(x: torch.Tensor, generator: Generator = None,
                    choices: Sequence[int] = (1, 2, 3)) -> Tuple[torch.Tensor, torch.Tensor]:
    """Rotate each image of ``[B, C, H, W]`` by a multiple of 90 degrees drawn from ``choices``.

    Returns ``(rotated [B, C, H, W], k int64 [B])``.
    """
    _check_batch(x)
    table = _int_table(tuple(int(c) for c in choices), x.device)
    k = table[torch.randint(0, len(choices), (x.shape[0],), generator=generator, device=x.device)]
    return rotate90(x, k), k


def sample_resized_crop_boxes(batch: int, height: int, width: int,
                              scale: Tuple[float, float] = (0.08, 1.0),
                              ratio: Tuple[float, float] = (3 / 4, 4 / 3),
                              generator: Generator = None, device=None,
                              tries: int = 10) -> torch.Tensor:
    """Per-image ``RandomResizedCrop`` boxes, all images and ``tries`` attempts drawn at once.

    Follows ``torchvision.transforms.RandomResizedCrop.get_params``: the first attempt whose
    box fits is kept; images with no fitting attempt fall back to the central crop clamped to
    ``ratio``. Returns float32 ``[batch, 4]`` integer-valued boxes ``(top, left, h, w)``.
    """
    area = height * width
    log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
    target = area * _uniform((batch, tries), scale[0], scale[1], generator, device)
    aspect = torch.exp(_uniform((batch, tries), log_lo, log_hi, generator, device))
    w = torch.round(torch.sqrt(target * aspect))
    h = torch.round(torch.sqrt(target / aspect))
    fits = (w > 0) & (w <= width) & (h > 0) & (h <= height)
    first = fits.to(torch.int32).argmax(dim=1, keepdim=True)
    found = fits.any(dim=1)
    fb_h, fb_w = _central_crop_size(height, width, ratio)
    h = torch.where(found, h.gather(1, first).squeeze(1), float(fb_h))
    w = torch.where(found, w.gather(1, first).squeeze(1), float(fb_w))
    u = torch.rand((2, batch), generator=generator, device=device)
    top = torch.where(found, torch.floor(u[0] * (height - h + 1)), float((height - fb_h) // 2))
    left = torch.where(found, torch.floor(u[1] * (width - w + 1)), float((width - fb_w) // 2))
    return torch.stack([top, left, h, w], dim=1)


def _central_crop_size(height: int, width: int, ratio: Tuple[float, float]) -> Tuple[int, int]:
    """torchvision's fallback ``(h, w)``: the whole image, clamped to the allowed aspect ratios."""
    in_ratio = width / height
    if in_ratio < min(ratio):
        return int(round(width / min(ratio))), width
    if in_ratio > max(ratio):
        return height, int(round(height * max(ratio)))
    return height, width


def resized_crop(x: torch.Tensor, boxes: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
    """Cut per-image boxes and resample each to ``size`` bilinearly, in one ``grid_sample``.

    ``x``: ``[B, C, H, W]``; ``boxes``: ``[B, 4]`` as ``(top, left, h, w)`` in pixels. Returns
    ``[B, C, size[0], size[1]]``. Pixel centres follow ``align_corners=False`` (as
    ``F.interpolate`` / torchvision resize); no antialiasing, and samples near a box edge may
    blend in the pixel just outside the box rather than replicate the edge.
    """
    _check_batch(x)
    b, c, h_in, w_in = x.shape
    top, left, h, w = boxes.to(x.dtype).unbind(1)
    theta = torch.zeros(b, 2, 3, dtype=x.dtype, device=x.device)
    theta[:, 0, 0] = w / w_in
    theta[:, 0, 2] = (2 * left + w) / w_in - 1
    theta[:, 1, 1] = h / h_in
    theta[:, 1, 2] = (2 * top + h) / h_in - 1
    grid = F.affine_grid(theta, [b, c, size[0], size[1]], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def random_resized_crop(x: torch.Tensor, size: Union[int, Tuple[int, int]],
                        scale: Tuple[float, float] = (0.08, 1.0),
                        ratio: Tuple[float, float] = (3 / 4, 4 / 3),
                        generator: Generator = None) -> torch.Tensor:
    """Batched ``RandomResizedCrop(size, scale, ratio)``: ``[B, C, H, W]`` -> ``[B, C, *size]``."""
    _check_batch(x)
    size = (size, size) if isinstance(size, int) else tuple(size)
    boxes = sample_resized_crop_boxes(x.shape[0], x.shape[-2], x.shape[-1], scale, ratio,
                                      generator, x.device)
    return resized_crop(x, boxes, size)


def rgb_to_luma(x: torch.Tensor) -> torch.Tensor:
    """ITU-R 601 luma of RGB images: ``[B, 3, H, W]`` -> ``[B, 1, H, W]``."""
    _check_batch(x)
    if x.shape[1] != 3:
        raise ValueError(f"expected RGB images [B, 3, H, W], got shape {tuple(x.shape)}")
    return (x * _luma_weights(x.dtype, x.device)).sum(dim=1, keepdim=True)


def grayscale(x: torch.Tensor) -> torch.Tensor:
    """Colour dropping (SSKD's "colour dropping"): luma replicated to 3 equal channels."""
    return rgb_to_luma(x).expand_as(x).contiguous()


def random_grayscale(x: torch.Tensor, generator: Generator = None, p: float = 0.2) -> torch.Tensor:
    """Batched ``RandomGrayscale(p)`` on ``[B, 3, H, W]``."""
    mask = _bernoulli(x.shape[0], p, generator, x.device)
    return torch.where(_per_image(mask), grayscale(x), x)


def _factor_range(strength: float, name: str) -> Tuple[float, float]:
    if strength < 0:
        raise ValueError(f"{name} strength must be >= 0, got {strength}")
    return max(0.0, 1.0 - strength), 1.0 + strength


def _blend(x: torch.Tensor, other: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """``factor * x + (1 - factor) * other`` per image, clamped to ``[0, 1]``."""
    f = _per_image(factor)
    return (f * x + (1 - f) * other).clamp_(0, 1)


def _hue_rotate(x: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """Rotate the chroma (I, Q) of ``[B, 3, H, W]`` by per-image ``angle`` radians in YIQ."""
    b = x.shape[0]
    cos, sin = torch.cos(angle).to(x.dtype), torch.sin(angle).to(x.dtype)
    one, zero = torch.ones_like(cos), torch.zeros_like(cos)
    rot = torch.stack([one, zero, zero, zero, cos, sin, zero, -sin, cos], dim=1).view(b, 3, 3)
    to_yiq, to_rgb = _yiq_matrices(x.dtype, x.device)
    mats = to_rgb @ rot @ to_yiq
    out = torch.bmm(mats, x.reshape(b, 3, -1)).view_as(x)
    return out.clamp_(0, 1)


def color_jitter(x: torch.Tensor, brightness: float = 0.0, contrast: float = 0.0,
                 saturation: float = 0.0, hue: float = 0.0,
                 generator: Generator = None) -> torch.Tensor:
    """Batched ``ColorJitter`` on RGB ``[B, 3, H, W]`` with independent factors per image.

    Factors are drawn as torchvision does (brightness/contrast/saturation uniform in
    ``[max(0, 1 - s), 1 + s]``, hue shift uniform in ``[-hue, hue]`` of a full turn) but applied
    in the FIXED order brightness, contrast, saturation, hue (torchvision shuffles the order per
    call), each followed by a clamp to ``[0, 1]``:

    * brightness: ``x * f``;
    * contrast: blend with the per-image mean of the luma;
    * saturation: blend with the luma image;
    * hue: rotation of the chroma plane of YIQ by ``2 * pi * shift``. This approximates
      torchvision's HSV hue shift (same direction and about the same amount, but luma is kept
      and the hue wheel is not HSV's), and is one 3x3 matrix per image.

    An op whose strength is 0 is skipped, so all-zero strengths return ``x`` unchanged. Exactly
    ``4 * B`` uniform numbers are drawn whatever the strengths.
    """
    _check_batch(x)
    if not 0 <= hue <= 0.5:
        raise ValueError(f"hue strength must be in [0, 0.5], got {hue}")
    u = torch.rand((4, x.shape[0]), generator=generator, device=x.device, dtype=x.dtype)
    out = x
    if brightness:
        lo, hi = _factor_range(brightness, "brightness")
        out = (out * _per_image(lo + u[0] * (hi - lo))).clamp_(0, 1)
    if contrast:
        lo, hi = _factor_range(contrast, "contrast")
        mean = rgb_to_luma(out).mean(dim=(1, 2, 3), keepdim=True)
        out = _blend(out, mean, lo + u[1] * (hi - lo))
    if saturation:
        lo, hi = _factor_range(saturation, "saturation")
        out = _blend(out, rgb_to_luma(out), lo + u[2] * (hi - lo))
    if hue:
        out = _hue_rotate(out, 2 * math.pi * hue * (2 * u[3] - 1))
    return out


# --- jigsaw (Noroozi & Favaro, ECCV 2016) ----------------------------------------------------

def _check_grid(grid: int) -> int:
    """``grid`` as an int if it is a supported jigsaw grid size (only 2 for now)."""
    if isinstance(grid, bool) or not isinstance(grid, numbers.Integral) or grid != 2:
        raise ValueError(
            f"only grid=2 (the 24 permutations of 2x2 tiles) is supported, got grid={grid!r}; "
            "a 3x3 grid has 362880 permutations, of which jigsaw training uses a chosen subset")
    return int(grid)


@functools.lru_cache(maxsize=16)
def _jigsaw_table(grid: int, device: torch.device) -> torch.Tensor:
    """Cached int64 ``[(grid*grid)!, grid*grid]``, rows in ``itertools.permutations`` order.

    Built on the device from the factorial-base (Lehmer) digits d_k of the row index: entry k of
    the row is the d_k-th smallest element not used by entries 0..k-1, which gives exactly
    lexicographic order. One small loop over the grid*grid positions, none over permutations.
    """
    n = grid * grid
    with torch.inference_mode(False):
        index = torch.arange(math.factorial(n), device=device)
        free = torch.ones(index.shape[0], n, dtype=torch.bool, device=device)
        columns = []
        for k in range(n):
            digit = (index // math.factorial(n - 1 - k)) % (n - k)
            rank = free.cumsum(1) - 1  # rank of each free element among the free ones
            pick = (free & (rank == digit.unsqueeze(1))).to(torch.int32).argmax(dim=1)
            columns.append(pick)
            free.scatter_(1, pick.unsqueeze(1), False)
        return torch.stack(columns, dim=1)


def jigsaw_permutations(grid: int, device=None) -> torch.Tensor:
    """All permutations of the ``grid * grid`` jigsaw tiles, as int64 ``[P, grid*grid]``.

    Rows follow ``itertools.permutations(range(grid * grid))`` (lexicographic) order, so row 0 is
    the identity; P = (grid*grid)!. Only ``grid == 2`` (P = 24) is supported: other values raise
    ``ValueError``. ``device``: where the table is made (default CPU); it is built there, never
    copied from the host, and cached per device (this returns a fresh copy of the cached table).
    """
    grid = _check_grid(grid)
    device = torch.device("cpu") if device is None else torch.device(device)
    return _jigsaw_table(grid, device).clone()


def _check_tiles(height: int, width: int, grid: int) -> None:
    if isinstance(grid, bool) or not isinstance(grid, numbers.Integral) or grid < 1:
        raise ValueError(f"grid must be an integer >= 1, got {grid!r}")
    if height % grid or width % grid:
        raise ValueError(f"jigsaw tiles need image height H={height} and width W={width} "
                         f"divisible by grid={grid}")


@functools.lru_cache(maxsize=16)
def _tile_tables(height: int, width: int, grid: int,
                 device: torch.device) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Cached int64 ``(tile_of [H*W], offset [H*W], origin [grid*grid])`` of row-major tiles.

    Pixel p of an ``H x W`` image lies in tile ``tile_of[p]`` at flat offset ``offset[p]`` from
    that tile's top-left pixel, and tile t's top-left pixel is ``origin[t]`` (flat indices).
    """
    th, tw = height // grid, width // grid
    with torch.inference_mode(False):
        rows = torch.arange(height, device=device).view(height, 1)
        cols = torch.arange(width, device=device).view(1, width)
        tile_of = ((rows // th) * grid + cols // tw).reshape(-1)
        offset = ((rows % th) * width + cols % tw).reshape(-1)
        tiles = torch.arange(grid * grid, device=device)
        origin = (tiles // grid) * th * width + (tiles % grid) * tw
    return tile_of, offset, origin


def permute_tiles(x: torch.Tensor, perms: torch.Tensor, grid: int) -> torch.Tensor:
    """Shuffle the tiles of every image: a batched jigsaw puzzle.

    ``x``: ``[N, C, H, W]``, cut into a ``grid x grid`` array of ``(H / grid) x (W / grid)``
    tiles numbered row-major; ``perms``: int64 ``[N, grid*grid]``, one permutation per image.
    Returns ``[N, C, H, W]`` whose tile at position j is the input's tile ``perms[n, j]`` (so
    ``perms`` row 0 of :func:`jigsaw_permutations` leaves the image unchanged, and the inverse
    permutation ``perms.argsort(1)`` undoes it). The whole batch is one ``torch.gather``. Raises
    ``ValueError`` if H or W is not divisible by ``grid``; on CPU also if a row of ``perms`` is not
    a permutation of ``0 .. grid*grid - 1`` (not checked on other devices, to avoid a sync).
    """
    _check_batch(x)
    n, c, h, w = x.shape
    _check_tiles(h, w, grid)
    t = grid * grid
    if perms.shape != (n, t) or perms.is_floating_point() or perms.dtype == torch.bool:
        raise ValueError(f"perms must be integer [{n}, {t}] (one permutation of the {t} tiles "
                         f"per image), got {perms.dtype} {tuple(perms.shape)}")
    perms = perms.to(device=x.device, dtype=torch.int64)
    if perms.device.type == "cpu" and n and not torch.equal(
            perms.sort(dim=1).values, torch.arange(t).expand(n, t)):
        raise ValueError(f"every row of perms must be a permutation of 0..{t - 1}")
    tile_of, offset, origin = _tile_tables(h, w, int(grid), x.device)
    src = origin[perms].index_select(1, tile_of) + offset  # [N, H*W] source pixel per output pixel
    out = x.reshape(n, c, h * w).gather(2, src.unsqueeze(1).expand(n, c, h * w))
    return out.view(n, c, h, w)


def random_jigsaw(x: torch.Tensor, generator: Generator = None,
                  grid: int = 2) -> Tuple[torch.Tensor, torch.Tensor]:
    """Shuffle the ``grid x grid`` tiles of each image of ``[N, C, H, W]`` by a random permutation.

    Each image's permutation is drawn uniformly from the non-identity rows ``1 .. P-1`` of
    :func:`jigsaw_permutations` (``P = 24`` for the only supported ``grid == 2``). Returns
    ``(shuffled [N, C, H, W], perm_index int64 [N])``, with
    ``shuffled == permute_tiles(x, jigsaw_permutations(grid, x.device)[perm_index], grid)``.
    """
    _check_batch(x)
    grid = _check_grid(grid)
    _check_tiles(x.shape[-2], x.shape[-1], grid)
    table = _jigsaw_table(grid, x.device)
    index = torch.randint(1, table.shape[0], (x.shape[0],), generator=generator, device=x.device)
    return permute_tiles(x, table[index], grid), index
