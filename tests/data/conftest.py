"""Writers of tiny data sets in the real on-disk formats, shared by the data tests."""

import io
import pickle
import struct
import tarfile

import numpy as np
import pytest
from PIL import Image

CIFAR100_NAMES = [f"class{i:02d}".encode() for i in range(100)]
CIFAR10_NAMES = [
    b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck",
]


def cifar_batch(n, num_classes, label_key, seed):
    """A CIFAR batch dict as the real files load with encoding="bytes": bytes keys, uint8 [n, 3072]."""
    rng = np.random.default_rng(seed)
    return {
        b"batch_label": b"training batch",
        b"data": rng.integers(0, 256, size=(n, 3072), dtype=np.uint8),
        label_key: rng.integers(0, num_classes, size=n).tolist(),
        b"filenames": [f"img_{i}.png".encode() for i in range(n)],
    }


def dump(obj, path):
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=2)


def make_tar_gz(folder, archive):
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname=folder.name)
    return archive


def write_cifar100(root, n_train=20, n_test=10):
    """Write ``root/cifar-100-python/{train,test,meta}``; returns {split: batch dict}."""
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    batches = {
        "train": cifar_batch(n_train, 100, b"fine_labels", 1),
        "test": cifar_batch(n_test, 100, b"fine_labels", 2),
    }
    for split, batch in batches.items():
        batch[b"coarse_labels"] = [label // 5 for label in batch[b"fine_labels"]]
        dump(batch, folder / split)
    dump({b"fine_label_names": CIFAR100_NAMES, b"coarse_label_names": [b"c"] * 20}, folder / "meta")
    return batches


def write_cifar10(root, n_per_batch=4, n_test=6):
    """Write ``root/cifar-10-batches-py/{data_batch_1..5,test_batch,batches.meta}``; returns {file: batch}."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    batches = {f"data_batch_{i}": cifar_batch(n_per_batch, 10, b"labels", 10 + i) for i in range(1, 6)}
    batches["test_batch"] = cifar_batch(n_test, 10, b"labels", 20)
    for name, batch in batches.items():
        dump(batch, folder / name)
    meta = {b"label_names": CIFAR10_NAMES, b"num_cases_per_batch": n_per_batch, b"num_vis": 3072}
    dump(meta, folder / "batches.meta")
    return batches


IMAGE_FOLDER_FILES = {
    "train": {
        "cat": [("a.png", (40, 30)), ("b.JPG", (64, 48)), ("c.jpeg", (50, 50))],
        "dog": [("x.png", (33, 71)), ("y.bmp", (20, 25))],
        "fox": [("p.webp", (45, 39)), ("q.png", (60, 80)), ("r.PNG", (31, 30)), ("notes.txt", None)],
    },
    "val": {
        "cat": [("v1.png", (28, 28))],
        "dog": [("v2.jpg", (90, 60))],
        "fox": [("v3.png", (70, 35))],
    },
}


def write_image_folder(root):
    """An ImageNet-layout tree ``root/{train,val}/<class>/<files>`` of solid-colour images of various sizes."""
    formats = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP", ".webp": "WEBP"}
    for split, classes in IMAGE_FOLDER_FILES.items():
        for label, (cls, files) in enumerate(sorted(classes.items())):
            (root / split / cls).mkdir(parents=True)
            for name, size in files:
                path = root / split / cls / name
                if size is None:
                    path.write_text("not an image")
                    continue
                colour = (60 * label + 40, 20, 200 - 60 * label)
                Image.new("RGB", size, colour).save(path, format=formats[path.suffix.lower()])
    return root


@pytest.fixture
def image_folder_root(tmp_path):
    return write_image_folder(tmp_path / "imagenet")


def write_noise_folder(root, classes=("a", "b"), per_class=5, size=(40, 32)):
    """``root/train/<class>/<i>.png`` of random-noise RGB images, so that every crop differs."""
    rng = np.random.default_rng(0)
    for cls in classes:
        (root / "train" / cls).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / "train" / cls / f"{i}.png")
    return root


@pytest.fixture
def noise_folder_root(tmp_path):
    return write_noise_folder(tmp_path / "noise")


class Py2StylePickler(pickle._Pickler):
    """Writes every str/bytes as a Python-2 ``str`` (BINSTRING), as the real CIFAR files do."""

    dispatch = dict(pickle._Pickler.dispatch)

    def save_py2_str(self, obj):
        data = obj.encode("latin1") if isinstance(obj, str) else bytes(obj)
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    dispatch[str] = save_py2_str
    dispatch[bytes] = save_py2_str


def py2_dumps(obj):
    """Protocol-2 bytes like a Python-2 numpy would write: BINSTRING strings, ``numpy.core`` globals."""
    buf = io.BytesIO()
    Py2StylePickler(buf, protocol=2).dump(obj)
    return buf.getvalue().replace(b"numpy._core.multiarray", b"numpy.core.multiarray")


@pytest.fixture
def py2_pickle():
    return py2_dumps


@pytest.fixture
def cifar100_files(tmp_path):
    """(root, {split: batch dict}) with ``root/cifar-100-python/`` written."""
    root = tmp_path / "data"
    return root, write_cifar100(root)


@pytest.fixture
def cifar10_files(tmp_path):
    """(root, {file name: batch dict}) with ``root/cifar-10-batches-py/`` written."""
    root = tmp_path / "data"
    return root, write_cifar10(root)
