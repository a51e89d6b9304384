"""SVHN reader on tiny .mat files written with scipy in the official layout."""

import numpy as np
import pytest
import scipy.io
import torch

from sskd.data import DatasetFormatError, load_svhn


def write_svhn(root, split, n=4):
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, size=(32, 32, 3, n), dtype=np.uint8)
    y = np.array([[10], [1], [9], [10]][:n], dtype=np.uint8)
    scipy.io.savemat(root / f"{split}_32x32.mat", {"X": x, "y": y})
    return x, y


def test_layout_and_label_ten_becomes_zero(tmp_path):
    x, _ = write_svhn(tmp_path, "train")
    ds = load_svhn(tmp_path, "train")
    assert ds.images.shape == (4, 3, 32, 32) and ds.images.dtype == torch.uint8
    assert int(ds.images[2, 1, 5, 9]) == int(x[5, 9, 1, 2])
    assert torch.equal(ds.images, torch.from_numpy(x).permute(3, 2, 0, 1))
    assert ds.labels.dtype == torch.int64 and ds.labels.tolist() == [0, 1, 9, 0]
    assert ds.info.mean == (0.4377, 0.4438, 0.4728) and ds.info.num_classes == 10


def test_extra_split(tmp_path):
    write_svhn(tmp_path, "extra", n=2)
    assert load_svhn(tmp_path, "extra").labels.tolist() == [0, 1]


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(DatasetFormatError) as info:
        load_svhn(tmp_path, "test")
    assert str(tmp_path / "test_32x32.mat") in str(info.value)


def test_malformed_files_name_the_path(tmp_path):
    path = tmp_path / "test_32x32.mat"
    path.write_bytes(b"this is not a MATLAB file at all" * 10)
    with pytest.raises(DatasetFormatError) as info:
        load_svhn(tmp_path, "test")
    assert str(path) in str(info.value)
    scipy.io.savemat(path, {"X": np.zeros((32, 32, 3, 2), np.uint8)})
    with pytest.raises(DatasetFormatError, match="'y'") as info:
        load_svhn(tmp_path, "test")
    assert str(path) in str(info.value)
    scipy.io.savemat(path, {"X": np.zeros((32, 32, 3, 2), np.uint8), "y": np.ones((3, 1), np.uint8)})
    with pytest.raises(DatasetFormatError, match="2 images but 'y' has 3"):
        load_svhn(tmp_path, "test")


def test_label_zero_is_refused_naming_the_path(tmp_path):
    path = tmp_path / "train_32x32.mat"
    y = np.array([[1], [0]], dtype=np.uint8)
    scipy.io.savemat(path, {"X": np.zeros((32, 32, 3, 2), np.uint8), "y": y})
    with pytest.raises(DatasetFormatError, match=r"1\.\.10, got 0\.\.1") as info:
        load_svhn(tmp_path, "train")
    assert str(path) in str(info.value)
    scipy.io.savemat(path, {"X": np.zeros((32, 32, 3, 2), np.uint8), "y": np.array([[1], [11]], np.uint8)})
    with pytest.raises(DatasetFormatError, match=r"1\.\.10"):
        load_svhn(tmp_path, "train")
