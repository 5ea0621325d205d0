"""Live cameras through OpenCV: a device index, a /dev/video path or a stream URL.

Cameras fail in ways files do not: the device is missing, busy, unplugged mid-call. Each of those
becomes one clear message; an unplugged camera is reopened for a few seconds before giving up, and
giving up ends the stream cleanly so whatever is being recorded is kept.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2

from greenroom.errors import InputError
from greenroom.frames import Frame
from greenroom.sources.camera_formats import RAW_FORMATS, RawFrameReader, fourcc_text
from greenroom.sources.images import MAX_PIXELS

Opener = Callable[..., Any]

log = logging.getLogger(__name__)

#: Unreadable raw buffers in a row after which the camera is read through OpenCV's BGR instead:
#: a format variant FFmpeg cannot decode must not freeze the picture.
MAX_UNREADABLE = 30


@dataclass
class CameraSettings:
    """What to ask the camera for; the camera may grant something else (see `CameraSource.info`)."""

    device: int | str = 0
    width: int | None = 1280
    height: int | None = 720
    fps: float | None = 30.0
    mjpg: bool = True
    reopen_seconds: float = 5.0


def parse_device(text: str) -> int | str:
    """'0' -> 0 (an index); anything else (a path or URL) stays a string."""
    return int(text) if text.isdigit() else text


def describe(device: int | str) -> str:
    return f"camera {device}" if isinstance(device, int) else str(device)


def no_camera_hint(device: int | str) -> str:
    if isinstance(device, int) and sys.platform.startswith("linux"):
        return (
            f"no camera at index {device} (/dev/video{device}); list cameras with "
            "`v4l2-ctl --list-devices`, or use --source FILE to run on a video file"
        )
    return "cannot be opened; check that it is connected and not used by another program"


@contextmanager
def quiet_opencv_log() -> Iterator[None]:
    """Only OpenCV's errors reach stderr meanwhile (it warns about every backend it tries)."""
    logging = cv2.utils.logging
    level = logging.getLogLevel()
    logging.setLogLevel(logging.LOG_LEVEL_ERROR)
    try:
        yield
    finally:
        logging.setLogLevel(level)


def is_device(device: int | str) -> bool:
    """A camera device (an index or /dev/video*), not a stream URL or a file."""
    return isinstance(device, int) or device.startswith("/dev/")


class CameraSource:
    """Iterate frames from a camera as `Frame`s, reopening it if it drops out.

    Frames are RGB, or with `planar` the engine's yuv420p (`I420`) read straight from the
    camera's own format where OpenCV hands it over (V4L2 devices: MJPEG, YUYV, NV12, I420; see
    `camera_formats`); `planar` then says whether it did.
    """

    def __init__(self, settings: CameraSettings, opener: Opener = cv2.VideoCapture,
                 planar: bool = False) -> None:
        self.settings = settings
        self._opener = opener
        self._want_planes = planar and is_device(settings.device)
        self._raw: RawFrameReader | None = None
        self.lost: str | None = None  # why the stream ended early, if it did
        self.reopened = 0
        self.skipped = 0  # camera buffers that could not be read (a JPEG cut short)
        self._unreadable = 0  # of them in a row
        # A regular file simply ends; devices (/dev/video*) and stream URLs are worth reopening.
        device = settings.device
        self._reopenable = not (isinstance(device, str) and Path(device).is_file())
        self._capture = self._open()
        self.width = int(self._capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(self._capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        self.fps = float(self._capture.get(cv2.CAP_PROP_FPS) or 0.0) or (settings.fps or 30.0)
        if self.width * self.height > MAX_PIXELS:  # the same limit as photos and files
            self._capture.release()
            raise InputError(describe(device), f"frames are too large: {self.width}x"
                             f"{self.height} pixels (limit {MAX_PIXELS:,})")

    def _open(self) -> Any:
        s = self.settings
        with quiet_opencv_log():  # its warnings repeat what no_camera_hint says in one line
            capture = self._opener(s.device)
        if not capture.isOpened():
            capture.release()
            raise InputError(describe(s.device), no_camera_hint(s.device))
        if s.mjpg and isinstance(s.device, int):
            # USB cameras deliver 720p30 and above only as MJPG; raw YUYV tops out lower.
            capture.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*"MJPG"))
        if s.width:
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, s.width)
        if s.height:
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, s.height)
        if s.fps:
            capture.set(cv2.CAP_PROP_FPS, s.fps)
        # A one-frame driver buffer: we want the newest frame, not a backlog.
        capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        self._raw = self._raw_reader(capture)
        return capture

    def _raw_reader(self, capture: Any) -> RawFrameReader | None:
        """Ask for the camera's own buffers when it delivers a format read here, else BGR."""
        if not self._want_planes:
            return None
        fourcc = fourcc_text(capture.get(cv2.CAP_PROP_FOURCC))
        width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        if (
            fourcc not in RAW_FORMATS
            or (width | height) & 1  # yuv420p needs even sizes
            or not capture.set(cv2.CAP_PROP_CONVERT_RGB, 0)
        ):
            capture.set(cv2.CAP_PROP_CONVERT_RGB, 1)
            return None
        return RawFrameReader(fourcc, width, height)

    @property
    def planar(self) -> bool:
        """Whether frames come as yuv420p (`I420`) rather than RGB."""
        return self._raw is not None

    def _reopen(self) -> bool:
        """Try to get the camera back for `reopen_seconds`; False if it stays gone."""
        self._capture.release()
        deadline = time.monotonic() + self.settings.reopen_seconds
        while time.monotonic() < deadline:
            try:
                self._capture = self._open()
                self.reopened += 1
                return True
            except InputError:
                time.sleep(0.25)
        return False

    def __iter__(self) -> Iterator[Frame]:
        index = 0
        try:
            while True:
                ok, bgr = self._capture.read()
                if not ok or bgr is None:
                    if not self._reopenable:
                        return
                    if self._reopen():
                        continue
                    self.lost = (
                        f"{describe(self.settings.device)} stopped delivering frames and did not "
                        f"come back within {self.settings.reopen_seconds:g} s"
                    )
                    return
                captured = time.perf_counter()
                picture = self._picture(bgr)
                if picture is None:
                    self._skip_unreadable()
                    continue
                self._unreadable = 0
                yield Frame(index, picture, captured=captured)
                index += 1
        finally:
            self.close()

    def _picture(self, buffer: Any) -> Any:
        """The frame the engine takes: I420 from a raw buffer, else RGB from OpenCV's BGR."""
        if self._raw is not None and not (buffer.ndim == 3 and buffer.shape[2] == 3):
            return self._raw.picture(buffer)
        return cv2.cvtColor(buffer, cv2.COLOR_BGR2RGB)

    def _skip_unreadable(self) -> None:
        """Count a buffer that gave no picture; after too many in a row, read BGR instead."""
        self.skipped += 1
        self._unreadable += 1
        if self._raw is not None and self._unreadable >= MAX_UNREADABLE:
            log.warning("%s: %d %s frames in a row could not be read; reading the camera "
                        "through OpenCV instead", describe(self.settings.device),
                        self._unreadable, self._raw.fourcc)
            self._capture.set(cv2.CAP_PROP_CONVERT_RGB, 1)
            self._raw = None
            self._want_planes = False  # also after a reopen

    def close(self) -> None:
        self._capture.release()
