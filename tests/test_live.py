"""Live pieces without hardware: camera source over a fake capture, virtual camera, hotkeys."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from greenroom.compositing import Blur, ColorBackground, ImageBackground, MaskOnly, Passthrough
from greenroom.errors import InputError, OutputError
from greenroom.frames import Frame
from greenroom.pipeline import Processor
from greenroom.pipeline.controls import LiveControls
from greenroom.samples import sample_path
from greenroom.sinks.virtualcam import VirtualCameraSink
from greenroom.sources.camera import CameraSettings, CameraSource
from greenroom.testing import FakeVirtualCamera


class FakeCapture:
    """Stands in for cv2.VideoCapture: serves `frames` BGR frames, then fails like an unplug."""

    def __init__(self, image_bgr: np.ndarray, frames: int, opened: bool = True) -> None:
        self.image = image_bgr
        self.remaining = frames
        self.opened = opened
        self.props: dict[int, float] = {}

    def isOpened(self) -> bool:  # noqa: N802 - OpenCV's name
        return self.opened

    def set(self, prop: int, value: float) -> bool:
        self.props[prop] = value
        return True

    def get(self, prop: int) -> float:
        if prop == cv2.CAP_PROP_FRAME_WIDTH:
            return self.image.shape[1]
        if prop == cv2.CAP_PROP_FRAME_HEIGHT:
            return self.image.shape[0]
        return self.props.get(prop, 0.0)

    def read(self):
        if self.remaining <= 0:
            return False, None
        self.remaining -= 1
        return True, self.image.copy()

    def release(self) -> None:
        self.opened = False


def opener_sequence(captures):
    """An opener that hands out the given captures one per call, then 'no device'."""
    pending = list(captures)

    def open_camera(device):
        return pending.pop(0) if pending else FakeCapture(np.zeros((1, 1, 3), np.uint8), 0, False)

    return open_camera


def test_camera_frames_are_rgb_and_settings_are_requested(astronaut_rgb):
    bgr = cv2.cvtColor(astronaut_rgb, cv2.COLOR_RGB2BGR)
    capture = FakeCapture(bgr, 3)
    source = CameraSource(CameraSettings(device=0, reopen_seconds=0.1), opener_sequence([capture]))
    items = list(source)
    assert len(items) == 3
    np.testing.assert_array_equal(items[0].image, astronaut_rgb)
    assert capture.props[cv2.CAP_PROP_FOURCC] == cv2.VideoWriter_fourcc(*"MJPG")
    assert capture.props[cv2.CAP_PROP_FRAME_WIDTH] == 1280
    assert capture.props[cv2.CAP_PROP_BUFFERSIZE] == 1
    assert source.lost and "did not come back" in source.lost


def test_camera_that_drops_out_is_reopened(astronaut_rgb):
    bgr = cv2.cvtColor(astronaut_rgb, cv2.COLOR_RGB2BGR)
    source = CameraSource(
        CameraSettings(device=0, reopen_seconds=1.0),
        opener_sequence([FakeCapture(bgr, 2), FakeCapture(bgr, 3)]),
    )
    assert len(list(source)) == 5
    assert source.reopened == 1


def test_missing_camera_is_one_clear_line():
    with pytest.raises(InputError, match="no camera at index 3") as info:
        CameraSource(CameraSettings(device=3), opener_sequence([]))
    assert "\n" not in str(info.value)


def test_camera_source_reads_a_real_video_path_through_opencv(tmp_path, astronaut_rgb):
    """A path instead of an index goes through the same OpenCV capture (as for IP cameras)."""
    path = tmp_path / "cam.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (512, 512))
    for _ in range(5):
        writer.write(cv2.cvtColor(astronaut_rgb, cv2.COLOR_RGB2BGR))
    writer.release()
    source = CameraSource(CameraSettings(device=str(path), width=None, height=None, fps=None,
                                         reopen_seconds=0.1))
    items = list(source)
    assert len(items) == 5
    assert np.abs(items[0].image.astype(int) - astronaut_rgb).mean() < 6


def test_virtual_camera_gets_rgb_for_every_effect_kind(astronaut_rgb):
    sink = VirtualCameraSink(512, 512, 30, camera_factory=FakeVirtualCamera)
    rgba = np.dstack([astronaut_rgb, np.full((512, 512), 255, np.uint8)])
    for output in [astronaut_rgb, rgba, np.zeros((512, 512), np.uint8)]:
        sink.write(Frame(0, astronaut_rgb, output=output))
    camera = sink._camera
    np.testing.assert_array_equal(camera.sent[0], astronaut_rgb)
    np.testing.assert_array_equal(camera.sent[1], astronaut_rgb)
    assert camera.sent[2].max() == 0
    sink.close()
    assert camera.closed


def test_missing_virtual_camera_device_says_how_to_create_it():
    def no_device(**kwargs):
        raise RuntimeError("'v4l2loopback' backend: No v4l2 loopback device found at /dev/video")

    with pytest.raises(OutputError, match="modprobe v4l2loopback"):
        VirtualCameraSink(640, 480, 30, camera_factory=no_device)


def test_hotkeys_switch_effects(tmp_path):
    backgrounds = tmp_path / "bg"
    backgrounds.mkdir()
    for name in ["a.jpg", "b.jpg"]:
        (backgrounds / name).write_bytes(sample_path("rocket.jpg").read_bytes())
    (backgrounds / "c.jpg").write_bytes(b"broken")  # skipped with a message, not a crash
    processor = Processor(Blur(10), model="selfie-general")
    controls = LiveControls(processor, sorted(backgrounds.iterdir()))
    assert controls.handle_key(ord("+"))
    assert isinstance(processor.effect, Blur) and processor.effect.strength == pytest.approx(12.5)
    assert controls.handle_key(ord("-")) and processor.effect.strength == pytest.approx(10)
    controls.handle_key(ord("n"))
    assert isinstance(processor.effect, ImageBackground) and controls.background_index == 0
    controls.handle_key(ord("p"))  # wraps backwards past the broken c.jpg to b.jpg
    assert isinstance(processor.effect, ImageBackground) and controls.background_index == 1
    controls.handle_key(ord("c"))
    assert isinstance(processor.effect, ColorBackground)
    controls.handle_key(ord("m"))
    assert isinstance(processor.effect, MaskOnly)
    controls.handle_key(ord("m"))
    assert isinstance(processor.effect, ColorBackground)
    controls.handle_key(ord("o"))
    assert isinstance(processor.effect, Passthrough)
    controls.handle_key(ord("f"))
    assert controls.overlay
    assert not controls.handle_key(ord("q"))
    assert not controls.handle_key(27)


def test_live_file_source_turns_a_sideways_phone_clip_upright(tmp_path):
    """A camera stream has no rotation metadata, so a rotated clip is turned in pixels."""
    from greenroom.sources.live_file import LiveFileSource
    from greenroom.sources.video import VideoFileSource
    from tests.clips import make_clip

    clip = make_clip(tmp_path / "phone.mp4", frames=3, width=320, height=240, rotation=90)
    with VideoFileSource(clip.path) as stored:
        first_stored = next(iter(stored)).image
    source = LiveFileSource(clip.path, realtime=False)
    assert (source.width, source.height) == (240, 320)
    frames = [item.image for item in source]
    assert len(frames) == 3 and frames[0].shape == (320, 240, 3)
    upright = cv2.rotate(first_stored, cv2.ROTATE_90_COUNTERCLOCKWISE)
    np.testing.assert_array_equal(frames[0], upright)


def test_a_file_read_faster_than_real_time_records_at_its_own_pace(tmp_path):
    """`camera --source clip --no-realtime --record`: frames come as fast as they decode, but
    the recording keeps the file's timeline, looped without a jump."""
    from greenroom.sinks.recording import RecordingSink
    from greenroom.sources.live_file import LiveFileSource
    from tests.clips import make_clip, read_video_pts

    clip = make_clip(tmp_path / "clip.mp4", frames=12, audio=False)
    source = LiveFileSource(clip.path, loop=True, realtime=False)
    sink = RecordingSink(tmp_path / "rec.mkv", source.width, source.height, source.fps)
    for item in source:
        item.output = item.image
        sink.write(item)
        if item.index == 23:  # twice through the file
            break
    sink.close()
    recorded, _ = read_video_pts(tmp_path / "rec.mkv")
    once = [round(1000 * float((p - clip.pts[0]) * clip.time_base)) for p in clip.pts]
    length = round(1000 * float((clip.pts[-1] - clip.pts[0]) * clip.time_base)) + round(
        1000 / source.fps)
    assert recorded[:12] == once
    assert all(abs(r - (o + length)) <= 1 for r, o in zip(recorded[12:], once, strict=True))
