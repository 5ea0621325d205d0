"""The segmentation interface every model implements.

A segmenter turns one frame into a soft person mask at *model* resolution. Bringing the mask to the
frame's size is a separate step (`mask_to_frame`) so that refinement stages can work on the small
mask and decide themselves how to upsample it.
"""

from __future__ import annotations

import os
from typing import Literal, Protocol, runtime_checkable

import cv2
import numpy as np

#: The channels of a frame given to `Segmenter.segment`: RGB, BGR (OpenCV's), or limited-range
#: BT.601 Y, U, V at one size (a yuv420p picture's `half_yuv`), which a model converts only
#: after shrinking it to its input size.
ChannelOrder = Literal["rgb", "bgr", "yuv"]


@runtime_checkable
class Segmenter(Protocol):
    """Frame in, soft person mask out.

    `segment` takes an HxWx3 uint8 frame (RGB unless `order` says BGR or YUV) and returns a
    float32 mask in [0, 1] at the model's resolution, 1 meaning person. Every model subclasses
    this, so the optional parts have defaults: `stateful` models (recurrent ones) carry state
    from frame to frame that `reset()` drops at a new shot; `close()` releases the runtime.
    """

    name: str
    #: Whether the model carries state between frames (which a scene cut must drop).
    stateful: bool = False

    def segment(self, frame: np.ndarray, order: ChannelOrder = "rgb") -> np.ndarray: ...

    def reset(self) -> None:  # noqa: B027 - a no-op default: most models carry nothing
        """Forget the frames seen so far (a new shot, a new file)."""

    def close(self) -> None:  # noqa: B027 - a no-op default
        """Release the runtime."""


def default_threads(speed: str | None = None) -> int:
    """Inference threads when none are asked for: one for a fast model, two for the others.

    A fast model (a few ms a frame: the selfie models, Meet's, the other catalogue entries
    marked `speed = "fast"`) gains little wall time from a second thread but pays for it in CPU:
    the runtime's workers spin while they wait for each other, and the video and camera jobs
    already keep both cores busy with decoding, compositing and encoding beside the model
    (MediaPipe's landscape model on a 720p frame here: 4.3 ms of CPU on one thread, 6.3 ms on
    two). A slower model is the bottleneck of every job it is in, so it gets two. Every runtime
    (LiteRT for MediaPipe's and the spec-driven models, ONNX Runtime) takes its default here.
    """
    return 1 if speed == "fast" else max(1, min(2, os.cpu_count() or 1))


def check_frame(frame: np.ndarray) -> None:
    """Reject frames a model cannot take, with a message that says what was given."""
    if not isinstance(frame, np.ndarray):
        raise TypeError(f"frame must be a numpy array, got {type(frame).__name__}")
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(
            f"frame must be an HxWx3 uint8 array, got shape {frame.shape} dtype {frame.dtype}"
        )
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise ValueError(f"frame is empty: shape {frame.shape}")


def mask_to_frame(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Upsample a model-resolution mask to `size` = (width, height) with bilinear interpolation.

    Bilinear is what MediaPipe itself uses for its full-resolution mask, so a plain pipeline stays
    identical to MediaPipe's output; edge-aware refinement lives in `greenroom.matte`.
    """
    width, height = size
    if mask.shape[1] == width and mask.shape[0] == height:
        return mask
    return cv2.resize(mask, (width, height), interpolation=cv2.INTER_LINEAR)
