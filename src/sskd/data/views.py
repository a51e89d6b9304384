"""Multi-view batches for self-supervised distillation, made on the device.

Loaders yield uint8 images ``[B, C, H, W]``; a *view maker* turns them into a float32 batch
``[B, V, C, H, W]`` holding V views of every image (view 0 the normal image), normalised as the
last step. Networks see ``flatten_views(views)``, ``[B*V, C, H, W]`` with row ``V*i + v`` holding
image i, view v: the interleaved order of the SSKD and HSSAKD releases.

Makers (``make_views(name, mean=..., std=..., train=..., crop_padding=4)``, names from
``list_view_makers()``):

* ``"standard"``: V = 1; train: RandomCrop(pad 4) + horizontal flip; test: the image.
* ``"sskd"``: the SSKD release (Xu et al., ECCV 2020). Train: one horizontal flip per image
  shared by the 4 views, rotations by 0/90/180/270 degrees, then an independent RandomCrop
  (pad 4) per view. Test: the 4 rotations. V = 4.
* ``"hssakd"``: the HSSAKD release (Yang et al., TNNLS 2022). Train: one RandomCrop (pad 4) +
  flip per image shared by the 4 views, then the 4 rotations. Test: the 4 rotations. V = 4. The
  joint (class, rotation) targets are ``joint_labels(batch.labels, batch.transform_ids)``.
* ``"sskd_paper"``: the four transformations named in the SSKD paper, V = 5; see
  :class:`SSKDPaperViews`.
* ``"jigsaw"``: the jigsaw pretext task (Noroozi & Favaro, ECCV 2016; one of the pretext tasks
  compared in Table 2 of the SSKD paper), V = 4. Train: one RandomCrop (pad 4) + flip per image
  shared by the 4 views; view 0 is that image, views 1-3 are it with its 2 x 2 tiles shuffled by
  independent random non-identity permutations. Test: the same without the crop and flip. The
  permutation targets are ``jigsaw_targets(batch.transform_ids)``; see :class:`JigsawViews`.

``transform_ids`` ``[B, V]`` says which transformation each view got, in one vocabulary shared
by all makers: ``IDENTITY = 0``, ``ROT90/ROT180/ROT270 = 1/2/3`` (so the id of a rotated view is
its rotation index r), ``GRAYSCALE = 4``, ``RESIZED_CROP = 5``, ``COLOR_DISTORTION = 6``,
``JIGSAW = 7``; names in ``TRANSFORM_NAMES``. A view whose tiles were shuffled by permutation p
(the row index into ``sskd.data.augment.jigsaw_permutations(2)``, p in 1..23 for the 2 x 2 grid;
p = 0 is the identity and is never drawn) has id ``JIGSAW + p``, so ids ``JIGSAW + 1`` ..
``JIGSAW + 23`` (8..30) are all jigsaw views; ``jigsaw_targets(transform_ids)`` gives p back, 0
for every other view. The crop/flip applied to every view of a training batch is not recorded.

``crop_padding`` (default 4) is the zero padding of every training-time RandomCrop above; 0
leaves the pad-and-crop step out (flips and everything else unchanged). Use 0 for image-folder
data sets, whose loaders already apply RandomResizedCrop (the HSSAKD ImageNet pipeline is
RandomResizedCrop + flip only). The batched primitives live in :mod:`sskd.data.augment`.
"""

from __future__ import annotations

import numbers
from typing import ClassVar, List, NamedTuple, Optional, Sequence, Tuple, Type

import torch

from sskd.data.augment import (
    color_jitter,
    grayscale,
    normalize,
    random_crop,
    random_hflip,
    random_jigsaw,
    random_resized_crop,
    random_rotate90,
    rotate90,
    to_float,
)
from sskd.registry import Registry

__all__ = [
    "IDENTITY", "ROT90", "ROT180", "ROT270", "GRAYSCALE", "RESIZED_CROP", "COLOR_DISTORTION",
    "JIGSAW", "TRANSFORM_NAMES", "MultiViewBatch", "flatten_views", "unflatten_views",
    "joint_labels", "jigsaw_targets", "ViewMaker", "StandardViews", "SSKDViews", "HSSAKDViews",
    "SSKDPaperViews", "JigsawViews", "VIEW_MAKERS", "register_view_maker", "make_views",
    "list_view_makers",
]

IDENTITY, ROT90, ROT180, ROT270, GRAYSCALE, RESIZED_CROP, COLOR_DISTORTION, JIGSAW = range(8)
TRANSFORM_NAMES: Tuple[str, ...] = (
    "identity", "rot90", "rot180", "rot270", "grayscale", "resized_crop", "color_distortion",
    "jigsaw",
)
_JIGSAW_PERMUTATIONS = 24
"""Number of 2 x 2 jigsaw permutations: ids ``JIGSAW .. JIGSAW + 23`` are reserved for them."""
CROP_PADDING = 4
"""Default zero padding of the training-time RandomCrop (``crop_padding``)."""


class MultiViewBatch(NamedTuple):
    """A batch of B images seen through V views each.

    ``views``: float32 ``[B, V, C, H, W]``, normalised, view 0 the normal image;
    ``labels``: int64 ``[B]``; ``transform_ids``: int64 ``[B, V]`` (see the module docstring);
    ``indices``: int64 ``[B]``, each image's index in the training set (set by the trainer,
    e.g. for CRD's memory bank), or ``None``.
    """

    views: torch.Tensor
    labels: torch.Tensor
    transform_ids: torch.Tensor
    indices: Optional[torch.Tensor] = None


def flatten_views(x: torch.Tensor) -> torch.Tensor:
    """``[B, V, C, H, W]`` -> ``[B*V, C, H, W]``, image-major: row ``V*i + v`` is image i, view v."""
    if x.dim() != 5:
        raise ValueError(f"expected [B, V, C, H, W], got shape {tuple(x.shape)}")
    return x.reshape(-1, *x.shape[2:])


def unflatten_views(x: torch.Tensor, num_views: int) -> torch.Tensor:
    """Inverse of :func:`flatten_views`: ``[B*V, ...]`` -> ``[B, V, ...]``."""
    if x.shape[0] % num_views:
        raise ValueError(f"leading size {x.shape[0]} is not a multiple of num_views={num_views}")
    return x.reshape(-1, num_views, *x.shape[1:])


def joint_labels(labels: torch.Tensor, rotations: torch.Tensor,
                 num_rotations: int = 4) -> torch.Tensor:
    """HSSAKD's joint (class, rotation) targets ``num_rotations * y + r``.

    ``labels``: int ``[B]``; ``rotations``: int ``[B, V]`` (e.g. ``transform_ids`` of the
    "hssakd" maker) or ``[B]``. Returns int64 ``[B, V]`` (resp. ``[B]``); ``.reshape(-1)`` lines
    it up with :func:`flatten_views`. On CPU, rotations outside ``[0, num_rotations)`` raise.
    """
    if rotations.device.type == "cpu" and rotations.numel() and (
            rotations.min() < 0 or rotations.max() >= num_rotations):
        raise ValueError(f"rotation indices must lie in [0, {num_rotations})")
    y = labels.to(torch.int64)
    if rotations.dim() == y.dim() + 1:
        y = y.unsqueeze(-1)
    return num_rotations * y + rotations.to(torch.int64)


def jigsaw_targets(transform_ids: torch.Tensor) -> torch.Tensor:
    """The jigsaw permutation index of every view: ``transform_ids - JIGSAW`` for jigsaw views.

    ``transform_ids``: int ``[...]`` (e.g. ``[B, V]`` of the "jigsaw" maker). Returns int64 of the
    same shape: p in 1..23 for a view with id ``JIGSAW + p``, and 0 (the identity permutation,
    row 0 of ``jigsaw_permutations(2)``) for every view that is not a jigsaw view. Computed on
    the ids' device with ``torch.where``; ``.reshape(-1)`` lines it up with :func:`flatten_views`.
    """
    ids = transform_ids.to(torch.int64)
    is_jigsaw = (ids > JIGSAW) & (ids < JIGSAW + _JIGSAW_PERMUTATIONS)
    return torch.where(is_jigsaw, ids - JIGSAW, 0)


class ViewMaker:
    """Base of the view makers: ``maker(images, labels, generator) -> MultiViewBatch``.

    ``images``: uint8 ``[B, C, H, W]`` on any device (float input raises ``TypeError``);
    ``labels``: integer ``[B]``; ``generator``: a ``torch.Generator`` on the images' device (or
    ``None`` for the default one). Subclasses set ``num_views`` and implement :meth:`_make`,
    which sees ``[0, 1]`` floats; normalisation with ``mean``/``std`` is applied afterwards.
    ``crop_padding``: zero padding of the training-time RandomCrop; 0 leaves the crop out.
    """

    name: ClassVar[str] = ""
    num_views: ClassVar[int] = 1

    def __init__(self, mean: Sequence[float], std: Sequence[float], train: bool = True, *,
                 crop_padding: int = CROP_PADDING):
        if len(mean) != len(std):
            raise ValueError(f"mean and std differ in length: {len(mean)} vs {len(std)}")
        if (isinstance(crop_padding, bool) or not isinstance(crop_padding, numbers.Integral)
                or crop_padding < 0):
            raise ValueError(f"crop_padding must be an integer >= 0, got {crop_padding!r}")
        self.mean: Tuple[float, ...] = tuple(float(m) for m in mean)
        self.std: Tuple[float, ...] = tuple(float(s) for s in std)
        self.train = bool(train)
        self.crop_padding = int(crop_padding)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(mean={self.mean}, std={self.std}, train={self.train}, "
                f"crop_padding={self.crop_padding})")

    def __call__(self, images: torch.Tensor, labels: torch.Tensor,
                 generator: Optional[torch.Generator] = None) -> MultiViewBatch:
        self._check_inputs(images, labels, generator)
        views, ids = self._make(to_float(images), generator)
        views = normalize(views, self.mean, self.std).contiguous()
        return MultiViewBatch(views, labels.to(device=images.device, dtype=torch.int64), ids)

    def _make(self, x: torch.Tensor,
              generator: Optional[torch.Generator]) -> Tuple[torch.Tensor, torch.Tensor]:
        """``[B, C, H, W]`` in ``[0, 1]`` -> (``[B, V, C, H, W]`` in ``[0, 1]``, ids ``[B, V]``)."""
        raise NotImplementedError

    def _check_inputs(self, images: torch.Tensor, labels: torch.Tensor,
                      generator: Optional[torch.Generator]) -> None:
        if images.dtype != torch.uint8:
            raise TypeError(f"{self.name or type(self).__name__} expects uint8 images, "
                            f"got dtype {images.dtype}")
        if images.dim() != 4 or images.shape[1] != len(self.mean):
            raise ValueError(f"expected uint8 [B, {len(self.mean)}, H, W] images, "
                             f"got shape {tuple(images.shape)}")
        if labels.shape != images.shape[:1] or labels.is_floating_point():
            raise ValueError(f"expected integer labels of shape [{images.shape[0]}], "
                             f"got {labels.dtype} {tuple(labels.shape)}")
        if generator is not None and not _same_device(generator.device, images.device):
            raise ValueError(f"generator lives on {generator.device}, images on {images.device}")


def _full_device(device: torch.device) -> torch.device:
    """``device`` with a missing CUDA index replaced by the current CUDA device's."""
    if device.type == "cuda" and device.index is None:
        return torch.device("cuda", torch.cuda.current_device())
    return device


def _same_device(a: torch.device, b: torch.device) -> bool:
    """Whether ``a`` and ``b`` are one device (type and index; a missing index means current)."""
    if a.type != b.type:
        return False
    a, b = _full_device(a), _full_device(b)
    # CPU, and other backends whose "current device" we cannot ask for generically.
    return a.index is None or b.index is None or a.index == b.index


def _constant_ids(batch: int, ids: Sequence[int], device: torch.device) -> torch.Tensor:
    """int64 ``[batch, len(ids)]`` with every row equal to ``ids``, made on ``device``.

    Filled on the device (``arange`` / ``full`` / per-column fills), never copied from the host.
    """
    ids = [int(i) for i in ids]
    if ids == list(range(len(ids))):
        row = torch.arange(len(ids), dtype=torch.int64, device=device)
        return row.expand(batch, -1).contiguous()
    out = torch.full((batch, len(ids)), ids[0] if ids else 0, dtype=torch.int64, device=device)
    for j, v in enumerate(ids):
        if v != ids[0]:
            out[:, j].fill_(v)
    return out


def _four_rotations(x: torch.Tensor) -> torch.Tensor:
    """``[B, C, H, W]`` -> ``[B, 4, C, H, W]`` whose view r is ``rotate90(x, r)``."""
    return torch.stack([rotate90(x, r) for r in range(4)], dim=1)


def _maybe_crop(x: torch.Tensor, padding: int,
                generator: Optional[torch.Generator]) -> torch.Tensor:
    """RandomCrop(pad ``padding``) per image of ``[B, C, H, W]``; ``padding == 0``: ``x`` as is."""
    return random_crop(x, padding, generator) if padding else x


def _crop_and_flip(x: torch.Tensor, padding: int,
                   generator: Optional[torch.Generator]) -> torch.Tensor:
    """RandomCrop(pad ``padding``, skipped for 0) then RandomHorizontalFlip, per image."""
    return random_hflip(_maybe_crop(x, padding, generator), generator)


VIEW_MAKERS: Registry[Type[ViewMaker]] = Registry("view maker")


def register_view_maker(name: str):
    """Class decorator: register a :class:`ViewMaker` subclass under ``name``."""
    return VIEW_MAKERS.class_decorator(name)


def list_view_makers() -> List[str]:
    """Names accepted by :func:`make_views`, sorted."""
    return sorted(VIEW_MAKERS)


def make_views(name: str, *, mean: Sequence[float], std: Sequence[float],
               train: bool = True, crop_padding: int = CROP_PADDING) -> ViewMaker:
    """Build the view maker registered as ``name``; unknown names raise ``ValueError``.

    ``crop_padding``: zero padding of the training-time RandomCrop (default 4, as on CIFAR);
    0 leaves the pad-and-crop step out, e.g. for image folders whose loaders already apply
    RandomResizedCrop.
    """
    return VIEW_MAKERS.get(name)(mean, std, train, crop_padding=crop_padding)


@register_view_maker("standard")
class StandardViews(ViewMaker):
    """One view: RandomCrop(pad 4) + horizontal flip at train time, the image at test time.

    (Here and below, "pad 4" is the default ``crop_padding``; 0 leaves the crop out.)
    """

    num_views = 1

    def _make(self, x, generator):
        if self.train:
            x = _crop_and_flip(x, self.crop_padding, generator)
        return x.unsqueeze(1), _constant_ids(x.shape[0], [IDENTITY], x.device)


@register_view_maker("sskd")
class SSKDViews(ViewMaker):
    """The four rotated views of the SSKD release (Xu et al., ECCV 2020).

    Train: one flip (p = 0.5) per image shared by all views, rotation of the flipped image by
    r * 90 degrees for view r, then an independent RandomCrop(pad 4) per view. Test: the four
    rotations. ``transform_ids[:, r] == r``. Square images only.
    """

    num_views = 4

    def _make(self, x, generator):
        b = x.shape[0]
        if self.train:
            x = random_hflip(x, generator)
        views = _four_rotations(x)
        if self.train:
            views = unflatten_views(
                _maybe_crop(flatten_views(views), self.crop_padding, generator), 4)
        return views, _constant_ids(b, range(4), x.device)


@register_view_maker("hssakd")
class HSSAKDViews(ViewMaker):
    """The four rotated views of the HSSAKD release (Yang et al., TNNLS 2022).

    Train: one RandomCrop(pad 4) + flip per image shared by all views, then view r is the
    rotation by r * 90 degrees; test: the four rotations. ``transform_ids[:, r] == r`` and the
    joint targets are ``joint_labels(labels, transform_ids)``. Square images only.
    """

    num_views = 4

    def _make(self, x, generator):
        if self.train:
            x = _crop_and_flip(x, self.crop_padding, generator)
        return _four_rotations(x), _constant_ids(x.shape[0], range(4), x.device)


@register_view_maker("sskd_paper")
class SSKDPaperViews(ViewMaker):
    """The four transformations named in the SSKD paper (Xu et al., ECCV 2020).

    View 0 is the normal image (RandomCrop(pad 4) + flip at train time, the image at test time);
    views 1-4 are made from view 0:

    1. colour dropping (``grayscale``), id ``GRAYSCALE``;
    2. rotation by a per-image random multiple of 90 degrees in {90, 180, 270}, id = r in 1..3;
    3. crop + resize (``random_resized_crop`` back to H x W, scale (0.2, 1)), id
       ``RESIZED_CROP``;
    4. colour distortion: SimCLR-style ``ColorJitter(0.4, 0.4, 0.4, 0.1)`` applied with probability
       0.8 per image; id ``COLOR_DISTORTION``, or ``IDENTITY`` where it was not applied.

    At test time only view 0's crop + flip is left out: grayscale is deterministic, and the
    rotation, box and jitter draws come from ``generator`` (reproducible for a given seed).
    Random draws happen in view order. Square images only.
    """

    num_views = 5
    jitter = (0.4, 0.4, 0.4, 0.1)
    jitter_p = 0.8
    crop_scale = (0.2, 1.0)

    def _make(self, x, generator):
        b, _, h, w = x.shape
        if self.train:
            x = _crop_and_flip(x, self.crop_padding, generator)
        rotated, k = random_rotate90(x, generator)
        cropped = random_resized_crop(x, (h, w), scale=self.crop_scale, generator=generator)
        jittered = color_jitter(x, *self.jitter, generator=generator)
        applied = torch.rand(b, generator=generator, device=x.device) < self.jitter_p
        distorted = torch.where(applied.view(b, 1, 1, 1), jittered, x)
        views = torch.stack([x, grayscale(x), rotated, cropped, distorted], dim=1)
        ids = _constant_ids(b, [IDENTITY, GRAYSCALE, 0, RESIZED_CROP, 0], x.device)
        ids[:, 2] = k
        ids[:, 4] = torch.where(applied, COLOR_DISTORTION, IDENTITY)
        return views, ids


@register_view_maker("jigsaw")
class JigsawViews(ViewMaker):
    """Jigsaw views (Noroozi & Favaro, ECCV 2016), a pretext task of the SSKD paper's Table 2.

    Train: one RandomCrop(pad 4) + flip per image shared by all views; view 0 is that image (id
    ``IDENTITY``), and views 1-3 are that image cut into ``grid x grid = 2 x 2`` tiles shuffled
    by independent permutations drawn uniformly from the 23 non-identity ones (id
    ``JIGSAW + p``, p the row of ``jigsaw_permutations(2)``; see ``random_jigsaw``). Test: no
    crop or flip; the permutations are still drawn from ``generator`` (reproducible for a given
    seed), as :class:`SSKDPaperViews` does. The permutation targets are
    ``jigsaw_targets(transform_ids)`` (0 for view 0). H and W must be even (``ValueError``
    otherwise); the images need not be square.
    """

    num_views = 4
    grid: ClassVar[int] = 2

    def _make(self, x, generator):
        b, c, h, w = x.shape
        if self.train:
            x = _crop_and_flip(x, self.crop_padding, generator)
        k = self.num_views - 1
        repeated = x.unsqueeze(1).expand(b, k, c, h, w).reshape(b * k, c, h, w)
        shuffled, p = random_jigsaw(repeated, generator, self.grid)  # image-major draws
        views = torch.cat([x.unsqueeze(1), shuffled.view(b, k, c, h, w)], dim=1)
        ids = torch.cat([torch.full((b, 1), IDENTITY, dtype=torch.int64, device=x.device),
                         JIGSAW + p.view(b, k)], dim=1)
        return views, ids
