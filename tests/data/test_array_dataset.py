"""ArrayDataset: validation, items, and the copy-on-write helpers subset/with_labels."""

import pytest
import torch

from sskd.data import ArrayDataset, DatasetInfo

INFO = DatasetInfo("toy", num_classes=4, image_size=8, mean=(0.5,) * 3, std=(0.25,) * 3)


def make(n=6):
    images = torch.arange(n * 3 * 8 * 8, dtype=torch.int64).remainder(256).to(torch.uint8).view(n, 3, 8, 8)
    labels = torch.arange(n, dtype=torch.int64) % 4
    return ArrayDataset(images, labels, INFO)


def test_items_are_uint8_chw_and_int64_scalar():
    ds = make()
    image, label = ds[4]
    assert len(ds) == 6
    assert image.dtype == torch.uint8 and image.shape == (3, 8, 8)
    assert label.dtype == torch.int64 and label.ndim == 0 and int(label) == 0
    assert torch.equal(image, ds.images[4])


@pytest.mark.parametrize(
    "images, labels, fragment",
    [
        (torch.zeros(2, 3, 8, 8), torch.zeros(2, dtype=torch.int64), "uint8"),
        (torch.zeros(2, 1, 8, 8, dtype=torch.uint8), torch.zeros(2, dtype=torch.int64), "[N, 3, H, W]"),
        (torch.zeros(2, 3, 8, 7, dtype=torch.uint8), torch.zeros(2, dtype=torch.int64), "image_size"),
        (torch.zeros(2, 3, 8, 8, dtype=torch.uint8), torch.zeros(3, dtype=torch.int64), "3 entries"),
        (torch.zeros(2, 3, 8, 8, dtype=torch.uint8), torch.zeros(2, dtype=torch.int32), "int64"),
        (torch.zeros(2, 3, 8, 8, dtype=torch.uint8), torch.tensor([0, 4]), "[0, 4)"),
        (torch.zeros(2, 3, 8, 8, dtype=torch.uint8), torch.tensor([-1, 0]), "[0, 4)"),
    ],
)
def test_invalid_inputs_raise_one_clear_value_error(images, labels, fragment):
    with pytest.raises(ValueError, match="invalid ArrayDataset") as info:
        ArrayDataset(images, labels, INFO)
    assert fragment in str(info.value)


def test_non_contiguous_images_are_made_contiguous():
    images = torch.zeros(2, 8, 8, 3, dtype=torch.uint8).permute(0, 3, 1, 2)
    assert not images.is_contiguous()
    assert ArrayDataset(images, torch.zeros(2, dtype=torch.int64), INFO).images.is_contiguous()


def test_subset_returns_new_dataset_in_given_order():
    ds = make()
    before = ds.images.clone(), ds.labels.clone()
    sub = ds.subset([5, 1, 3])
    assert sub is not ds and len(sub) == 3
    assert torch.equal(sub.images[0], ds.images[5]) and torch.equal(sub.labels, torch.tensor([1, 1, 3]))
    sub.images[0].zero_()
    assert torch.equal(ds.images, before[0]) and torch.equal(ds.labels, before[1])
    assert sub.info == ds.info
    assert len(ds.subset([])) == 0


def test_subset_rejects_out_of_range_indices():
    with pytest.raises(ValueError, match=r"\[0, 6\)"):
        make().subset([0, 6])


def test_with_labels_leaves_original_untouched():
    ds = make()
    new_labels = torch.tensor([3, 3, 3, 3, 3, 3])
    relabelled = ds.with_labels(new_labels)
    assert torch.equal(relabelled.labels, new_labels)
    assert torch.equal(ds.labels, torch.tensor([0, 1, 2, 3, 0, 1]))
    new_labels[0] = 0
    assert int(relabelled.labels[0]) == 3
    with pytest.raises(ValueError):
        ds.with_labels(torch.tensor([0, 1]))
