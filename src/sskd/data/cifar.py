"""CIFAR-100 and CIFAR-10 from the official python pickles, as a folder or as the ``.tar.gz``.

``root`` may be the folder holding ``cifar-100-python/`` (or ``cifar-10-batches-py/``) or
``cifar-100-python.tar.gz`` (or ``cifar-10-python.tar.gz``), the extracted folder itself,
or the archive path itself. The archive is read in memory, never extracted to disk. Every
pickle goes through :func:`sskd.data.safe_pickle.safe_load_pickle`.
"""

from __future__ import annotations

import os
import tarfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from sskd.data.dataset import ArrayDataset, DatasetFormatError, DatasetInfo, require_folder
from sskd.data.safe_pickle import safe_load_pickle

__all__ = ["load_cifar100", "load_cifar10", "cifar100_info", "cifar10_info", "CIFAR10_CLASSES"]

CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip


@dataclass(frozen=True)
class _Layout:
    title: str
    name: str
    folder: str
    archive: str
    split_files: dict[str, tuple[str, ...]]
    meta_file: str
    label_key: bytes
    names_key: bytes
    num_classes: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    def expected(self) -> str:
        files = sorted({f for fs in self.split_files.values() for f in fs} | {self.meta_file})
        return (
            f"the {self.title} python folder {self.folder!r} (files {', '.join(files)}) "
            f"or {self.archive!r}"
        )


CIFAR100 = _Layout(
    title="CIFAR-100",
    name="cifar100",
    folder="cifar-100-python",
    archive="cifar-100-python.tar.gz",
    split_files={"train": ("train",), "test": ("test",)},
    meta_file="meta",
    label_key=b"fine_labels",
    names_key=b"fine_label_names",
    num_classes=100,
    mean=(0.5071, 0.4866, 0.4409),
    std=(0.2675, 0.2565, 0.2761),
)

CIFAR10 = _Layout(
    title="CIFAR-10",
    name="cifar10",
    folder="cifar-10-batches-py",
    archive="cifar-10-python.tar.gz",
    split_files={"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)},
    meta_file="batches.meta",
    label_key=b"labels",
    names_key=b"label_names",
    num_classes=10,
    mean=(0.4914, 0.4822, 0.4465),
    std=(0.2470, 0.2435, 0.2616),
)


def cifar100_info() -> DatasetInfo:
    """CIFAR-100 metadata without reading files (class names come from the ``meta`` file on load)."""
    return DatasetInfo(CIFAR100.name, CIFAR100.num_classes, 32, CIFAR100.mean, CIFAR100.std)


def cifar10_info() -> DatasetInfo:
    """CIFAR-10 metadata without reading files."""
    return DatasetInfo(CIFAR10.name, CIFAR10.num_classes, 32, CIFAR10.mean, CIFAR10.std, CIFAR10_CLASSES)


def load_cifar100(root: str | os.PathLike, split: str = "train") -> ArrayDataset:
    """CIFAR-100 ``split`` ("train": 50,000, "test": 10,000).

    Images uint8 ``[N, 3, 32, 32]``, fine labels int64 ``[N]`` in 0..99, class names from ``meta``.
    """
    return _load(CIFAR100, root, split)


def load_cifar10(root: str | os.PathLike, split: str = "train") -> ArrayDataset:
    """CIFAR-10 ``split`` ("train": 50,000 from ``data_batch_1..5`` in order, "test": 10,000).

    Images uint8 ``[N, 3, 32, 32]``, labels int64 ``[N]`` in 0..9, class names from ``batches.meta``.
    """
    return _load(CIFAR10, root, split)


def _get(d: dict, key: bytes, source: str):
    for k in (key, key.decode("ascii")):
        if k in d:
            return d[k]
    raise DatasetFormatError(f"{source!r} has no key {key!r} (keys found: {sorted(map(str, d))[:8]})")


def _parse_batch(d: object, source: str, layout: _Layout) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(d, dict):
        raise DatasetFormatError(f"{source!r} should hold a dict, got {type(d).__name__}")
    data = _get(d, b"data", source)
    labels = _get(d, layout.label_key, source)
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        described = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise DatasetFormatError(f"{source!r}: b'data' should be a uint8 array [N, 3072], got {described}")
    try:
        labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise DatasetFormatError(f"{source!r}: {layout.label_key!r} should be a list of ints ({exc})") from None
    if labels.shape[0] != data.shape[0]:
        raise DatasetFormatError(
            f"{source!r}: {data.shape[0]} images but {labels.shape[0]} entries in {layout.label_key!r}"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= layout.num_classes):
        raise DatasetFormatError(
            f"{source!r}: labels must lie in [0, {layout.num_classes}), "
            f"got values from {labels.min()} to {labels.max()}"
        )
    return data.reshape(-1, 3, 32, 32), labels


def _parse_names(d: object, source: str, layout: _Layout) -> tuple[str, ...]:
    if not isinstance(d, dict):
        raise DatasetFormatError(f"{source!r} should hold a dict, got {type(d).__name__}")
    names = _get(d, layout.names_key, source)
    names = tuple(n.decode("utf-8") if isinstance(n, bytes) else str(n) for n in names)
    if len(names) != layout.num_classes:
        raise DatasetFormatError(
            f"{source!r}: expected {layout.num_classes} names in {layout.names_key!r}, got {len(names)}"
        )
    return names


@contextmanager
def _opener(layout: _Layout, root: Path):
    """Yield ``read(file_name) -> (unpickled object, source)`` for the folder or archive under ``root``.

    ``source`` is the full path (``<archive>:<member>`` inside an archive) used in error messages.
    """
    if not (root.is_file() and root.name.endswith(".tar.gz")):
        require_folder(root, layout.expected())
    candidates = (root / layout.folder, root)
    folder = next((p for p in candidates if (p / layout.meta_file).is_file()), None)
    archive = root if root.is_file() and root.name.endswith(".tar.gz") else root / layout.archive
    if folder is None and not archive.is_file():
        folder = next((p for p in candidates if p.name == layout.folder and p.is_dir()), None)
        if folder is None:
            raise DatasetFormatError(f"expected {layout.expected()} under {str(root)!r}; found neither")
    if folder is not None:

        def read_file(name: str):
            path = folder / name
            if not path.is_file():
                raise DatasetFormatError(
                    f"missing {layout.title} file {str(path)!r} (expected {layout.expected()})"
                )
            return safe_load_pickle(path), str(path)

        yield read_file
        return

    try:
        tar = tarfile.open(archive, "r:gz")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DatasetFormatError(f"{str(archive)!r} is not a readable .tar.gz ({exc})") from exc
    with tar:
        try:
            members = {m.name.removeprefix("./"): m for m in tar.getmembers() if m.isfile()}
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise DatasetFormatError(f"{str(archive)!r} is not a readable .tar.gz ({exc})") from exc

        def read_member(name: str):
            member_name = f"{layout.folder}/{name}"
            source = f"{archive}:{member_name}"
            if member_name not in members:
                raise DatasetFormatError(
                    f"{str(archive)!r} has no member {member_name!r} (expected {layout.expected()})"
                )
            try:
                fileobj = tar.extractfile(members[member_name])
            except (tarfile.TarError, OSError, EOFError) as exc:
                raise DatasetFormatError(f"cannot read {source!r} ({exc})") from exc
            return safe_load_pickle(fileobj, name_for_errors=source), source

        yield read_member


def _load(layout: _Layout, root: str | os.PathLike, split: str) -> ArrayDataset:
    if split not in layout.split_files:
        raise ValueError(f"{layout.title} split must be one of {sorted(layout.split_files)}, got {split!r}")
    with _opener(layout, Path(root)) as read:
        parts = [_parse_batch(*read(f), layout) for f in layout.split_files[split]]
        names = _parse_names(*read(layout.meta_file), layout)
    images = torch.from_numpy(np.ascontiguousarray(np.concatenate([p[0] for p in parts])))
    labels = torch.from_numpy(np.concatenate([p[1] for p in parts]))
    info = DatasetInfo(layout.name, layout.num_classes, 32, layout.mean, layout.std, names)
    return ArrayDataset(images, labels, info)
