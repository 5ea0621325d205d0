"""Writing photos and mattes: format from the file ending, written atomically.

The image is encoded to a temporary file beside the destination and renamed over it only when
complete, so an interrupted run never leaves a half-written picture and never damages an existing
file until the new one is whole.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from greenroom.atomic import atomic_path, write_error_reason
from greenroom.errors import OutputError

#: File ending -> (Pillow format, can store alpha).
FORMATS: dict[str, tuple[str, bool]] = {
    ".png": ("PNG", True),
    ".jpg": ("JPEG", False),
    ".jpeg": ("JPEG", False),
    ".webp": ("WEBP", True),
    ".bmp": ("BMP", False),
    ".tif": ("TIFF", True),
    ".tiff": ("TIFF", True),
}


def check_output_path(path: str | Path, channels: int = 3) -> Path:
    """Fail early, before any work, if `path` cannot take an image with `channels` channels."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise OutputError(
            path, f"unknown image format {suffix or '(no ending)'}; use one of {', '.join(FORMATS)}"
        )
    if channels == 4 and not FORMATS[suffix][1]:
        raise OutputError(path, f"{suffix} cannot store transparency; use .png or .webp")
    parent = path.parent
    if not parent.is_dir():
        raise OutputError(path, f"folder {parent} does not exist")
    if path.is_dir():
        raise OutputError(path, "is a folder")
    return path


def write_image(path: str | Path, image: np.ndarray, quality: int = 95) -> Path:
    """Encode an RGB, RGBA or grayscale uint8 array to `path` atomically."""
    channels = 1 if image.ndim == 2 else image.shape[2]
    path = check_output_path(path, channels)
    fmt = FORMATS[path.suffix.lower()][0]
    options: dict[str, object] = {}
    if fmt in ("JPEG", "WEBP"):
        options["quality"] = quality
    if fmt == "PNG":
        options["compress_level"] = 6
    try:
        with atomic_path(path) as tmp:
            Image.fromarray(image).save(tmp, format=fmt, **options)
    except PermissionError:
        raise OutputError(path, "permission denied (is the folder read-only?)") from None
    except OSError as exc:
        raise OutputError(path, f"cannot write: {write_error_reason(exc)}") from None
    return path
