"""Uploaded background pictures: decoded from bytes in memory, with hard limits.

Decoded by `sources.images.decode_image`, as files are, with stricter limits, because the
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
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from greenroom.errors import TooLarge
from greenroom.sources.images import decode_image, shrink

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
    """Decode uploaded image bytes to an RGB uint8 array, or raise `InputError`.

    Over a limit is a `TooLarge` (the server answers 413), anything else an `InputError` (415).
    """
    if len(data) > MAX_UPLOAD_BYTES:
        raise TooLarge(
            name, f"upload too large: {len(data):,} bytes (limit {MAX_UPLOAD_BYTES:,})"
        )
    # JPEG decodes at 1/2, 1/4 or 1/8 scale directly when that still covers STORE_SIDE:
    # a 24-megapixel photo then costs a quarter of the time and memory.
    rgb = decode_image(data, name, max_pixels=MAX_PIXELS, max_side=MAX_SIDE, formats=FORMATS,
                       draft_side=STORE_SIDE)
    return shrink(rgb, STORE_SIDE)


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
