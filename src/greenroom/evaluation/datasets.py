"""Finding and loading image/mask pairs of evaluation datasets.

Layout supported (both the EG1800 portrait set and DAVIS-style sequences):

    <root>/images/<name>.jpg|.jpeg|.png|.bmp|.webp
    <root>/masks/<name>.png

An image and a mask belong together when their file *stems* are equal. For a
video sequence the same layout holds: the images folder holds the frames, the
masks folder the per-frame masks, and the frame order is the sorted order of
the names.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np

from greenroom.errors import InputError

__all__ = [
    "IMAGE_EXTENSIONS",
    "MASK_EXTENSIONS",
    "ImageMaskPair",
    "iter_dataset_pairs",
    "iter_image_mask_pairs",
    "load_mask",
]

#: Image file extensions looked for (compared case-insensitively).
IMAGE_EXTENSIONS: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
#: Mask file extensions looked for. PNG only: masks must be lossless, a JPEG mask
#: has ringing around the contour that would corrupt the boundary metric.
MASK_EXTENSIONS: tuple[str, ...] = (".png",)


class ImageMaskPair(NamedTuple):
    """One dataset sample; unpacks as ``name, image_path, mask_path``."""

    name: str
    image_path: Path
    mask_path: Path


def _natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    # Digit runs compare as numbers so that unpadded frame names ("f2" < "f10")
    # keep video order; zero-padded names ("00002") sort the same as plain sorting.
    parts = re.split(r"(\d+)", name)
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts if p)


def _files_by_stem(folder: Path, extensions: tuple[str, ...], role: str) -> dict[str, Path]:
    if not folder.exists():
        raise FileNotFoundError(f"{role} folder not found: {folder}")
    if not folder.is_dir():
        raise NotADirectoryError(f"{role} folder is not a directory: {folder}")
    found: dict[str, Path] = {}
    for p in folder.iterdir():
        # Hidden files include macOS "._name.png" resource forks, which are not images.
        if p.name.startswith(".") or p.suffix.lower() not in extensions or not p.is_file():
            continue
        if p.stem in found:
            raise ValueError(
                f"{role} folder {folder} has two files for '{p.stem}': "
                f"{found[p.stem].name} and {p.name}; remove one so the pairing is unambiguous"
            )
        found[p.stem] = p
    return found


def iter_image_mask_pairs(
    images_dir: str | Path, masks_dir: str | Path, limit: int | None = None
) -> Iterator[ImageMaskPair]:
    """Yield ``(name, image_path, mask_path)`` for every image that has a mask.

    Pairs are matched by file stem and yielded in (natural) name order, so runs
    are reproducible and ``limit`` always picks the same first ``limit`` samples;
    for a sequence this order is the frame order. Images without a mask and
    masks without an image are skipped.

    The folders are checked when this function is called, not on the first
    ``next()``, so a wrong path fails at the call site.

    Raises:
        FileNotFoundError / NotADirectoryError: a folder is missing.
        ValueError: no image/mask pair matches (the message names both folders and
            what was found), a stem has two image or two mask files, or ``limit``
            is negative.
    """
    images_dir = Path(images_dir)
    masks_dir = Path(masks_dir)
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0 or None, got {limit}")
    images = _files_by_stem(images_dir, IMAGE_EXTENSIONS, "images")
    masks = _files_by_stem(masks_dir, MASK_EXTENSIONS, "masks")
    names = sorted(images.keys() & masks.keys(), key=lambda n: (_natural_key(n), n))
    if not names:
        raise ValueError(
            f"no image/mask pairs with matching names in {images_dir} ({len(images)} images) "
            f"and {masks_dir} ({len(masks)} masks, extensions {', '.join(MASK_EXTENSIONS)})"
        )
    if limit is not None:
        names = names[:limit]
    return iter([ImageMaskPair(n, images[n], masks[n]) for n in names])


def iter_dataset_pairs(root: str | Path, limit: int | None = None) -> Iterator[ImageMaskPair]:
    """:func:`iter_image_mask_pairs` for the ``<root>/images`` + ``<root>/masks`` layout."""
    root = Path(root)
    return iter_image_mask_pairs(root / "images", root / "masks", limit=limit)


def load_mask(path: str | Path) -> np.ndarray:
    """Read a ground-truth mask PNG as a boolean ``H x W`` array (True = person).

    The file is read as 8-bit greyscale and a pixel is person when it is above
    half of the mask's maximum value. That accepts both common encodings, 0/1
    and 0/255, without configuration, and also palette PNGs whose person colour
    becomes a dim grey after greyscale conversion. An all-zero mask loads as all
    background.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: OpenCV cannot decode it.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"mask file not found: {path}")
    m = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if m is None:  # InputError is a ValueError that the command line prints as one line
        raise InputError(path, "could not read this mask image (unsupported, truncated or corrupt)")
    return m > (float(m.max()) / 2.0)
