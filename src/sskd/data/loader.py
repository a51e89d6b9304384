"""Batch iteration: whole-tensor slicing for in-memory data, a seeded DataLoader for image folders."""

from __future__ import annotations

import math
import os

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from sskd.data.dataset import ArrayDataset, DatasetFormatError

__all__ = ["ArrayBatchLoader", "FolderLoader", "make_loader", "epoch_seed"]


def epoch_seed(seed: int, epoch: int) -> int:
    """A 63-bit generator seed mixing ``(seed, epoch)``, so that no two pairs share a permutation."""
    if seed < 0 or epoch < 0:
        raise ValueError(f"seed and epoch must be non-negative, got seed={seed}, epoch={epoch}")
    state = np.random.SeedSequence([seed, epoch]).generate_state(1, dtype=np.uint64)[0]
    return int(state) >> 1


class ArrayBatchLoader:
    """Iterate an :class:`ArrayDataset` in batches by indexing whole tensors (no per-image Python loop).

    Each epoch uses ``torch.randperm`` with a generator seeded from ``(seed, epoch)``; call
    :meth:`set_epoch` before each epoch, as with ``DistributedSampler``. With
    ``num_replicas > 1`` every rank takes the strided slice ``perm[rank::num_replicas]`` of the
    same permutation; when the data set does not divide evenly, the permutation is padded by
    wrap-around (``drop_last=False``) or truncated (``drop_last=True``), so all ranks get the
    same number of samples. ``drop_last`` also drops a final incomplete batch.

    If ``device`` is given, the uint8 images and labels are moved there once and batches are
    sliced on it. Yields ``(images uint8 [B, 3, H, W], labels int64 [B])``, and with
    ``with_indices`` also the images' indices in the data set (int64 ``[B]``, same device).
    """

    def __init__(
        self,
        dataset: ArrayDataset,
        batch_size: int,
        *,
        shuffle: bool = True,
        drop_last: bool = False,
        seed: int = 0,
        device: torch.device | str | None = None,
        num_replicas: int = 1,
        rank: int = 0,
        with_indices: bool = False,
    ):
        if batch_size <= 0:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        if num_replicas <= 0 or not (0 <= rank < num_replicas):
            raise ValueError(
                f"need num_replicas >= 1 and 0 <= rank < num_replicas, got {num_replicas=}, {rank=}"
            )
        epoch_seed(seed, 0)
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.seed = seed
        self.num_replicas = num_replicas
        self.rank = rank
        self.with_indices = with_indices
        self.epoch = 0
        self.device = torch.device(device) if device is not None else dataset.images.device
        self.images = dataset.images.to(self.device)
        self.labels = dataset.labels.to(self.device)

    @property
    def num_samples(self) -> int:
        """Samples this rank sees per epoch."""
        n = len(self.dataset)
        return n // self.num_replicas if self.drop_last else math.ceil(n / self.num_replicas)

    def set_epoch(self, epoch: int) -> None:
        epoch_seed(self.seed, epoch)
        self.epoch = epoch

    def indices(self) -> torch.Tensor:
        """This rank's sample indices (int64 ``[num_samples]``, on CPU) for the current epoch."""
        n = len(self.dataset)
        if self.shuffle:
            generator = torch.Generator().manual_seed(epoch_seed(self.seed, self.epoch))
            order = torch.randperm(n, generator=generator)
        else:
            order = torch.arange(n)
        total = self.num_samples * self.num_replicas
        if total > n:
            order = torch.cat([order, order.repeat(math.ceil((total - n) / max(n, 1)))[: total - n]])
        return order[:total][self.rank :: self.num_replicas]

    def __len__(self) -> int:
        if self.drop_last:
            return self.num_samples // self.batch_size
        return math.ceil(self.num_samples / self.batch_size)

    def __iter__(self):
        idx = self.indices().to(self.device)
        for b in range(len(self)):
            batch = idx[b * self.batch_size : (b + 1) * self.batch_size]
            if self.with_indices:
                yield self.images[batch], self.labels[batch], batch
            else:
                yield self.images[batch], self.labels[batch]


class WithIndices(Dataset):
    """``dataset[i]`` followed by ``i``: items ``(image, label, index)``. Forwards the
    ``crop_seed`` of an :class:`ImageFolderDataset`, which :class:`FolderLoader` sets."""

    def __init__(self, dataset: Dataset):
        self.inner = dataset

    def __len__(self) -> int:
        return len(self.inner)

    def __getitem__(self, index: int):
        return (*self.inner[index], index)

    @property
    def crop_seed(self):
        return self.inner.crop_seed

    @crop_seed.setter
    def crop_seed(self, value) -> None:
        self.inner.crop_seed = value


MAX_DEFAULT_WORKERS = 8
PREFETCH_PINNED = 4
PREFETCH_UNPINNED = 2


def _default_workers() -> int:
    """``min(8, available CPUs // processes on this node)``, at least 1.

    The node's process count is ``LOCAL_WORLD_SIZE`` (set by ``torchrun``), 1 without it, so
    that the ranks of a multi-GPU node share its CPUs instead of each starting 8 workers.
    """
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count() or 1
    try:
        local = max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
    except ValueError:
        local = 1
    return max(1, min(MAX_DEFAULT_WORKERS, cpus // local))


def _default_prefetch(num_workers: int, pin_memory: bool) -> int | None:
    """Batches each worker loads ahead: none without workers (the ``DataLoader`` refuses a
    ``prefetch_factor`` then); 4 for a CUDA run (pinned), so that decoding jitter does not
    stall a fast device step; otherwise torch's default 2."""
    if num_workers == 0:
        return None
    return PREFETCH_PINNED if pin_memory else PREFETCH_UNPINNED


class FolderLoader(DataLoader):
    """A ``DataLoader`` whose batches (order and training crops) are a function of ``(seed, epoch)``.

    Call :meth:`set_epoch` before each epoch, as with :class:`ArrayBatchLoader`. Every
    ``iter()`` starts from ``epoch_seed(seed, epoch)``: the loader's generator (shuffle order
    and the worker base seed) is re-seeded with it, a ``DistributedSampler`` gets
    ``set_epoch(epoch)``, and a data set with ``with_crop_seed`` (``ImageFolderDataset``) draws
    the crop of item ``i`` from ``(epoch_seed(seed, epoch), i)``. The crops therefore do not
    depend on ``num_workers`` or on how many epochs ran before. Workers are not persistent,
    so each epoch's workers start from that epoch's seeds (torch, ``random`` and numpy in a
    worker are seeded by the ``DataLoader`` from the generator), which also makes other data
    sets' worker randomness reproducible for a fixed ``num_workers``.

    The data set is shallow-copied when it has ``with_crop_seed``, so the caller's object is
    never changed.
    """

    def __init__(self, dataset: Dataset, *, seed: int, with_indices: bool = False, **kwargs):
        epoch_seed(seed, 0)
        crop_seeded = callable(getattr(dataset, "with_crop_seed", None))
        if crop_seeded:
            dataset = dataset.with_crop_seed(None)
        if with_indices:
            dataset = WithIndices(dataset)
        kwargs["persistent_workers"] = False
        super().__init__(dataset, generator=torch.Generator(), **kwargs)
        self.seed = seed
        self.epoch = 0
        self._crop_seeded = crop_seeded
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        """Make the next ``iter()`` yield epoch ``epoch``'s batches."""
        seed = epoch_seed(self.seed, epoch)
        self.epoch = epoch
        self.generator.manual_seed(seed)
        if isinstance(self.sampler, DistributedSampler):
            self.sampler.set_epoch(epoch)
        if self._crop_seeded:
            self.dataset.crop_seed = seed

    def __iter__(self):
        self.set_epoch(self.epoch)
        return _WorkerErrors(super().__iter__())


class _WorkerErrors:
    """A ``DataLoader`` iterator whose worker errors read as the worker raised them.

    A worker's ``DatasetFormatError`` (e.g. an image that cannot be decoded) comes back as
    ``DatasetFormatError("Caught … in DataLoader worker process 1. Original Traceback …")``;
    it is raised again with the original message alone, the traceback left out.
    """

    def __init__(self, iterator):
        self._iterator = iterator

    def __iter__(self):
        return self

    def __len__(self) -> int:
        return len(self._iterator)

    def __getattr__(self, name):
        return getattr(self._iterator, name)

    def __next__(self):
        try:
            return next(self._iterator)
        except DatasetFormatError as exc:
            original = _worker_message(exc)
            if original is None:
                raise
            raise type(exc)(original) from None


def _worker_message(exc: BaseException) -> str | None:
    """The message a ``DataLoader`` worker's exception had, or None if ``exc`` is not one."""
    text = str(exc)
    if not text.startswith("Caught ") or "Original Traceback" not in text:
        return None
    last = text.rstrip().splitlines()[-1]
    for prefix in (f"{type(exc).__module__}.{type(exc).__qualname__}: ", f"{type(exc).__name__}: "):
        if last.startswith(prefix):
            return last[len(prefix):]
    return None


def make_loader(
    dataset: Dataset,
    batch_size: int,
    shuffle: bool,
    seed: int,
    drop_last: bool = False,
    device: torch.device | str | None = None,
    num_workers: int | None = None,
    num_replicas: int = 1,
    rank: int = 0,
    with_indices: bool = False,
    pin_memory: bool | None = None,
    prefetch_factor: int | None = None,
):
    """An :class:`ArrayBatchLoader` for an :class:`ArrayDataset`; a :class:`FolderLoader` for any other data set.

    Both have ``set_epoch(epoch)``: call it before each epoch; the same ``(seed, epoch)``
    gives the same batches. For the :class:`FolderLoader` (a ``DataLoader``, e.g. for an
    :class:`ImageFolderDataset`): ``num_workers=None`` means ``min(8, available CPUs // local
    processes)`` (``LOCAL_WORLD_SIZE``, 1 without it); a ``DistributedSampler`` is used when
    ``num_replicas > 1``; order, worker seeds and training crops come from ``(seed, epoch)``;
    workers are restarted every epoch. ``pin_memory``: batches are put in page-locked memory,
    so that ``.to(device, non_blocking=True)`` overlaps the copy with compute; pass
    ``device.type == "cuda"`` (``None``, the default, pins whenever CUDA is available).
    ``prefetch_factor``: batches each worker loads ahead (``None``: 4 when pinned, else 2;
    ignored without workers). Pinning and prefetching change no batch's contents.
    ``device`` is used only by the array loader: DataLoader batches stay on the CPU.
    ``num_workers``, ``pin_memory`` and ``prefetch_factor`` are ignored for array data sets.
    ``with_indices``: batches are ``(images, labels, indices)``, the indices of the images
    in ``dataset``.
    """
    if isinstance(dataset, ArrayDataset):
        return ArrayBatchLoader(
            dataset,
            batch_size,
            shuffle=shuffle,
            drop_last=drop_last,
            seed=seed,
            device=device,
            num_replicas=num_replicas,
            rank=rank,
            with_indices=with_indices,
        )
    workers = _default_workers() if num_workers is None else num_workers
    if workers < 0:
        raise ValueError(f"num_workers must be >= 0, got {workers}")
    pin = torch.cuda.is_available() if pin_memory is None else bool(pin_memory)
    if prefetch_factor is not None and prefetch_factor <= 0:
        raise ValueError(f"prefetch_factor must be positive, got {prefetch_factor}")
    prefetch = None if workers == 0 else prefetch_factor or _default_prefetch(workers, pin)
    sampler = None
    if num_replicas > 1:
        sampler = DistributedSampler(
            dataset, num_replicas=num_replicas, rank=rank, shuffle=shuffle, seed=seed, drop_last=drop_last
        )
    return FolderLoader(
        dataset,
        seed=seed,
        with_indices=with_indices,
        batch_size=batch_size,
        shuffle=shuffle if sampler is None else False,
        sampler=sampler,
        drop_last=drop_last,
        num_workers=workers,
        pin_memory=pin,
        prefetch_factor=prefetch,
    )
