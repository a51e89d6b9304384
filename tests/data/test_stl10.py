"""STL-10 reader on tiny binaries written column-major like the official files."""

import numpy as np
import pytest
import torch

from sskd.data import DatasetFormatError, load_stl10

NAMES = ["airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck"]


def write_stl10(root, n_train=3, n_test=2):
    """Images [N, 3, 96(h), 96(w)] stored as the official files do: each channel column-major."""
    folder = root / "stl10_binary"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    written = {}
    for split, n in (("train", n_train), ("test", n_test)):
        images = rng.integers(0, 256, size=(n, 3, 96, 96), dtype=np.uint8)
        labels = rng.integers(1, 11, size=n, dtype=np.uint8)
        images.transpose(0, 1, 3, 2).copy().tofile(folder / f"{split}_X.bin")
        labels.tofile(folder / f"{split}_y.bin")
        written[split] = (images, labels)
    (folder / "class_names.txt").write_text("\n".join(NAMES) + "\n")
    return folder, written


def test_pixels_follow_column_major_layout_and_labels_shift(tmp_path):
    folder, written = write_stl10(tmp_path)
    images, labels = written["train"]
    ds = load_stl10(tmp_path, "train")
    assert ds.images.shape == (3, 3, 96, 96) and ds.images.dtype == torch.uint8
    assert torch.equal(ds.images, torch.from_numpy(images))
    assert ds.labels.dtype == torch.int64 and ds.labels.tolist() == (labels.astype(int) - 1).tolist()
    assert ds.info.class_names == tuple(NAMES) and ds.info.image_size == 96
    assert ds.info.mean == (0.5, 0.5, 0.5) and ds.info.std == (0.5, 0.5, 0.5)


def test_known_pixel_of_raw_file(tmp_path):
    folder, _ = write_stl10(tmp_path, n_train=1)
    raw = np.zeros(3 * 96 * 96, np.uint8)
    raw[2 * 9216 + 10 * 96 + 3] = 250
    raw.tofile(folder / "train_X.bin")
    ds = load_stl10(folder, "train")
    assert int(ds.images[0, 2, 3, 10]) == 250 and int(ds.images[0, 2, 10, 3]) == 0


def test_wrong_size_bin_names_the_file(tmp_path):
    folder, _ = write_stl10(tmp_path)
    path = folder / "test_X.bin"
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(DatasetFormatError, match="multiple of 27648") as info:
        load_stl10(tmp_path, "test")
    assert str(path) in str(info.value)


def test_count_mismatch_and_bad_labels(tmp_path):
    folder, _ = write_stl10(tmp_path)
    np.ones(5, np.uint8).tofile(folder / "test_y.bin")
    with pytest.raises(DatasetFormatError, match="holds 2 images") as info:
        load_stl10(tmp_path, "test")
    assert str(folder / "test_y.bin") in str(info.value)
    np.array([0, 3], np.uint8).tofile(folder / "test_y.bin")
    with pytest.raises(DatasetFormatError, match="1..10"):
        load_stl10(tmp_path, "test")


def test_missing_files_name_the_path(tmp_path):
    with pytest.raises(DatasetFormatError, match="stl10_binary") as info:
        load_stl10(tmp_path, "train")
    assert str(tmp_path) in str(info.value)
    folder, _ = write_stl10(tmp_path)
    (folder / "train_y.bin").unlink()
    with pytest.raises(DatasetFormatError) as info:
        load_stl10(tmp_path, "train")
    assert str(folder / "train_y.bin") in str(info.value)


def test_unlabeled_split_is_not_offered(tmp_path):
    write_stl10(tmp_path)
    with pytest.raises(ValueError, match="split"):
        load_stl10(tmp_path, "unlabeled")
