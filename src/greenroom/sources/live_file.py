"""A video file played like a camera: paced in real time, optionally looped.

It lets the live path (camera -> effect -> virtual camera) run and be tested on machines with no
camera, and lets a streamer use a recorded clip as their "camera".
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from greenroom.frames import FrameItem
from greenroom.sources.video import VideoFileSource

#: Counter-clockwise display rotation (VideoInfo.rotation) -> the pixel rotation that shows it.
UPRIGHT = {
    90: cv2.ROTATE_90_COUNTERCLOCKWISE,
    -90: cv2.ROTATE_90_CLOCKWISE,
    270: cv2.ROTATE_90_CLOCKWISE,
    180: cv2.ROTATE_180,
    -180: cv2.ROTATE_180,
}


class LiveFileSource:
    """Yield a video file's frames as live `FrameItem`s stamped with their arrival time.

    With `realtime`, each frame is released at its presentation time (a 30 fps file gives 30
    frames a second), as a camera would; without it, as fast as they decode. With `loop`, the
    file starts again at its end, its timeline continuing without a jump. A phone clip stored
    sideways with rotation metadata is turned upright, since a camera stream carries no such
    metadata: what the virtual camera shows is what a player would show.

    Each item's `pts` is its place on that timeline in milliseconds (`TIME_BASE`), so a
    recording keeps the file's timing even when frames come faster than real time.
    """

    TIME_BASE = Fraction(1, 1000)

    def __init__(self, path: str | Path, loop: bool = False, realtime: bool = True) -> None:
        self.path = Path(path)
        self.loop = loop
        self.realtime = realtime
        self._first = VideoFileSource(self.path)  # opened now: a bad file fails before any work
        self.info = self._first.info
        self._rotate = UPRIGHT.get(self.info.rotation)
        turned = self._rotate in (cv2.ROTATE_90_CLOCKWISE, cv2.ROTATE_90_COUNTERCLOCKWISE)
        self.width, self.height = self.info.width, self.info.height
        if turned:
            self.width, self.height = self.height, self.width
        self.fps = float(self.info.fps)
        self.skipped = 0

    def __iter__(self) -> Iterator[FrameItem]:
        index = 0
        offset = 0.0  # seconds of timeline played by earlier loops
        started = time.perf_counter()
        source: VideoFileSource | None = self._first
        try:
            while True:
                if source is None:
                    source = VideoFileSource(self.path)
                end = offset
                first_time: float | None = None
                for frame in source:
                    if first_time is None:
                        first_time = frame.time
                    at = offset + frame.time - first_time
                    if self.realtime:
                        delay = started + at - time.perf_counter()
                        if delay > 0:
                            time.sleep(delay)
                    yield FrameItem(index, self._upright(frame.image), pts=round(at * 1000),
                                    captured=time.perf_counter())
                    index += 1
                    end = at + 1.0 / self.fps
                self.skipped += source.skipped
                source.close()
                source = None
                if not self.loop or index == 0:
                    return
                offset = end
        finally:
            if source is not None:
                source.close()

    def _upright(self, image: np.ndarray) -> np.ndarray:
        return image if self._rotate is None else cv2.rotate(image, self._rotate)

    def close(self) -> None:
        self._first.close()
