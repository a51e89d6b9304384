"""ArrayBatchLoader (whole-tensor batching, epochs, sharding) and make_loader."""

import pytest
import torch
from torch.utils.data import DataLoader, DistributedSampler

from sskd.data import ArrayBatchLoader, ArrayDataset, DatasetInfo, ImageFolderDataset, make_loader
from sskd.data.loader import FolderLoader


def make_dataset(n=23):
    images = (torch.arange(n) % 256).to(torch.uint8).view(n, 1, 1, 1).expand(n, 3, 2, 2).contiguous()
    labels = torch.arange(n, dtype=torch.int64) % 5
    return ArrayDataset(images, labels, DatasetInfo("toy", 5, 2, (0.5,) * 3, (0.5,) * 3))


def ids(batches):
    return [int(i) for images, _ in batches for i in images[:, 0, 0, 0]]


def test_batches_cover_every_index_once_and_match_labels():
    ds = make_dataset()
    loader = ArrayBatchLoader(ds, batch_size=5, shuffle=True, seed=0)
    batches = list(loader)
    assert len(loader) == len(batches) == 5
    assert [len(b[1]) for b in batches] == [5, 5, 5, 5, 3]
    assert sorted(ids(batches)) == list(range(23)) and ids(batches) != list(range(23))
    for images, labels in batches:
        assert images.dtype == torch.uint8 and images.shape[1:] == (3, 2, 2) and labels.dtype == torch.int64
        assert torch.equal(labels, images[:, 0, 0, 0].long() % 5)


def test_no_shuffle_keeps_order():
    assert ids(ArrayBatchLoader(make_dataset(), 4, shuffle=False)) == list(range(23))


def test_reproducible_per_seed_and_epoch():
    ds = make_dataset()
    a, b = ArrayBatchLoader(ds, 8, seed=3), ArrayBatchLoader(ds, 8, seed=3)
    first = ids(a)
    assert ids(a) == first == ids(b)
    a.set_epoch(1)
    second = ids(a)
    assert second != first and sorted(second) == list(range(23))
    b.set_epoch(1)
    assert ids(b) == second
    assert ids(ArrayBatchLoader(ds, 8, seed=4)) != first


def test_seed_and_epoch_are_not_simply_added():
    ds = make_dataset()
    c, d = ArrayBatchLoader(ds, 8, seed=3), ArrayBatchLoader(ds, 8, seed=1)
    c.set_epoch(1)
    d.set_epoch(3)
    assert ids(c) != ids(d)


def test_drop_last_sizes():
    loader = ArrayBatchLoader(make_dataset(), 5, drop_last=True)
    batches = list(loader)
    assert len(loader) == len(batches) == 4 and all(len(b[1]) == 5 for b in batches)
    assert len(set(ids(batches))) == 20


def test_two_ranks_are_disjoint_and_cover_the_data():
    ds = make_dataset(24)
    shards = [ids(ArrayBatchLoader(ds, 5, seed=9, num_replicas=2, rank=r)) for r in (0, 1)]
    assert len(shards[0]) == len(shards[1]) == 12
    assert not set(shards[0]) & set(shards[1])
    assert sorted(shards[0] + shards[1]) == list(range(24))


def test_uneven_shards_pad_by_wrap_around_or_truncate():
    ds = make_dataset(23)
    padded = [ids(ArrayBatchLoader(ds, 4, seed=2, num_replicas=3, rank=r)) for r in range(3)]
    assert [len(s) for s in padded] == [8, 8, 8]
    together = padded[0] + padded[1] + padded[2]
    assert set(together) == set(range(23)) and len(together) == 24
    truncated = [ids(ArrayBatchLoader(ds, 4, seed=2, num_replicas=3, rank=r, drop_last=True)) for r in range(3)]
    assert [len(s) for s in truncated] == [4, 4, 4]
    flat = truncated[0] + truncated[1] + truncated[2]
    assert len(set(flat)) == 12


def test_matches_distributed_sampler_order_without_shuffle():
    ds = make_dataset(23)
    for rank in range(3):
        sampler = DistributedSampler(range(23), num_replicas=3, rank=rank, shuffle=False)
        assert ids(ArrayBatchLoader(ds, 100, shuffle=False, num_replicas=3, rank=rank)) == list(sampler)


def test_device_placement_on_cpu():
    loader = ArrayBatchLoader(make_dataset(), 6, device="cpu")
    assert loader.images.device == torch.device("cpu")
    images, labels = next(iter(loader))
    assert images.device.type == "cpu" and labels.device.type == "cpu"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_device_placement_on_cuda():
    loader = ArrayBatchLoader(make_dataset(), 6, device="cuda")
    images, labels = next(iter(loader))
    assert images.is_cuda and labels.is_cuda and sorted(ids(loader)) == list(range(23))


def test_bad_arguments():
    with pytest.raises(ValueError):
        ArrayBatchLoader(make_dataset(), 0)
    with pytest.raises(ValueError):
        ArrayBatchLoader(make_dataset(), 4, num_replicas=2, rank=2)


def test_make_loader_picks_the_loader_type(image_folder_root):
    array_loader = make_loader(make_dataset(), 4, shuffle=True, seed=0, device="cpu")
    assert isinstance(array_loader, ArrayBatchLoader) and len(array_loader) == 6
    folder = ImageFolderDataset(image_folder_root, "val", image_size=8)
    loader = make_loader(folder, 2, shuffle=False, seed=0, num_workers=0)
    assert isinstance(loader, DataLoader)
    batches = list(loader)
    assert [tuple(b[0].shape) for b in batches] == [(2, 3, 8, 8), (1, 3, 8, 8)]
    assert batches[0][0].dtype == torch.uint8 and torch.cat([b[1] for b in batches]).tolist() == [0, 1, 2]
    sharded = make_loader(folder, 2, shuffle=True, seed=0, num_workers=0, num_replicas=2, rank=1)
    assert isinstance(sharded.sampler, DistributedSampler) and sharded.sampler.rank == 1


def test_make_loader_shuffle_is_seeded(image_folder_root):
    folder = ImageFolderDataset(image_folder_root, "train", image_size=8)

    def order(seed):
        loader = make_loader(folder, 3, shuffle=True, seed=seed, num_workers=0)
        return [i for batch in loader.batch_sampler for i in batch]

    assert order(5) == order(5) and sorted(order(5)) == list(range(8))
    assert len({tuple(order(seed)) for seed in range(6)}) > 1


def folder_batches(loader, epochs):
    """The batches of the last of ``epochs``, after iterating each of them in turn."""
    for epoch in epochs:
        loader.set_epoch(epoch)
        batches = [(images.clone(), labels.clone()) for images, labels in loader]
    return batches


def same_batches(a, b):
    return len(a) == len(b) and all(torch.equal(x[0], y[0]) and torch.equal(x[1], y[1]) for x, y in zip(a, b))


@pytest.mark.parametrize("num_workers", [0, 2])
def test_folder_loader_epoch_is_reproducible_regardless_of_earlier_epochs(noise_folder_root, num_workers):
    folder = ImageFolderDataset(noise_folder_root, "train", image_size=8)

    def loader():
        return make_loader(folder, 3, shuffle=True, seed=11, num_workers=num_workers)

    assert isinstance(loader(), FolderLoader) and not loader().persistent_workers
    after_epoch0 = folder_batches(loader(), [0, 1])
    alone = folder_batches(loader(), [1])
    assert same_batches(after_epoch0, alone)
    repeated = loader()
    assert same_batches(folder_batches(repeated, [1]), folder_batches(repeated, [1]))
    epoch0 = folder_batches(loader(), [0])
    assert not same_batches(epoch0, alone)
    assert sorted(torch.cat([b[1] for b in alone]).tolist()) == folder.labels.tolist()
    assert folder.crop_seed is None


def test_folder_loader_batches_do_not_depend_on_worker_count(noise_folder_root):
    folder = ImageFolderDataset(noise_folder_root, "train", image_size=8)
    by_workers = [
        folder_batches(make_loader(folder, 4, shuffle=True, seed=3, num_workers=w), [2]) for w in (0, 2)
    ]
    assert same_batches(*by_workers)


def test_folder_loader_sets_the_distributed_sampler_epoch(image_folder_root):
    folder = ImageFolderDataset(image_folder_root, "train", image_size=8)
    loader = make_loader(folder, 2, shuffle=True, seed=0, num_workers=0, num_replicas=2, rank=0)
    loader.set_epoch(5)
    assert loader.sampler.epoch == 5 and loader.epoch == 5
    loader.set_epoch(6)
    assert loader.sampler.epoch == 6


def test_array_loader_with_indices_yields_each_images_index():
    ds = make_dataset()
    loader = make_loader(ds, 5, shuffle=True, seed=4, num_replicas=2, rank=1, with_indices=True)
    seen = []
    for images, labels, indices in loader:
        assert indices.dtype == torch.int64
        assert torch.equal(images, ds.images[indices]) and torch.equal(labels, ds.labels[indices])
        seen += indices.tolist()
    assert seen == loader.indices().tolist()


def test_folder_loader_with_indices_keeps_the_seeded_crops(noise_folder_root):
    folder = ImageFolderDataset(noise_folder_root, "train", image_size=8)
    plain = folder_batches(make_loader(folder, 3, shuffle=True, seed=2, num_workers=0), [1])
    indexed = make_loader(folder, 3, shuffle=True, seed=2, num_workers=0, with_indices=True)
    indexed.set_epoch(1)
    batches = list(indexed)
    assert same_batches(plain, [b[:2] for b in batches])
    for _, labels, indices in batches:
        assert torch.equal(labels, folder.labels[indices])
