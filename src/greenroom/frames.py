"""Ground level: the frame type every source yields and every sink takes, and the sink interface.

They live outside every stage's package so that sources, the engine (pipeline, model, effects)
and sinks can share them without depending on each other: a source knows nothing of sinks, a
sink nothing of the pipeline (after aiortc, where every track speaks `VideoFrame`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Self

import cv2
import numpy as np

if TYPE_CHECKING:
    import av

#: A rectangle of an image, (x0, y0, x1, y1): columns x0..x1-1, rows y0..y1-1.
Box = tuple[int, int, int, int]

#: yuv420p (BT.601, limited range, as OpenCV's I420 conversions) to RGB, for `cv2.transform`
#: on a 4:4:4 (Y, U, V) image: R, G, B rows over (Y, U, V, 1).
_YUV_TO_RGB = np.array(
    [
        [1.164, 0.0, 1.596, -1.164 * 16 - 1.596 * 128],
        [1.164, -0.391, -0.813, -1.164 * 16 + (0.391 + 0.813) * 128],
        [1.164, 2.018, 0.0, -1.164 * 16 - 2.018 * 128],
    ],
    np.float32,
)
#: Its linear part: how a step in Y, U or V moves R, G and B (the offsets cancel in differences).
YUV_TO_RGB_LINEAR = _YUV_TO_RGB[:, :3].astype(np.float64)
#: uint8 -> float32 x / 255 as a 256-entry table for `cv2.LUT`: one lookup per value, the same
#: float32 values as multiplying by float32(1 / 255) (a model's input, a gray thumbnail).
BYTE_TO_UNIT = np.arange(256, dtype=np.float32) * np.float32(1 / 255)


def yuv_to_rgb(image: np.ndarray) -> np.ndarray:
    """An HxWx3 limited-range BT.601 Y, U, V image (uint8) as RGB, rounded and clipped."""
    return cv2.transform(image, _YUV_TO_RGB)


def plane_views(frame: av.VideoFrame) -> list[np.ndarray]:
    """Each plane of an 8-bit planar `av.VideoFrame` as a uint8 view (no copy; rows may be
    padded, so the views are strided): yuv420p, and the full-range yuvj formats a JPEG gives."""
    return [
        np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[: plane.height, : plane.width]
        for plane in frame.planes
    ]


class I420:
    """A picture in the codec's own format: yuv420p, a Y plane and U and V planes at half width
    and height (the format of most H.264, H.265, VP9 and AV1 video, and of WebRTC).

    Keeping decoded frames in this format avoids converting every whole frame to RGB and back:
    the engine composites plane by plane (`Effect.apply_planes`), and the model and the matte
    read a half-size view (`half_yuv`, or `half_rgb` for RGB readers). The planes may be views
    into a decoded `av.VideoFrame` (`from_video_frame`: no copy) or into one buffer that a frame
    for the encoder wraps (`blank`: the result is encoded, or sent to a virtual camera, without
    a copy either); rows may be padded (strided views). Width and height are even.
    """

    def __init__(self, y: np.ndarray, u: np.ndarray, v: np.ndarray,
                 frame: av.VideoFrame | None = None) -> None:
        height, width = y.shape
        half = (height // 2, width // 2)
        if (height | width) & 1 or u.shape != half or v.shape != half or not (
            y.dtype == u.dtype == v.dtype == np.uint8
        ):
            raise ValueError(f"I420 planes are 2h x 2w, h x w and h x w uint8, got {y.shape}, "
                             f"{u.shape}, {v.shape}")
        self.y, self.u, self.v = y, u, v
        self.height, self.width = height, width
        self.frame = frame  # the av.VideoFrame whose memory the planes are, if any
        self._half_rgb: np.ndarray | None = None
        self._half_yuv: np.ndarray | None = None
        self._lumas: list[np.ndarray] = [y]  # the Y plane halved 0, 1, 2 ... times, as asked
        self._chromas: list[tuple[np.ndarray, np.ndarray]] = [(u, v)]  # U and V, likewise

    @classmethod
    def from_buffer(cls, data: np.ndarray) -> I420:
        """Views into one (height * 3/2) x width buffer: Y, then U, then V (the layout of
        OpenCV's I420 conversions and PyAV's `to_ndarray(format="yuv420p")`)."""
        rows, width = data.shape
        height = rows * 2 // 3
        if data.dtype != np.uint8 or rows % 3 or (height | width) & 1:
            raise ValueError(f"an I420 buffer is (2h * 3/2) x 2w uint8, got {data.shape} "
                             f"{data.dtype}")
        flat = data.reshape(-1)
        quarter = height * width // 4
        u = flat[height * width : height * width + quarter]
        v = flat[height * width + quarter :]
        half = (height // 2, width // 2)
        return cls(data[:height], u.reshape(half), v.reshape(half))

    @staticmethod
    def readable(frame: av.VideoFrame) -> bool:
        """Whether a decoded frame can be taken as it is: 8-bit, limited-range yuv420p with even
        sizes (full-range yuvj420p, 10-bit, 4:2:2 and alpha formats cannot)."""
        return frame.format.name == "yuv420p" and not (frame.width | frame.height) & 1

    @classmethod
    def from_video_frame(cls, frame: av.VideoFrame) -> I420:
        """Views into a yuv420p `av.VideoFrame`'s planes, which it keeps alive. Treat them as
        read-only: a decoder may still use the frame as a reference."""
        return cls(*plane_views(frame), frame=frame)

    @classmethod
    def blank(cls, width: int, height: int) -> I420:
        """A new picture to fill: one (height * 3/2) x width buffer that an `av.VideoFrame`
        wraps without a copy. So an encoder takes it as it is, and so does a virtual camera,
        which wants the three planes in one buffer (`data`)."""
        import av

        data = np.empty((height * 3 // 2, width), np.uint8)
        picture = cls.from_buffer(data)
        picture.frame = av.VideoFrame.from_numpy_buffer(data, format="yuv420p")
        return picture

    @classmethod
    def from_rgb(cls, rgb: np.ndarray) -> I420:
        return cls.from_buffer(cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420))

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) of the picture, as `image.shape[:2]` is for an RGB array."""
        return self.height, self.width

    @property
    def data(self) -> np.ndarray:
        """The picture as one (height * 3/2) x width buffer (copied together unless it is one)."""
        base = self.y.base
        if (isinstance(base, np.ndarray) and base.shape == (self.height * 3 // 2, self.width)
                and base.dtype == np.uint8 and base.flags.c_contiguous
                and base.ctypes.data == self.y.ctypes.data):
            return base
        return np.concatenate([self.y.reshape(-1), self.u.reshape(-1), self.v.reshape(-1)]
                              ).reshape(self.height * 3 // 2, self.width)

    def planes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Y (full size), U and V (half width and height); writing them writes the picture."""
        return self.y, self.u, self.v

    def to_video_frame(self) -> av.VideoFrame:
        """An `av.VideoFrame` of the picture: its own frame when it has one, else a copy."""
        if self.frame is not None:
            return self.frame
        import av

        return av.VideoFrame.from_ndarray(self.data, format="yuv420p")

    def map_planes(self, operation: Callable[[np.ndarray], np.ndarray]) -> I420:
        """A new picture made by one geometric `operation` on each plane (a flip, a rotation)."""
        return I420(*(np.ascontiguousarray(operation(plane)) for plane in self.planes()))

    def rgb(self) -> np.ndarray:
        """The whole picture as HxWx3 RGB (a full conversion: for the paths that need it)."""
        return cv2.cvtColor(self.data, cv2.COLOR_YUV2RGB_I420)

    def half_y(self) -> np.ndarray:
        """The Y plane averaged over 2x2, the size of U and V; computed once per picture."""
        return self.luma(1)

    def luma(self, times: int) -> np.ndarray:
        """The Y plane averaged down by 2**times (each halving 2x2, OpenCV's fast exact-2x
        path), computed once per picture: the model's view, the motion checks and the blur
        all read the same reduced luma instead of each reducing the whole plane again."""
        while len(self._lumas) <= times:
            last = self._lumas[-1]
            height, width = last.shape
            self._lumas.append(cv2.resize(last, (max(1, width // 2), max(1, height // 2)),
                                          interpolation=cv2.INTER_AREA))
        return self._lumas[times]

    def chroma(self, times: int) -> tuple[np.ndarray, np.ndarray]:
        """U and V averaged down by 2**times, as `luma` does for Y, computed once per picture:
        the blur and the guided filter's coarse grid read the same reductions."""
        while len(self._chromas) <= times:
            self._chromas.append(tuple(  # type: ignore[arg-type]
                cv2.resize(plane, (max(1, plane.shape[1] // 2), max(1, plane.shape[0] // 2)),
                           interpolation=cv2.INTER_AREA) for plane in self._chromas[-1]))
        return self._chromas[times]

    def half_planes(self, times: int) -> list[np.ndarray]:
        """The half-size picture (`half_yuv`) halved `times` more, as its Y, U and V planes:
        the same values as halving `half_yuv` itself, from the cached reductions."""
        return [self.luma(times + 1), *self.chroma(times)]

    def motion_luma(self, min_width: int = 256) -> np.ndarray:
        """The smallest reduced Y plane at least `min_width` wide (or the plane itself): what
        the scene-cut, stillness and motion checks compare from frame to frame. They read it
        at the model's size (256 wide or less) anyway, so reducing the whole plane for each of
        them again would be wasted work."""
        times = 0
        while (self.width >> (times + 1)) >= min_width and times < 4:
            times += 1
        return self.luma(times)

    def half_yuv(self) -> np.ndarray:
        """The picture at half width and height as one HxWx3 Y, U, V image: Y averaged over
        2x2 with U and V as they are. What the model and the matte read when they take YUV
        (no colour conversion at this size); computed once per picture."""
        if self._half_yuv is None:
            self._half_yuv = cv2.merge([self.half_y(), self.u, self.v])
        return self._half_yuv

    def half_rgb(self) -> np.ndarray:
        """`half_yuv` as RGB, for readers that need RGB; computed once per picture."""
        if self._half_rgb is None:
            self._half_rgb = yuv_to_rgb(self.half_yuv())
        return self._half_rgb


@dataclass
class Frame:
    """One frame on its way from a source through the engine to a sink.

    A source fills in the picture and its timing; the engine adds the model's `mask` and the
    effect's `output`; a sink shows `picture` (the output once there is one).

    `pts` and `duration` count in `time_base` units, as the source's container stores them
    (None when the source has no timeline of its own: a camera). `captured` is the
    `time.perf_counter()` at which the frame arrived, the clock that latency and live recordings
    are measured on.
    """

    index: int
    image: np.ndarray | I420  # HxWx3 uint8 RGB, C-contiguous; or yuv420p as the codec gave it
    pts: int | None = None
    time_base: Fraction | None = None
    duration: int | None = None
    captured: float = field(default_factory=time.perf_counter)
    alpha: np.ndarray | None = field(default=None, repr=False)  # HxW uint8, when the input has one
    mask: np.ndarray | None = field(default=None, repr=False)
    output: np.ndarray | I420 | None = field(default=None, repr=False)

    @property
    def time(self) -> float | None:
        """Presentation time in seconds, or None without a timeline."""
        if self.pts is None or self.time_base is None:
            return None
        return float(self.pts * self.time_base)

    @property
    def picture(self) -> np.ndarray | I420:
        """What a sink shows: the effect's output once there is one, else the input picture."""
        return self.output if self.output is not None else self.image


class Sink:
    """Where frames go: a file, a virtual camera, a window, a browser, a test list.

    `write` takes each frame in order. `close` ends normally: a file is finalized and playable
    (also after a stop or Ctrl-C). `abort` ends after a failure: a sink that could leave a
    half-written file under the user's name removes it. Both are safe to call once at the end; by
    default `close` does nothing and `abort` is `close`, which is right for sinks that hold no
    file (a window, a virtual camera). As a context manager a sink is closed at the end of the
    block, or aborted when an error ends it.
    """

    def write(self, frame: Frame) -> None:
        raise NotImplementedError

    def close(self) -> object:
        """Finish; a sink that writes a file returns its path (None when nothing was written)."""
        return None

    def abort(self) -> None:
        self.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: object, tb: object) -> None:
        # Ctrl-C and SystemExit mean "stop": keep what was written (a recording stays playable).
        if exc_type is None or not issubclass(exc_type, Exception):
            self.close()
        else:
            self.abort()
