"""A camera's own formats (MJPEG, YUYV, NV12, I420) read into yuv420p planes without RGB.

No camera here: a fake capture behaves as OpenCV's V4L2 backend does with
CAP_PROP_CONVERT_RGB = 0 (MJPEG as a 1 x N byte buffer, YUYV as H x W x 2, NV12 and I420 as one
(H * 3/2) x W plane) and as it does when the backend refuses raw buffers (BGR).
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from greenroom.frames import I420
from greenroom.sources.camera import CameraSettings, CameraSource
from greenroom.sources.camera_formats import RawFrameReader, fourcc_text


def fourcc(text: str) -> float:
    return float(cv2.VideoWriter_fourcc(*text))


class RawCapture:
    """cv2.VideoCapture over one picture, in `code`'s raw layout once conversion is off."""

    def __init__(self, rgb: np.ndarray, code: str, buffers: list[np.ndarray], frames: int = 3,
                 accepts_raw: bool = True) -> None:
        self.rgb, self.code, self.buffers = rgb, code, buffers
        self.remaining, self.accepts_raw = frames, accepts_raw
        self.props: dict[int, float] = {cv2.CAP_PROP_FOURCC: fourcc(code)}

    def isOpened(self) -> bool:  # noqa: N802 - OpenCV's name
        return True

    def set(self, prop: int, value: float) -> bool:
        if prop == cv2.CAP_PROP_CONVERT_RGB and not self.accepts_raw:
            return bool(value)  # refuses 0 (raw), accepts 1
        if prop == cv2.CAP_PROP_FOURCC and self.code != "MJPG":
            return False  # this camera only has its own format
        self.props[prop] = value
        return True

    def get(self, prop: int) -> float:
        sizes = {cv2.CAP_PROP_FRAME_WIDTH: 1, cv2.CAP_PROP_FRAME_HEIGHT: 0}
        if prop in sizes:
            return self.rgb.shape[sizes[prop]]
        return self.props.get(prop, 0.0)

    def read(self):
        if self.remaining <= 0:
            return False, None
        self.remaining -= 1
        if self.props.get(cv2.CAP_PROP_CONVERT_RGB, 1) == 0:
            return True, self.buffers[self.remaining % len(self.buffers)].copy()
        return True, cv2.cvtColor(self.rgb, cv2.COLOR_RGB2BGR)

    def release(self) -> None:
        pass


@pytest.fixture(scope="module")
def picture(astronaut_rgb) -> np.ndarray:
    return cv2.resize(astronaut_rgb, (640, 360))


def yuyv_of(planes: I420) -> np.ndarray:
    """YUYV with each chroma row used for two picture rows (so averaging the pair gives it back)."""
    height, width = planes.y.shape
    out = np.empty((height, width, 2), np.uint8)
    out[..., 0] = planes.y
    out[:, 0::2, 1] = np.repeat(planes.u, 2, axis=0)
    out[:, 1::2, 1] = np.repeat(planes.v, 2, axis=0)
    return out


def nv12_of(planes: I420) -> np.ndarray:
    height, width = planes.y.shape
    chroma = np.stack([planes.u, planes.v], axis=-1).reshape(height // 2, width)
    return np.concatenate([planes.y, chroma])


def frames_of(capture: RawCapture, planar: bool = True, device: int | str = 0):
    source = CameraSource(CameraSettings(device=device, reopen_seconds=0.0),
                          lambda _device: capture, planar=planar)
    return source, list(source)


@pytest.mark.parametrize("code", ["YUYV", "NV12", "YU12"])
def test_uncompressed_formats_give_the_same_planes(picture, code):
    planes = I420.from_rgb(picture)
    raw = {"YUYV": yuyv_of, "NV12": nv12_of, "YU12": lambda p: p.data.copy()}[code](planes)
    source, frames = frames_of(RawCapture(picture, code, [raw]))
    assert source.planar and len(frames) == 3
    for frame in frames:
        assert isinstance(frame.image, I420)
        for got, want in zip(frame.image.planes(), planes.planes(), strict=True):
            np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("sampling", [cv2.IMWRITE_JPEG_SAMPLING_FACTOR_422,
                                      cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420])
def test_mjpeg_is_decoded_to_limited_range_planes(picture, sampling):
    ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(picture, cv2.COLOR_RGB2BGR),
                            [cv2.IMWRITE_JPEG_QUALITY, 95, cv2.IMWRITE_JPEG_SAMPLING_FACTOR,
                             sampling])
    assert ok
    source, frames = frames_of(RawCapture(picture, "MJPG", [jpeg.reshape(1, -1)]))
    assert source.planar and len(frames) == 3
    got = frames[0].image
    assert isinstance(got, I420)
    # the same values as OpenCV's own decode taken to yuv420p (JPEG's full range mapped onto
    # 16..235 / 16..240 rather than read as if it were limited: that would shift every level)
    want = I420.from_rgb(cv2.cvtColor(cv2.imdecode(jpeg, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB))
    for plane, reference in zip(got.planes(), want.planes(), strict=True):
        assert np.abs(plane.astype(int) - reference).mean() < 1.0
    assert got.y.min() >= 16 and got.y.max() <= 235
    assert cv2.PSNR(got.rgb(), picture) > 30


def test_a_damaged_jpeg_is_skipped_and_the_stream_goes_on(picture):
    ok, jpeg = cv2.imencode(".jpg", picture)
    cut = jpeg[: jpeg.size // 3].reshape(1, -1)
    garbage = np.full((1, 500), 7, np.uint8)
    source, frames = frames_of(RawCapture(picture, "MJPG", [jpeg.reshape(1, -1), garbage, cut],
                                          frames=6))
    assert source.skipped >= 2  # garbage twice at least; a truncated JPEG may still decode
    assert len(frames) + source.skipped == 6
    assert [frame.index for frame in frames] == list(range(len(frames)))


def test_a_backend_without_raw_buffers_gives_rgb(picture):
    source, frames = frames_of(RawCapture(picture, "MJPG", [], accepts_raw=False))
    assert not source.planar
    np.testing.assert_array_equal(frames[0].image, picture)


def test_streams_and_unknown_formats_stay_rgb(picture):
    capture = RawCapture(picture, "MJPG", [])
    source, frames = frames_of(capture, device="rtsp://127.0.0.1/cam")
    assert not source.planar and cv2.CAP_PROP_CONVERT_RGB not in capture.props
    source, frames = frames_of(RawCapture(picture, "H264", []))
    assert not source.planar and frames[0].image.shape == picture.shape
    source, frames = frames_of(RawCapture(picture, "YUYV", []), planar=False)
    assert not source.planar


def test_reader_names_and_rejects_what_it_does_not_read():
    assert fourcc_text(fourcc("MJPG")) == "MJPG"
    with pytest.raises(ValueError, match="H264"):
        RawFrameReader("H264", 640, 360)
    reader = RawFrameReader("YUYV", 640, 360)
    assert reader.picture(np.zeros((360, 640, 3), np.uint8)) is None  # not H x W x 2


def test_a_camera_whose_buffers_never_read_falls_back_to_rgb(picture, caplog):
    garbage = np.full((1, 500), 7, np.uint8)
    source, frames = frames_of(RawCapture(picture, "MJPG", [garbage], frames=40))
    assert source.skipped == 30 and not source.planar  # then OpenCV's BGR, as RGB
    assert len(frames) == 10 and all(frame.image.shape == picture.shape for frame in frames)
    assert "could not be read" in caplog.text


def test_odd_sized_cameras_stay_rgb(picture):
    odd = np.ascontiguousarray(picture[:359])
    source, frames = frames_of(RawCapture(odd, "YUYV", []))
    assert not source.planar and frames[0].image.shape == odd.shape
