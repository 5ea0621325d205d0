"""Reading photos: files, folders, PIL images and arrays, all to RGB uint8 arrays.

Pillow decodes (it knows EXIF orientation, many formats and decompression bombs); every problem
becomes an `InputError` that names the file, so a batch can report it and carry on.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from greenroom.errors import InputError, NotAnImage, TooLarge, os_error_reason

#: File endings treated as images when a folder is given as input.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")

#: Largest image accepted, in pixels (about 10000 x 10000). Larger files are almost always
#: decompression bombs or mistakes, and would need gigabytes of memory.
MAX_PIXELS = 100_000_000


def pil_to_rgb(image: Image.Image, name: str | Path | None = None) -> np.ndarray:
    """A PIL image in any mode -> HxWx3 uint8 RGB array (alpha is dropped, palettes expanded).

    Deep grayscale (16-bit PNG, 32-bit integer or float TIFF) is scaled to 8 bits, because
    Pillow's own `convert("RGB")` clips those values at 255 rather than scaling them: a 16-bit
    photo came out washed out and a float one black.
    """
    if image.mode.startswith("I") or image.mode == "F":
        gray = deep_gray_to_uint8(np.asarray(image), image.mode, str(name or image_name(image)))
        return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))
    if image.mode != "RGB":
        image = image.convert("RGB")
    return np.asarray(image, dtype=np.uint8).copy()


def image_name(image: Image.Image) -> str:
    """The file an image came from, for error messages ("image" for one made in memory)."""
    return str(getattr(image, "filename", "") or "image")


def deep_gray_to_uint8(values: np.ndarray, mode: str, name: str) -> np.ndarray:
    """Scale 16-bit, 32-bit integer or float gray pixels to uint8, or refuse them in one line.

    16-bit modes span 0..65535. A 32-bit integer image is taken as 16-bit if its values fit
    (what 16-bit files decode to in some Pillow versions). A float image must hold 0..1, the
    convention of every tool that writes them; other ranges have no meaning we could guess.
    """
    if mode.startswith("I;16") or mode == "I" and values.min() >= 0 and values.max() <= 65535:
        scaled = values.astype(np.float32) * np.float32(255 / 65535)
    elif mode == "F" and np.isfinite(values).all() and values.min() >= 0 and values.max() <= 1:
        scaled = values.astype(np.float32) * np.float32(255)
    else:
        kind = "floating-point" if mode == "F" else "32-bit integer"
        finite = values[np.isfinite(values)]
        span = f"from {finite.min():g} to {finite.max():g}" if finite.size else "not numbers"
        if finite.size < values.size:
            span += " (some not finite)" if finite.size else ""
        raise InputError(name, f"{kind} pixels {span} cannot be shown as a picture "
                         "(expected 0..1 for floats, 0..65535 for integers)")
    return (scaled + np.float32(0.5)).astype(np.uint8)


def read_image(path: str | Path, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode an image file to an RGB uint8 array, upright as its EXIF orientation says."""
    return decode_image(Path(path), max_pixels=max_pixels)


def decode_image(
    source: bytes | Path,
    name: str | Path | None = None,
    *,
    max_pixels: int = MAX_PIXELS,
    max_side: int | None = None,
    formats: tuple[str, ...] | None = None,
    draft_side: int | None = None,
) -> np.ndarray:
    """Bytes or a file -> RGB uint8, upright as its EXIF orientation says: the one image decoder.

    Pillow decodes (it knows EXIF orientation, many formats and decompression bombs). The size is
    checked from the header, before any pixel is decoded, so an oversized picture costs nothing
    and is a `TooLarge`; bytes that are no image (or a corrupt one) are a `NotAnImage`; every
    error is one line naming `name` (by default the file). `formats` limits which decoders Pillow
    may try; `draft_side` lets a JPEG decode at 1/2 to 1/8 scale while still covering that side.
    """
    label = name if name is not None else source if isinstance(source, Path) else "image"
    opened = _open_path(source, label) if isinstance(source, Path) else _open_bytes(source, label)
    side = max_side if max_side is not None else max_pixels
    limit = f"{max_pixels:,} pixels" if max_side is None else (
        f"{max_side} a side and {max_pixels // 1_000_000} megapixels"
    )
    try:
        with warnings.catch_warnings():
            # Pillow warns above its own limit; ours below is the one that decides.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(opened, formats=formats) as image:
                width, height = image.size
                if width == 0 or height == 0:
                    raise InputError(label, f"image has zero size ({width}x{height})")
                if width * height > max_pixels or max(width, height) > side:
                    raise TooLarge(label, f"image is too large: {width}x{height} pixels "
                                   f"(limit {limit})")
                if draft_side is not None:
                    image.draft("RGB", (draft_side, draft_side))
                image.load()
                return pil_to_rgb(ImageOps.exif_transpose(image), label)
    except InputError:
        raise
    except Image.DecompressionBombError:
        raise TooLarge(label, f"image is too large (limit {limit})") from None
    except UnidentifiedImageError:
        raise NotAnImage(label, "not an image, or an image format that cannot be read") from None
    except PermissionError as exc:
        raise InputError(label, os_error_reason(exc)) from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise NotAnImage(label, f"corrupt or truncated image ({exc})") from None


def _open_path(path: Path, label: str | Path) -> Path:
    """The file itself, once it is known to be a non-empty file (each fault its own line)."""
    if not path.exists():
        raise InputError(label, "no such file")
    if path.is_dir():
        raise InputError(label, "is a folder, not an image file")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(label, f"cannot read: {os_error_reason(exc)}") from None
    if size == 0:
        raise InputError(label, "empty file (0 bytes)")
    return path


def _open_bytes(data: bytes, label: str | Path) -> io.BytesIO:
    if not data:
        raise InputError(label, "empty upload (0 bytes)")
    return io.BytesIO(data)


def shrink(image: np.ndarray, side: int) -> np.ndarray:
    """Scale `image` down so its longest side is at most `side` (never up; area filter)."""
    height, width = image.shape[:2]
    scale = side / max(height, width)
    if scale >= 1:
        return image
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


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
