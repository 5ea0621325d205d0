"""A camera's own pixel formats turned into the engine's yuv420p (`I420`), with no RGB between.

USB cameras deliver 720p30 and above as MJPEG, smaller modes as YUYV, and some NV12 or I420.
Asked to (`CAP_PROP_CONVERT_RGB` = 0), OpenCV's V4L2 backend hands those buffers over as they
are, instead of decoding to BGR; greenroom then takes the planes the engine composites in:

- MJPEG is decoded by FFmpeg (PyAV) to its own full-range planes and mapped to the limited
  range of yuv420p with a lookup table (4:2:2 chroma, the usual webcam JPEG, is averaged over
  row pairs). On a 720p frame here that is about 4 ms, against about 10 ms for OpenCV's decode
  to BGR plus the BGR -> RGB -> yuv420p conversions it replaces.
- YUYV, NV12 and I420 are already the right values, only arranged differently: their planes
  are separated (and YUYV's chroma averaged over row pairs).

A buffer that cannot be read (a JPEG cut short by a USB hiccup) gives no picture: the camera
loop skips it, as a decoder skips a damaged frame. The buffers OpenCV returns in this mode point
into the driver's memory and are reused by the next read, so every picture here is a copy.
"""

from __future__ import annotations

import cv2
import numpy as np

from greenroom.frames import I420, plane_views

#: The V4L2 formats (fourcc) read as they are; any other stays with OpenCV's BGR.
RAW_FORMATS = ("MJPG", "YUYV", "YUY2", "NV12", "YU12", "I420")


def _range_table(low: int, high: int) -> np.ndarray:
    """JPEG's full range 0..255 mapped onto `low`..`high` (yuv420p's limited range), rounded."""
    return np.round(low + np.arange(256) * ((high - low) / 255)).astype(np.uint8)


#: Full range -> limited range: luma onto 16..235, chroma onto 16..240 (128 stays 128).
LUMA_TABLE = _range_table(16, 235)
CHROMA_TABLE = _range_table(16, 240)


def fourcc_text(value: float) -> str:
    """OpenCV's CAP_PROP_FOURCC (a float holding four characters) as text, e.g. 'MJPG'."""
    code = int(value)
    return "".join(chr((code >> (8 * i)) & 0xFF) for i in range(4))


def _new_picture(width: int, height: int) -> I420:
    """An empty yuv420p picture in one contiguous buffer: OpenCV writes each plane in place,
    and a virtual camera or an encoder takes the buffer without copying it together."""
    return I420.from_buffer(np.empty((height * 3 // 2, width), np.uint8))


def _halve_rows(plane: np.ndarray, out: np.ndarray) -> None:
    """A chroma plane averaged over row pairs into `out`: 4:2:2 (full height) -> 4:2:0. (One
    weighted sum of the even and odd rows: OpenCV's area resize takes a slow generic path for
    a reduction in one direction only.)"""
    cv2.addWeighted(plane[0::2], 0.5, plane[1::2], 0.5, 0.0, dst=out)


class RawFrameReader:
    """Turns one camera buffer in `fourcc` into an `I420` (None when it cannot be read)."""

    def __init__(self, fourcc: str, width: int, height: int) -> None:
        if fourcc not in RAW_FORMATS:
            raise ValueError(f"not a raw format greenroom reads: {fourcc!r}")
        self.fourcc = fourcc
        self.width, self.height = width, height
        self._decoder = None
        if fourcc == "MJPG":
            import av

            self._decoder = av.CodecContext.create("mjpeg", "r")

    def picture(self, buffer: np.ndarray) -> I420 | None:
        if self.fourcc == "MJPG":
            return self._from_jpeg(buffer)
        if (self.width | self.height) & 1:
            return None
        if self.fourcc in ("YUYV", "YUY2"):
            return self._from_yuyv(buffer)
        return self._from_planar(buffer)

    def _from_jpeg(self, buffer: np.ndarray) -> I420 | None:
        import av

        assert self._decoder is not None
        try:
            frames = self._decoder.decode(av.Packet(buffer.tobytes()))
        except (av.error.FFmpegError, ValueError):
            return None
        if not frames:
            return None
        frame = frames[-1]
        width, height = frame.width, frame.height
        if (width | height) & 1:
            return None
        name = frame.format.name
        if name not in ("yuvj420p", "yuvj422p", "yuvj444p"):  # rare: let FFmpeg convert
            return I420.from_video_frame(frame.reformat(format="yuv420p"))
        y, u, v = plane_views(frame)
        out = _new_picture(width, height)
        cv2.LUT(y, LUMA_TABLE, dst=out.y)
        for source, target in ((u, out.u), (v, out.v)):
            if source.shape[1] != target.shape[1]:  # 4:4:4: halve across too
                source = cv2.resize(source, (target.shape[1], source.shape[0]),
                                    interpolation=cv2.INTER_LINEAR)
            if source.shape[0] != target.shape[0]:  # 4:2:2 (and 4:4:4): average row pairs
                _halve_rows(source, target)
                source = target
            cv2.LUT(source, CHROMA_TABLE, dst=target)
        return out

    def _from_yuyv(self, buffer: np.ndarray) -> I420 | None:
        """Y0 U Y1 V per pixel pair: OpenCV gives it as an H x W x 2 array (Y, then U or V)."""
        if buffer.shape != (self.height, self.width, 2):
            return None
        out = _new_picture(self.width, self.height)
        cv2.extractChannel(buffer, 0, dst=out.y)
        pairs = buffer.reshape(self.height, self.width // 2, 4)  # Y0 U Y1 V
        for channel, target in ((1, out.u), (3, out.v)):
            _halve_rows(cv2.extractChannel(pairs, channel), target)
        return out

    def _from_planar(self, buffer: np.ndarray) -> I420 | None:
        """NV12 (Y, then U and V interleaved) or I420/YU12 (Y, U, V): one (H * 3/2) x W plane."""
        height, width = self.height, self.width
        flat = buffer.reshape(-1)
        if flat.size != height * width * 3 // 2:
            return None
        data = flat.reshape(height * 3 // 2, width)
        if self.fourcc != "NV12":
            return I420.from_buffer(data.copy())
        out = _new_picture(width, height)
        out.y[...] = data[:height]
        chroma = data[height:].reshape(height // 2, width // 2, 2)
        cv2.extractChannel(chroma, 0, dst=out.u)
        cv2.extractChannel(chroma, 1, dst=out.v)
        return out
