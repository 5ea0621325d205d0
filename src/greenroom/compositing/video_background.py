"""A video as the new background: looped, scaled to cover, one background frame per frame."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from greenroom.compositing.effects import BackgroundEffect, PlaneMatte, cover_resize
from greenroom.frames import I420, Frame
from greenroom.sources.video import VideoFileSource

#: File endings taken as a video (not a picture) when given as a background.
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".gif", ".mpg", ".mpeg", ".ts")


class VideoBackground(BackgroundEffect):
    """Replace the background with a looping video clip.

    The clip advances one frame per processed frame, so a clip at the same frame rate plays at
    its own speed. It is opened here, so a clip that cannot be read fails before any work.
    """

    fresh_background = True  # each frame's picture is converted anew

    def __init__(
        self, path: str | Path, clean_edges: bool = True, light_wrap: float = 0.0
    ) -> None:
        self.clean_edges = clean_edges
        self.light_wrap = light_wrap
        self.path = Path(path)
        self._source = VideoFileSource(self.path)
        self._frames: Iterator[Frame] = iter(self._source)
        self.loops = 0

    def _next_image(self) -> np.ndarray:
        frame = next(self._frames, None)
        if frame is None:  # end of the clip: start again
            self._source.close()
            self._source = VideoFileSource(self.path)
            self._frames = iter(self._source)
            self.loops += 1
            frame = next(self._frames)
        return frame.image

    def background(self, frame: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        height, width = frame.shape[:2]
        return cover_resize(self._next_image(), width, height)

    def background_planes(self, picture: I420, matte: PlaneMatte) -> I420:
        return I420.from_rgb(self.background(picture.y, matte.uv))  # the size is enough

    def close(self) -> None:
        self._source.close()
