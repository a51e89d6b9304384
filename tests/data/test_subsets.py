"""Class-balanced few-shot subsets and symmetric label noise."""

import math

import pytest
import torch

from sskd.data import (
    ArrayDataset,
    DatasetInfo,
    ImageFolderDataset,
    class_balanced_subset,
    few_shot,
    symmetric_label_noise,
    with_label_noise,
)
from sskd.data.subsets import round_half_up


def balanced_labels(num_classes=10, per_class=50):
    order = torch.randperm(num_classes * per_class, generator=torch.Generator().manual_seed(5))
    return torch.arange(num_classes).repeat_interleave(per_class)[order]


def test_round_half_up():
    assert [round_half_up(x) for x in (12.5, 12.49, 0.5, 2.5, 3.0)] == [13, 12, 1, 3, 3]


@pytest.mark.parametrize("fraction, per_class", [(0.25, 13), (0.1, 5), (0.5, 25), (1.0, 50), (0.001, 1)])
def test_exact_per_class_counts(fraction, per_class):
    labels = balanced_labels()
    idx = class_balanced_subset(labels, fraction, seed=0)
    assert idx.dtype == torch.int64 and torch.equal(idx, torch.sort(idx).values)
    assert len(set(idx.tolist())) == len(idx)
    assert torch.bincount(labels[idx], minlength=10).tolist() == [per_class] * 10


def test_unbalanced_classes_each_get_their_own_rounding():
    labels = torch.tensor([0] * 7 + [1] * 30 + [2] * 1 + [4] * 3)
    idx = class_balanced_subset(labels, 0.3, seed=1)
    counts = torch.bincount(labels[idx], minlength=5).tolist()
    assert counts == [round_half_up(0.3 * 7), 9, 1, 0, 1] == [2, 9, 1, 0, 1]


def test_reproducible_per_seed_and_different_across_seeds():
    labels = balanced_labels()
    a, b = class_balanced_subset(labels, 0.2, 3), class_balanced_subset(labels, 0.2, 3)
    c = class_balanced_subset(labels, 0.2, 4)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_selection_covers_whole_class_across_seeds():
    labels = balanced_labels(num_classes=2, per_class=20)
    seen = set()
    for seed in range(40):
        seen.update(class_balanced_subset(labels, 0.1, seed).tolist())
    assert len(seen) > 30


@pytest.mark.parametrize("fraction", [0, -0.1, 1.01, float("nan")])
def test_bad_subset_fraction_rejected(fraction):
    with pytest.raises(ValueError, match="fraction") as info:
        class_balanced_subset(balanced_labels(), fraction, 0)
    assert str(fraction) in str(info.value)


@pytest.mark.parametrize("fraction", [0.0, 0.2, 0.37, 1.0])
def test_noise_flips_exactly_rounded_count_to_other_classes(fraction):
    labels = balanced_labels()
    original = labels.clone()
    noisy, flipped = symmetric_label_noise(labels, fraction, 10, seed=7)
    assert torch.equal(labels, original)
    assert noisy.dtype == torch.int64 and flipped.dtype == torch.bool
    assert int(flipped.sum()) == round_half_up(fraction * 500)
    assert torch.all(noisy[flipped] != labels[flipped])
    assert torch.equal(noisy[~flipped], labels[~flipped])
    assert int(noisy.min()) >= 0 and int(noisy.max()) < 10


def test_noise_targets_roughly_uniform_over_other_classes():
    n, classes = 40_000, 5
    labels = torch.zeros(n, dtype=torch.int64)
    noisy, flipped = symmetric_label_noise(labels, 0.5, classes, seed=0)
    counts = torch.bincount(noisy[flipped], minlength=classes).tolist()
    assert counts[0] == 0
    expected = 20_000 / 4
    assert all(abs(c - expected) < 5 * math.sqrt(expected) for c in counts[1:])


def test_noise_is_reproducible_and_seed_dependent():
    labels = balanced_labels()
    a = symmetric_label_noise(labels, 0.3, 10, 1)
    b = symmetric_label_noise(labels, 0.3, 10, 1)
    c = symmetric_label_noise(labels, 0.3, 10, 2)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[1], c[1])


def test_bad_noise_arguments_rejected():
    labels = balanced_labels()
    for fraction in (-0.01, 1.5):
        with pytest.raises(ValueError, match=str(fraction)):
            symmetric_label_noise(labels, fraction, 10, 0)
    with pytest.raises(ValueError, match=r"\[0, 5\)"):
        symmetric_label_noise(labels, 0.1, 5, 0)


def make_array_dataset():
    labels = balanced_labels(num_classes=4, per_class=10)
    images = torch.arange(40, dtype=torch.uint8).view(40, 1, 1, 1).expand(40, 3, 4, 4).contiguous()
    return ArrayDataset(images, labels, DatasetInfo("toy", 4, 4, (0.5,) * 3, (0.5,) * 3))


def test_few_shot_and_noise_wrappers_on_array_dataset():
    ds = make_array_dataset()
    before = ds.labels.clone()
    small = few_shot(ds, 0.3, seed=0)
    assert len(small) == 12 and torch.bincount(small.labels, minlength=4).tolist() == [3] * 4
    assert torch.equal(small.labels, ds.labels[small.images[:, 0, 0, 0].long()])
    noisy = with_label_noise(ds, 0.25, seed=0)
    assert int((noisy.labels != ds.labels).sum()) == 10
    assert torch.equal(ds.labels, before) and noisy.images.data_ptr() == ds.images.data_ptr()


def test_wrappers_on_image_folder(image_folder_root):
    ds = ImageFolderDataset(image_folder_root, "train", 16)
    small = few_shot(ds, 0.5, seed=0)
    assert torch.bincount(small.labels, minlength=3).tolist() == [2, 1, 2] and len(ds) == 8
    noisy = with_label_noise(ds, 0.5, seed=0)
    assert int((noisy.labels != ds.labels).sum()) == 4
    assert [label for _, label in noisy.samples] == noisy.labels.tolist()
    assert ds.labels.tolist() == [0, 0, 0, 1, 1, 2, 2, 2]
