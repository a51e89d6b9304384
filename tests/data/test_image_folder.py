"""ImageFolderDataset on a small ImageNet-layout tree of PNG/JPEG/BMP/WEBP files of various sizes."""

import pytest
import torch

from sskd.data import DatasetFormatError, ImageFolderDataset


def test_classes_samples_and_labels(image_folder_root):
    ds = ImageFolderDataset(image_folder_root, "train", image_size=24)
    assert ds.info.class_names == ("cat", "dog", "fox") and ds.info.num_classes == 3
    names = [path.rsplit("/", 1)[-1] for path, _ in ds.samples]
    assert names == ["a.png", "b.JPG", "c.jpeg", "x.png", "y.bmp", "p.webp", "q.png", "r.PNG"]
    assert ds.labels.dtype == torch.int64 and ds.labels.tolist() == [0, 0, 0, 1, 1, 2, 2, 2]
    assert [label for _, label in ds.samples] == ds.labels.tolist()
    assert ds.train and len(ds) == 8


@pytest.mark.parametrize("split, train", [("train", True), ("val", False)])
def test_items_are_uint8_square_with_decoded_colours(image_folder_root, split, train):
    ds = ImageFolderDataset(image_folder_root, split, image_size=24)
    assert ds.train is train
    for index in range(len(ds)):
        image, label = ds[index]
        assert image.dtype == torch.uint8 and image.shape == (3, 24, 24) and image.is_contiguous()
        assert label.dtype == torch.int64 and label.ndim == 0
        expected = torch.tensor([60 * int(label) + 40, 20, 200 - 60 * int(label)])
        centre = image[:, 12, 12].to(torch.int64)
        assert (centre - expected).abs().max() <= 6, (ds.samples[index], centre)


def test_test_transform_is_resize_then_centre_crop(tmp_path):
    from PIL import Image

    (tmp_path / "val" / "only").mkdir(parents=True)
    image = Image.new("RGB", (120, 60), (0, 0, 0))
    image.paste((255, 255, 255), (0, 0, 30, 60))
    image.save(tmp_path / "val" / "only" / "stripe.png")
    ds = ImageFolderDataset(tmp_path, "val", image_size=56)
    out, _ = ds[0]
    assert out.shape == (3, 56, 56)
    assert int(out[0, 28, 28]) == 0 and int(out[0, 28, 0]) < 128


def test_explicit_class_list_keeps_training_labels(image_folder_root):
    import shutil

    shutil.rmtree(image_folder_root / "val" / "dog")
    ds = ImageFolderDataset(image_folder_root, "val", 16, classes=["cat", "dog", "fox"])
    assert ds.labels.tolist() == [0, 2] and ds.info.num_classes == 3
    assert ImageFolderDataset(image_folder_root, "val", 16).labels.tolist() == [0, 1]


def test_subset_and_with_labels_return_new_datasets(image_folder_root):
    ds = ImageFolderDataset(image_folder_root, "train", 16)
    sub = ds.subset([7, 0])
    assert len(sub) == 2 and sub.labels.tolist() == [2, 0] and sub.samples == [ds.samples[7], ds.samples[0]]
    assert len(ds) == 8
    relabelled = ds.with_labels(torch.zeros(8, dtype=torch.int64))
    assert relabelled.labels.tolist() == [0] * 8 and all(label == 0 for _, label in relabelled.samples)
    assert ds.labels.tolist() == [0, 0, 0, 1, 1, 2, 2, 2] and ds.samples[7][1] == 2
    with pytest.raises(ValueError):
        ds.with_labels(torch.full((8,), 3))


def test_missing_split_and_empty_tree_name_the_path(tmp_path):
    with pytest.raises(DatasetFormatError) as info:
        ImageFolderDataset(tmp_path, "train")
    assert str(tmp_path / "train") in str(info.value)
    (tmp_path / "train" / "cls").mkdir(parents=True)
    (tmp_path / "train" / "cls" / "readme.txt").write_text("x")
    with pytest.raises(DatasetFormatError, match="found none") as info:
        ImageFolderDataset(tmp_path, "train")
    assert str(tmp_path / "train") in str(info.value)


def test_undecodable_image_names_the_file(tmp_path):
    (tmp_path / "train" / "cls").mkdir(parents=True)
    bad = tmp_path / "train" / "cls" / "broken.png"
    bad.write_bytes(b"\x89PNG not really")
    ds = ImageFolderDataset(tmp_path, "train")
    with pytest.raises(DatasetFormatError) as info:
        ds[0]
    assert str(bad) in str(info.value)


def test_16_bit_png_is_read_as_uint8(tmp_path):
    import numpy as np
    from PIL import Image

    from sskd.data.dataset import read_image_rgb

    (tmp_path / "val" / "grey").mkdir(parents=True)
    path = tmp_path / "val" / "grey" / "deep.png"
    values = np.full((12, 10), 65535, dtype=np.uint16)
    values[:, :5] = 0
    Image.fromarray(values).save(path)
    with Image.open(path) as check:
        assert check.mode == "I;16"
    image = read_image_rgb(str(path))
    assert image.dtype == torch.uint8 and image.shape == (3, 12, 10)
    assert image[:, :, 5:].min() == 255 and image[:, :, :5].max() == 0
    item, _ = ImageFolderDataset(tmp_path, "val", 8)[0]
    assert item.dtype == torch.uint8 and item.shape == (3, 8, 8)


def test_crop_seed_fixes_each_items_crop(noise_folder_root):
    ds = ImageFolderDataset(noise_folder_root, "train", 16)
    assert ds.crop_seed is None
    seeded = ds.with_crop_seed(123)
    assert ds.crop_seed is None and seeded.samples is ds.samples
    torch.manual_seed(0)
    first = [seeded[i][0] for i in range(len(seeded))]
    torch.manual_seed(1)
    again = [seeded[i][0] for i in reversed(range(len(seeded)))][::-1]
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    other = ds.with_crop_seed(124)
    assert any(not torch.equal(a, other[i][0]) for i, a in enumerate(first))
