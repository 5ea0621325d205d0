"""The virtual camera that Zoom, Meet, Teams and OBS pick up, through pyvirtualcam.

pyvirtualcam drives v4l2loopback on Linux and OBS's virtual camera on Windows and macOS. When no
such device exists, the user gets the one command that creates it instead of a stack trace.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from greenroom.errors import OutputError
from greenroom.extras import require_extra
from greenroom.frames import I420, Frame, Sink
from greenroom.sinks.frames import to_rgb

V4L2LOOPBACK_HINT = (
    "no virtual camera device; create one with "
    "`sudo modprobe v4l2loopback devices=1 exclusive_caps=1 card_label=greenroom` "
    "(package v4l2loopback-dkms)"
)
OBS_HINT = "no virtual camera; install OBS Studio and start its Virtual Camera once"


def virtual_camera_hint() -> str:
    return V4L2LOOPBACK_HINT if sys.platform.startswith("linux") else OBS_HINT


class VirtualCameraSink(Sink):
    """Send processed frames to a virtual camera device."""

    def __init__(
        self,
        width: int,
        height: int,
        fps: float,
        device: str | None = None,
        camera_factory: Callable[..., Any] | None = None,
        planar: bool = False,
    ) -> None:
        # `planar`: the device is fed yuv420p (I420), which v4l2loopback, OBS and the macOS
        # camera take as they are; frames already in that format then need no conversion.
        self.planar = planar
        if camera_factory is None:
            require_extra("camera", "the virtual camera", ("pyvirtualcam",))
            import pyvirtualcam

            camera_factory = pyvirtualcam.Camera
            formats = pyvirtualcam.PixelFormat
            pixel_format = formats.I420 if planar else formats.RGB
        else:
            pixel_format = "i420" if planar else "rgb"
        try:
            self._camera = camera_factory(
                width=width, height=height, fps=fps, fmt=pixel_format, device=device
            )
        except (RuntimeError, ValueError) as exc:
            problem = virtual_camera_hint() if "found" in str(exc) else str(exc).splitlines()[0]
            raise OutputError(device or "virtual camera", problem) from None
        self.device = getattr(self._camera, "device", device)
        self.frames = 0

    def write(self, frame: Frame) -> None:
        picture = frame.picture
        if not self.planar:
            self._camera.send(to_rgb(picture))
        elif isinstance(picture, I420):
            self._camera.send(picture.data)
        else:
            self._camera.send(I420.from_rgb(to_rgb(picture)).data)
        self.frames += 1

    def close(self) -> None:
        self._camera.close()
