"""Uploaded background pictures: decoded from bytes in memory, with hard limits.

The checks mirror `sources.images.read_image`, but work on bytes and are stricter, because the
bytes come from the network: at most `MAX_UPLOAD_BYTES`, at most `MAX_SIDE` pixels a side and
`MAX_PIXELS` in all, the type decided by decoding (never by a file name or a content type), and the
size checked from the header before any pixels are decoded, so a decompression bomb costs nothing.
Nothing is written to disk; the decoded picture is also scaled down to at most `STORE_SIDE` a side,
since it only ever covers a video frame. Decoding runs in `upload_executor()`'s one low-priority
thread, so a client uploading huge pictures in a loop takes at most one core, and the media threads
come first.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import threading
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from greenroom.errors import InputError
from greenroom.sources.images import pil_to_rgb

#: Largest upload accepted, in bytes.
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
#: Largest width or height accepted, in pixels.
MAX_SIDE = 8000
#: Largest picture accepted, in pixels (a 40-megapixel photo decodes in about a second).
MAX_PIXELS = 40_000_000
#: Niceness of the decoding thread (Linux): the lowest priority, so the media threads win
#: whenever the CPU is short and decoding uses only what they leave.
NICENESS = 19
#: Seconds the decoding thread rests after each decode, per second of decoding.
REST = 3.0
#: Longest side kept in memory after decoding (a background only covers a video frame).
STORE_SIDE = 1920
#: Formats Pillow may try: the usual photo formats, nothing exotic.
FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "GIF", "TIFF")


def decode_upload(data: bytes, name: str = "upload") -> np.ndarray:
    """Decode uploaded image bytes to an RGB uint8 array, or raise `InputError`."""
    if not data:
        raise InputError(name, "empty upload (0 bytes)")
    if len(data) > MAX_UPLOAD_BYTES:
        raise InputError(
            name, f"upload too large: {len(data):,} bytes (limit {MAX_UPLOAD_BYTES:,})"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=FORMATS) as image:
                width, height = image.size
                if width == 0 or height == 0:
                    raise InputError(name, f"image has zero size ({width}x{height})")
                if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
                    raise InputError(
                        name,
                        f"image is too large: {width}x{height} pixels (limit {MAX_SIDE} a "
                        f"side and {MAX_PIXELS // 1_000_000} megapixels)",
                    )
                # JPEG decodes at 1/2, 1/4 or 1/8 scale directly when that still covers
                # STORE_SIDE: a 24-megapixel photo then costs a quarter of the time and memory.
                image.draft("RGB", (STORE_SIDE, STORE_SIDE))
                image.load()
                image = ImageOps.exif_transpose(image)
                rgb = pil_to_rgb(image)
    except InputError:
        raise
    except Image.DecompressionBombError:
        raise InputError(name, f"image is too large (limit {MAX_SIDE}x{MAX_SIDE})") from None
    except UnidentifiedImageError:
        raise InputError(name, "not an image, or an image format that cannot be read") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InputError(name, f"corrupt or truncated image ({exc})") from None
    return shrink(rgb, STORE_SIDE)


def shrink(image: np.ndarray, side: int) -> np.ndarray:
    """Scale `image` down so its longest side is at most `side` (never up)."""
    height, width = image.shape[:2]
    scale = side / max(height, width)
    if scale >= 1:
        return image
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def _lower_priority() -> None:
    """Runs in the decoding thread: lower its own priority (Linux sets niceness per thread)."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICENESS)


class Decoder:
    """Decodes uploads one at a time in one low-priority thread, resting after each.

    After a decode that took t seconds the thread rests `rest` * t seconds before the next, so
    uploads use at most 1 / (1 + rest) of one core however many arrive: a client uploading huge
    pictures in a loop delays other uploads, not anyone's video. Low priority alone is not
    enough, since the thread holds the GIL at moments and the media threads then wait for it.
    """

    def __init__(self, rest: float = REST) -> None:
        self.rest = rest
        self.executor = ThreadPoolExecutor(
            1, thread_name_prefix="greenroom-upload", initializer=_lower_priority
        )
        self._stopping = threading.Event()

    async def run(self, decode: Callable[[bytes], np.ndarray], data: bytes) -> np.ndarray:
        """`decode(data)` in the decoding thread; the rest that follows is queued behind it."""
        return await asyncio.get_running_loop().run_in_executor(
            self.executor, self._paced, decode, data
        )

    def _paced(self, decode: Callable[[bytes], np.ndarray], data: bytes) -> np.ndarray:
        started = time.perf_counter()
        try:
            return decode(data)
        finally:
            pause = self.rest * (time.perf_counter() - started)
            self.executor.submit(self._stopping.wait, pause)

    def shutdown(self) -> None:
        self._stopping.set()
        self.executor.shutdown(cancel_futures=True)
