"""The embedded scikit-learn digits data set: split sizes, stratification, determinism, statistics."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits as sk_load_digits

from sskd.data import load_digits
from sskd.data.digits import DIGITS_MEAN, DIGITS_STD, DIGITS_SPLIT_SEED, DIGITS_TEST_FRACTION


def test_split_sizes_shapes_and_dtypes():
    train, test = load_digits(split="train"), load_digits("ignored/root", "test")
    assert (len(train), len(test)) == (1347, 450)
    for ds in (train, test):
        assert ds.images.shape[1:] == (3, 32, 32) and ds.images.dtype == torch.uint8
        assert ds.labels.dtype == torch.int64 and ds.info.num_classes == 10 and ds.info.image_size == 32
    assert (DIGITS_SPLIT_SEED, DIGITS_TEST_FRACTION) == (0, 0.25)


def test_stratified_by_class():
    train, test = load_digits(split="train"), load_digits(split="test")
    total = torch.bincount(torch.cat([train.labels, test.labels]), minlength=10)
    assert total.tolist() == np.bincount(sk_load_digits().target).tolist()
    test_counts = torch.bincount(test.labels, minlength=10)
    assert torch.all((test_counts.double() - 0.25 * total.double()).abs() <= 1)


def test_channels_replicated_and_values_span_0_255():
    train = load_digits(split="train")
    assert torch.equal(train.images[:, 0], train.images[:, 1])
    assert torch.equal(train.images[:, 0], train.images[:, 2])
    assert int(train.images.min()) == 0 and int(train.images.max()) == 255


def test_images_are_bilinear_upsampled_real_digits():
    bunch = sk_load_digits()
    scaled = torch.from_numpy(np.rint(bunch.data * 255 / 16).reshape(-1, 1, 8, 8)).float()
    reference = F.interpolate(scaled, size=(32, 32), mode="bilinear", align_corners=False)
    reference = reference.round().to(torch.uint8)
    labels_by_image = {}
    for image, label in zip(reference, bunch.target.tolist()):
        labels_by_image.setdefault(image.numpy().tobytes(), set()).add(label)
    for split in ("train", "test"):
        ds = load_digits(split=split)
        for image, label in zip(ds.images, ds.labels.tolist()):
            assert label in labels_by_image.get(image[:1].numpy().tobytes(), set())


def test_deterministic_and_disjoint():
    a, b = load_digits(split="train"), load_digits(split="train")
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    a.images.zero_()
    assert int(load_digits(split="train").images.max()) == 255
    train, test = load_digits(split="train"), load_digits(split="test")
    rows = {tuple(img[0].flatten().tolist()) for img in test.images}
    shared = sum(tuple(img[0].flatten().tolist()) in rows for img in train.images)
    assert shared < 10


def test_mean_std_constants_match_training_split():
    images = load_digits(split="train").images.double() / 255
    mean = images.mean(dim=(0, 2, 3))
    std = images.std(dim=(0, 2, 3), unbiased=False)
    assert torch.allclose(mean, torch.tensor(DIGITS_MEAN, dtype=torch.float64), atol=1e-4)
    assert torch.allclose(std, torch.tensor(DIGITS_STD, dtype=torch.float64), atol=1e-4)


def test_bad_split_rejected():
    with pytest.raises(ValueError, match="split"):
        load_digits(split="val")
