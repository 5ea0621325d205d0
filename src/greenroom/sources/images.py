"""Reading photos: files, folders, PIL images and arrays, all to RGB uint8 arrays.

Pillow decodes (it knows EXIF orientation, many formats and decompression bombs); every problem
becomes an `InputError` that names the file, so a batch can report it and carry on.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from greenroom.errors import InputError

#: File endings treated as images when a folder is given as input.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")

#: Largest image accepted, in pixels (about 10000 x 10000). Larger files are almost always
#: decompression bombs or mistakes, and would need gigabytes of memory.
MAX_PIXELS = 100_000_000


def pil_to_rgb(image: Image.Image) -> np.ndarray:
    """A PIL image in any mode -> HxWx3 uint8 RGB array (alpha is dropped, palettes expanded)."""
    if image.mode != "RGB":
        image = image.convert("RGB")
    return np.asarray(image, dtype=np.uint8).copy()


def read_image(path: str | Path, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode an image file to an RGB uint8 array, upright as its EXIF orientation says."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "no such file")
    if path.is_dir():
        raise InputError(path, "is a folder, not an image file")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from None
    if size == 0:
        raise InputError(path, "empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            # Pillow warns above its own limit; ours below is the one that decides.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                if width == 0 or height == 0:
                    raise InputError(path, f"image has zero size ({width}x{height})")
                if width * height > max_pixels:
                    raise InputError(
                        path,
                        f"image is too large: {width}x{height} pixels (limit {max_pixels:,})",
                    )
                image.load()
                image = ImageOps.exif_transpose(image)
                return pil_to_rgb(image)
    except InputError:
        raise
    except Image.DecompressionBombError:
        raise InputError(path, f"image is too large (limit {max_pixels:,} pixels)") from None
    except UnidentifiedImageError:
        raise InputError(path, "not an image, or an image format that cannot be read") from None
    except PermissionError:
        raise InputError(path, "permission denied") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise InputError(path, f"corrupt or truncated image ({exc})") from None


def as_rgb_array(image: np.ndarray | Image.Image | str | Path) -> np.ndarray:
    """Accept what library users have at hand: an array, a PIL image, or a path."""
    if isinstance(image, str | Path):
        return read_image(image)
    if isinstance(image, Image.Image):
        return pil_to_rgb(image)
    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8:
            raise ValueError(f"image array must be uint8, got {image.dtype}")
        if image.ndim == 2:
            return np.repeat(image[:, :, None], 3, axis=2)
        if image.ndim == 3 and image.shape[2] == 4:
            return np.ascontiguousarray(image[:, :, :3])
        if image.ndim == 3 and image.shape[2] == 3:
            return np.ascontiguousarray(image)
        raise ValueError(f"image array must be HxW, HxWx3 or HxWx4, got shape {image.shape}")
    raise TypeError(f"expected a numpy array, PIL image or path, got {type(image).__name__}")


def expand_inputs(inputs: Iterable[str | Path]) -> Iterator[Path]:
    """Paths as given, with each folder replaced by the images inside it (sorted by name).

    Paths that are not folders are passed through untouched, even if missing, so that the caller
    reports them as errors in their place in the batch.
    """
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            yield from sorted(
                p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
            )
        else:
            yield path
