"""CIFAR-100 / CIFAR-10 readers on tiny files in the official python-pickle layout."""

import os
import pickle
import shutil
import tarfile

import numpy as np
import pytest
import torch

from sskd.data import DatasetFormatError, UnsafePickleError, load_cifar10, load_cifar100


def tar_gz(folder, archive):
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname=folder.name)
    return archive


def dump(obj, path):
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=2)


def test_cifar100_folder_pixels_labels_and_names(cifar100_files):
    root, batches = cifar100_files
    train = batches["train"]
    train[b"data"][3, 1 * 1024 + 5 * 32 + 7] = 201
    train[b"data"][3, 1 * 1024 + 7 * 32 + 5] = 17
    dump(train, root / "cifar-100-python" / "train")

    ds = load_cifar100(root, "train")
    assert ds.images.shape == (20, 3, 32, 32) and ds.images.dtype == torch.uint8
    assert int(ds.images[3, 1, 5, 7]) == 201 and int(ds.images[3, 1, 7, 5]) == 17
    assert int(ds.images[2, 0, 0, 1]) == int(train[b"data"][2, 1])
    assert int(ds.images[2, 2, 31, 31]) == int(train[b"data"][2, 3071])
    assert ds.labels.dtype == torch.int64 and ds.labels.tolist() == train[b"fine_labels"]
    assert ds.info.name == "cifar100" and ds.info.num_classes == 100 and ds.info.image_size == 32
    assert ds.info.class_names[:2] == ("class00", "class01") and len(ds.info.class_names) == 100
    assert ds.info.mean == (0.5071, 0.4866, 0.4409) and ds.info.std == (0.2675, 0.2565, 0.2761)

    test = load_cifar100(root, "test")
    assert len(test) == 10 and test.labels.tolist() == batches["test"][b"fine_labels"]


def test_cifar100_root_may_be_the_python_folder_itself(cifar100_files):
    root, batches = cifar100_files
    ds = load_cifar100(root / "cifar-100-python", "test")
    assert ds.labels.tolist() == batches["test"][b"fine_labels"]


def test_cifar100_from_tar_gz_without_extracting(cifar100_files, tmp_path):
    root, _ = cifar100_files
    expected = load_cifar100(root, "train")
    only_tar = tmp_path / "only_tar"
    only_tar.mkdir()
    archive = tar_gz(root / "cifar-100-python", only_tar / "cifar-100-python.tar.gz")
    for source in (only_tar, archive):
        ds = load_cifar100(source, "train")
        assert torch.equal(ds.images, expected.images) and torch.equal(ds.labels, expected.labels)
        assert ds.info == expected.info
    assert sorted(os.listdir(only_tar)) == ["cifar-100-python.tar.gz"]


def test_cifar10_concatenates_five_batches_in_order(cifar10_files):
    root, batches = cifar10_files
    train = load_cifar10(root, "train")
    labels = [label for i in range(1, 6) for label in batches[f"data_batch_{i}"][b"labels"]]
    assert len(train) == 20 and train.labels.tolist() == labels
    assert np.array_equal(train.images[4].numpy().reshape(3072), batches["data_batch_2"][b"data"][0])
    assert train.info.class_names[0] == "airplane" and train.info.num_classes == 10
    assert train.info.mean == (0.4914, 0.4822, 0.4465) and train.info.std == (0.2470, 0.2435, 0.2616)
    test = load_cifar10(root, "test")
    assert test.labels.tolist() == batches["test_batch"][b"labels"]


def test_cifar10_from_tar_gz(cifar10_files):
    root, batches = cifar10_files
    tar_gz(root / "cifar-10-batches-py", root / "cifar-10-python.tar.gz")
    shutil.rmtree(root / "cifar-10-batches-py")
    test = load_cifar10(root, "test")
    assert test.labels.tolist() == batches["test_batch"][b"labels"]


def test_python2_style_files_and_str_keys_load(tmp_path, py2_pickle):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    data = np.zeros((2, 3072), np.uint8)
    data[1, 2 * 1024 + 31] = 99
    (folder / "test").write_bytes(py2_pickle({"data": data, "fine_labels": [4, 99], "filenames": ["a", "b"]}))
    dump({"fine_label_names": [f"n{i}" for i in range(100)]}, folder / "meta")
    ds = load_cifar100(tmp_path, "test")
    assert int(ds.images[1, 2, 0, 31]) == 99 and ds.labels.tolist() == [4, 99]
    assert ds.info.class_names[5] == "n5"


def test_missing_everything_names_root_and_expected_files(tmp_path):
    with pytest.raises(DatasetFormatError) as info:
        load_cifar100(tmp_path, "train")
    message = str(info.value)
    assert str(tmp_path) in message
    assert "'cifar-100-python'" in message and "'cifar-100-python.tar.gz'" in message and "meta" in message


def test_missing_split_file_names_its_path(cifar100_files):
    root, _ = cifar100_files
    missing = root / "cifar-100-python" / "test"
    missing.unlink()
    with pytest.raises(DatasetFormatError, match="missing CIFAR-100 file") as info:
        load_cifar100(root, "test")
    assert str(missing) in str(info.value)


def test_missing_cifar10_batch_names_its_path(cifar10_files):
    root, _ = cifar10_files
    missing = root / "cifar-10-batches-py" / "data_batch_4"
    missing.unlink()
    with pytest.raises(DatasetFormatError) as info:
        load_cifar10(root, "train")
    assert str(missing) in str(info.value)


def test_truncated_pickle_names_its_path(cifar100_files):
    root, _ = cifar100_files
    path = root / "cifar-100-python" / "train"
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(DatasetFormatError) as info:
        load_cifar100(root, "train")
    assert str(path) in str(info.value)


def test_missing_key_names_path_and_key(cifar100_files):
    root, batches = cifar100_files
    path = root / "cifar-100-python" / "train"
    del batches["train"][b"fine_labels"]
    dump(batches["train"], path)
    with pytest.raises(DatasetFormatError, match="fine_labels") as info:
        load_cifar100(root, "train")
    assert str(path) in str(info.value)


def test_wrong_data_shape_and_label_range_are_rejected(cifar100_files):
    root, batches = cifar100_files
    path = root / "cifar-100-python" / "test"
    dump({**batches["test"], b"data": np.zeros((10, 1024), np.uint8)}, path)
    with pytest.raises(DatasetFormatError, match=r"uint8 array \[N, 3072\]"):
        load_cifar100(root, "test")
    dump({**batches["test"], b"fine_labels": [100] * 10}, path)
    with pytest.raises(DatasetFormatError, match=r"\[0, 100\)") as info:
        load_cifar100(root, "test")
    assert str(path) in str(info.value)


class Pwn:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"echo pwned > {self.marker}",))


def test_malicious_pickle_is_refused_in_folder_and_tar(cifar100_files, tmp_path):
    root, _ = cifar100_files
    marker = tmp_path / "pwned"
    dump({b"data": Pwn(marker)}, root / "cifar-100-python" / "test")
    with pytest.raises(UnsafePickleError, match=rf"{os.system.__module__}\.system"):
        load_cifar100(root, "test")
    archive = tar_gz(root / "cifar-100-python", tmp_path / "cifar-100-python.tar.gz")
    with pytest.raises(UnsafePickleError) as info:
        load_cifar100(archive, "test")
    assert f"{archive}:cifar-100-python/test" in str(info.value)
    assert not marker.exists()


def test_broken_archives_name_the_archive(cifar100_files, tmp_path):
    root, _ = cifar100_files
    archive = tar_gz(root / "cifar-100-python", tmp_path / "cifar-100-python.tar.gz")
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) // 3])
    with pytest.raises(DatasetFormatError) as info:
        load_cifar100(tmp_path, "train")
    assert str(archive) in str(info.value)

    (root / "cifar-100-python" / "meta").unlink()
    tar_gz(root / "cifar-100-python", archive)
    with pytest.raises(DatasetFormatError, match="cifar-100-python/meta") as info:
        load_cifar100(archive, "train")
    assert str(archive) in str(info.value)


def test_unknown_split_is_rejected(cifar100_files):
    with pytest.raises(ValueError, match="split"):
        load_cifar100(cifar100_files[0], "val")
