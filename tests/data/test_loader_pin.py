"""Pinned memory, prefetching and default worker counts of image-folder loaders (no GPU needed)."""

import warnings

import pytest
import torch

from sskd.config import DataConfig
from sskd.data import ArrayBatchLoader, ArrayDataset, DatasetInfo, ImageFolderDataset, make_loader
from sskd.data import loader as loader_module
from sskd.engine.data import eval_loader, train_loader
from sskd.engine.distributed import DistInfo


def batches(loader, epoch=1):
    loader.set_epoch(epoch)
    with warnings.catch_warnings():
        # pin_memory=True without an accelerator: the DataLoader warns and does not pin
        warnings.filterwarnings("ignore", message=".*pin_memory.*")
        return [tuple(t.clone() for t in batch) for batch in loader]


@pytest.mark.parametrize("workers", [0, 2])
def test_pin_and_prefetch_follow_the_request(image_folder_root, workers):
    folder = ImageFolderDataset(image_folder_root, "train", image_size=8)
    pinned = make_loader(folder, 2, shuffle=True, seed=0, num_workers=workers, pin_memory=True)
    plain = make_loader(folder, 2, shuffle=True, seed=0, num_workers=workers, pin_memory=False)
    assert pinned.pin_memory is True and plain.pin_memory is False
    assert pinned.num_workers == plain.num_workers == workers
    if workers:
        assert pinned.prefetch_factor == loader_module.PREFETCH_PINNED == 4
        assert plain.prefetch_factor == loader_module.PREFETCH_UNPINNED == 2
    else:
        assert pinned.prefetch_factor is None and plain.prefetch_factor is None
    custom = make_loader(folder, 2, shuffle=True, seed=0, num_workers=2, pin_memory=True, prefetch_factor=3)
    assert custom.prefetch_factor == 3


def test_pin_memory_default_is_whether_cuda_is_available(image_folder_root):
    folder = ImageFolderDataset(image_folder_root, "train", image_size=8)
    assert make_loader(folder, 2, shuffle=False, seed=0, num_workers=0).pin_memory is torch.cuda.is_available()


def test_bad_worker_and_prefetch_counts(image_folder_root):
    folder = ImageFolderDataset(image_folder_root, "train", image_size=8)
    with pytest.raises(ValueError, match="num_workers"):
        make_loader(folder, 2, shuffle=False, seed=0, num_workers=-1)
    with pytest.raises(ValueError, match="prefetch_factor"):
        make_loader(folder, 2, shuffle=False, seed=0, num_workers=2, prefetch_factor=0)


@pytest.mark.parametrize("workers", [0, 2])
def test_batches_are_the_same_with_and_without_pinning(noise_folder_root, workers):
    folder = ImageFolderDataset(noise_folder_root, "train", image_size=8)
    pinned = batches(make_loader(folder, 3, shuffle=True, seed=7, num_workers=workers, pin_memory=True,
                                 with_indices=True))
    plain = batches(make_loader(folder, 3, shuffle=True, seed=7, num_workers=0, pin_memory=False,
                                with_indices=True))
    assert len(pinned) == len(plain) == 4
    for a, b in zip(pinned, plain):
        assert all(torch.equal(x, y) for x, y in zip(a, b))
        assert a[0].dtype == torch.uint8 and a[0].shape[1:] == (3, 8, 8)
    if torch.cuda.is_available():
        loader = make_loader(folder, 3, shuffle=True, seed=7, num_workers=workers, pin_memory=True)
        assert next(iter(loader))[0].is_pinned()


def test_array_loaders_ignore_pinning():
    images = torch.zeros(6, 3, 2, 2, dtype=torch.uint8)
    data = ArrayDataset(images, torch.zeros(6, dtype=torch.int64), DatasetInfo("toy", 1, 2, (0.5,) * 3, (0.5,) * 3))
    loader = make_loader(data, 4, shuffle=False, seed=0, pin_memory=True, prefetch_factor=4, num_workers=3)
    assert isinstance(loader, ArrayBatchLoader) and len(loader) == 2


def test_default_workers_share_the_cpus_of_a_node(monkeypatch):
    monkeypatch.setattr(loader_module.os, "sched_getaffinity", lambda pid: set(range(32)), raising=False)
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    assert loader_module._default_workers() == 8
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "8")
    assert loader_module._default_workers() == 4
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "64")
    assert loader_module._default_workers() == 1
    monkeypatch.setattr(loader_module.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "1")
    assert loader_module._default_workers() == 2


@pytest.mark.parametrize("device, pinned", [("cuda", True), ("cpu", False)])
def test_engine_folder_loaders_pin_for_a_cuda_run(image_folder_root, device, pinned):
    """The run's device decides: a CUDA run pins (and prefetches 4 batches a worker), a CPU
    run does not, whether or not this machine has CUDA (no GPU is touched here)."""
    folder = ImageFolderDataset(image_folder_root, "train", image_size=8)
    cfg = DataConfig(batch_size=2, eval_batch_size=2, workers=2)
    train = train_loader(folder, cfg, 0, torch.device(device), DistInfo())
    test = eval_loader(folder.for_evaluation(), cfg, torch.device(device), DistInfo())
    for loader in (train, test):
        assert loader.pin_memory is pinned
        assert loader.prefetch_factor == (4 if pinned else 2)
