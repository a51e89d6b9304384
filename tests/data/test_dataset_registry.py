"""load_dataset / dataset_info / list_datasets by name."""

import pytest
import torch

from sskd.data import (
    ArrayDataset,
    DatasetFormatError,
    ImageFolderDataset,
    dataset_info,
    list_datasets,
    load_dataset,
)

ALL = ["cifar10", "cifar100", "digits", "image_folder", "imagenet", "stl10", "svhn"]


def test_list_datasets():
    assert list_datasets() == ALL


def test_unknown_name_lists_valid_names():
    with pytest.raises(KeyError) as info:
        load_dataset("mnist", "somewhere")
    assert isinstance(info.value, ValueError)
    assert all(name in str(info.value) for name in ALL) and "mnist" in str(info.value)
    with pytest.raises(ValueError, match="cifar100"):
        dataset_info("cifar-1000")


@pytest.mark.parametrize("name", ["cifar100", "cifar10", "imagenet", "image_folder", "stl10", "svhn"])
def test_root_required_except_for_digits(name):
    with pytest.raises(ValueError, match="root="):
        load_dataset(name)


def test_digits_needs_no_root():
    ds = load_dataset("Digits", split="test")
    assert isinstance(ds, ArrayDataset) and len(ds) == 450


def test_static_infos():
    expected = {
        "cifar100": (100, 32, (0.5071, 0.4866, 0.4409)),
        "cifar10": (10, 32, (0.4914, 0.4822, 0.4465)),
        "stl10": (10, 96, (0.5, 0.5, 0.5)),
        "svhn": (10, 32, (0.4377, 0.4438, 0.4728)),
        "digits": (10, 32, None),
        "imagenet": (1000, 224, (0.485, 0.456, 0.406)),
    }
    for name, (classes, size, mean) in expected.items():
        info = dataset_info(name)
        assert (info.name, info.num_classes, info.image_size) == (name, classes, size)
        if mean is not None:
            assert info.mean == mean
    assert dataset_info("cifar10").class_names[-1] == "truck"
    with pytest.raises(ValueError, match="root"):
        dataset_info("image_folder")


def test_cifar_by_name(cifar100_files):
    root, batches = cifar100_files
    ds = load_dataset("cifar100", root, "test")
    assert ds.labels.tolist() == batches["test"][b"fine_labels"]


def test_imagenet_maps_test_to_val_and_uses_train_classes(image_folder_root):
    import shutil

    train = load_dataset("imagenet", image_folder_root, "train", image_size=32)
    assert isinstance(train, ImageFolderDataset) and train.train and len(train) == 8
    shutil.rmtree(image_folder_root / "val" / "cat")
    val = load_dataset("imagenet", image_folder_root, "test", image_size=32)
    assert val.split == "val" and not val.train
    assert val.info.class_names == ("cat", "dog", "fox") and val.labels.tolist() == [1, 2]
    image, _ = val[0]
    assert image.shape == (3, 32, 32) and image.dtype == torch.uint8
    info = dataset_info("imagenet", image_folder_root, image_size=32)
    assert info.num_classes == 3 and info.image_size == 32 and info.class_names == ("cat", "dog", "fox")


def test_image_folder_uses_split_folder_as_given(image_folder_root):
    ds = load_dataset("image_folder", image_folder_root, "val", image_size=16)
    assert ds.info.name == "image_folder" and len(ds) == 3 and not ds.train
    with pytest.raises(DatasetFormatError) as info:
        load_dataset("image_folder", image_folder_root, "test")
    assert str(image_folder_root / "test") in str(info.value)


def test_image_folder_splits_take_their_classes_from_train(image_folder_root):
    import shutil

    shutil.rmtree(image_folder_root / "val" / "dog")
    val = load_dataset("image_folder", image_folder_root, "val", image_size=16)
    info = dataset_info("image_folder", image_folder_root)
    assert val.info.class_names == info.class_names == ("cat", "dog", "fox")
    assert val.info.num_classes == info.num_classes == 3
    assert val.labels.tolist() == [0, 2]
    explicit = load_dataset("image_folder", image_folder_root, "val", image_size=16, classes=["cat", "fox"])
    assert explicit.labels.tolist() == [0, 1] and explicit.info.num_classes == 2


def test_folder_without_train_numbers_its_own_classes(image_folder_root):
    import shutil

    shutil.rmtree(image_folder_root / "train")
    shutil.rmtree(image_folder_root / "val" / "dog")
    val = load_dataset("image_folder", image_folder_root, "val", image_size=16)
    assert val.info.class_names == ("cat", "fox") and val.labels.tolist() == [0, 1]
