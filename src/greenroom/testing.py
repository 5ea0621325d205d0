"""Stand-ins for devices and outputs, for tests and benchmarks of greenroom and of programs built
on it: a virtual camera that needs no driver, sinks that collect or discard frames.

They speak the same interfaces as the real things (`pyvirtualcam.Camera`'s, `frames.Sink`), so the
code under test runs unchanged; only the device at the end is missing.
"""

from __future__ import annotations

import time
from typing import ClassVar

import cv2
import numpy as np

from greenroom.frames import Frame, Sink


class FakeVirtualCamera:
    """Mimics `pyvirtualcam.Camera`: checks and records each frame and when it arrived.

    Pass the class as `VirtualCameraSink(camera_factory=...)`, or patch `pyvirtualcam.Camera`
    with it to drive `greenroom camera` whole. `instances` lists every camera opened (the last
    one is the command's); `delay` makes `send` slow, like a busy device; with `keep_frames`
    off nothing is stored (long benchmarks).
    """

    instances: ClassVar[list[FakeVirtualCamera]] = []
    delay: ClassVar[float] = 0.0
    keep_frames: ClassVar[bool] = True

    def __init__(self, width: int, height: int, fps: float, fmt: object = None,
                 device: str | None = None, **kwargs: object) -> None:
        self.width, self.height, self.fps, self.fmt = width, height, fps, fmt
        self.device = device or "/dev/fake-video9"
        self.sent: list[np.ndarray] = []
        self.times: list[float] = []
        self.frames = 0
        self.closed = False
        type(self).instances.append(self)

    @property
    def planar(self) -> bool:
        """Opened for yuv420p (I420) rather than RGB."""
        return str(self.fmt).lower().endswith("i420")

    def send(self, frame: np.ndarray) -> None:
        shape = ((self.height * 3 // 2, self.width) if self.planar
                 else (self.height, self.width, 3))
        if frame.shape != shape or frame.dtype != np.uint8:
            raise ValueError(f"virtual camera takes {shape} uint8 frames, "
                             f"got {frame.shape} {frame.dtype}")
        self.frames += 1
        if self.keep_frames:
            self.times.append(time.perf_counter())
            self.sent.append(frame.copy())
        if self.delay:
            time.sleep(self.delay)

    def pictures(self) -> list[np.ndarray]:
        """What was sent, as RGB pictures whatever the camera's format."""
        if not self.planar:
            return list(self.sent)
        return [cv2.cvtColor(frame, cv2.COLOR_YUV2RGB_I420) for frame in self.sent]

    def close(self) -> None:
        self.closed = True


class ListSink(Sink):
    """Collects the frames that reach it (or only counts them); optionally slow, to model a slow
    encoder or device. Remembers whether it was closed or aborted."""

    def __init__(self, delay: float = 0.0, keep: bool = True) -> None:
        self.items: list[Frame] = []
        self.count = 0
        self.delay = delay
        self.keep = keep
        self.closed = False
        self.aborted = False

    def write(self, frame: Frame) -> None:
        if self.delay:
            time.sleep(self.delay)
        self.count += 1
        if self.keep:
            self.items.append(frame)

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = self.closed = True
