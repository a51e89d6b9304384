"""Check every file of an image folder before a run trains on it.

Reading an image folder is lazy, so a file that is not an image would otherwise stop a
run in the middle of an epoch. :func:`check_image_folder` opens each file's header (Pillow
reads only the first bytes: 28 µs a file for small PNG/JPEG files here) and refuses the folder, naming the files,
if any cannot be identified as an image. A file whose header is sound but whose pixel data
is truncated is only found when it is decoded. Mixed sizes and colour modes are fine:
every image is converted to RGB and resized or cropped to ``image_size``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sskd.data.dataset import DatasetFormatError

SHOWN = 5


@dataclass
class FolderReport:
    """What the check found: ``images`` read and ``smaller`` (shorter side below the run's
    ``image_size``, so they are upsampled)."""

    images: int
    smaller: int


def check_image_folder(dataset, what: str) -> FolderReport:
    """Open the header of every file of ``dataset`` (an ``ImageFolderDataset``); raise
    :class:`DatasetFormatError` naming ``what`` and the first unreadable files."""
    from PIL import Image

    bad, smaller = [], 0
    side = dataset.info.image_size
    for path, _ in dataset.samples:
        try:
            with Image.open(path) as image:
                size = image.size
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            bad.append(f"{path} ({type(exc).__name__}: {exc})")
            continue
        smaller += min(size) < side
    if bad:
        listed = "; ".join(bad[:SHOWN]) + (f"; and {len(bad) - SHOWN} more" if len(bad) > SHOWN else "")
        raise DatasetFormatError(f"{what}: {len(bad)} of {len(dataset.samples)} files cannot be read as "
                                 f"images: {listed}")
    return FolderReport(len(dataset.samples), smaller)
