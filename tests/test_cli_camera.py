"""`greenroom camera` end to end, without a camera or v4l2loopback.

The live path runs on a clip played in real time (`--source FILE`); the virtual camera is a fake
standing in for `pyvirtualcam.Camera` that records what it is sent and when.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pytest
import pyvirtualcam

from greenroom.sources.video import VideoFileSource
from greenroom.testing import FakeVirtualCamera
from tests.cli import error_lines, interrupt_once_writing, no_temp_files, run
from tests.clips import make_clip, read_video_pts

ROOT = Path(__file__).resolve().parents[1]
FRAMES = 24  # the clip: 24 frames of variable length, 1.25 s at 24 fps nominal
TOP_BAND = (slice(0, 40), slice(None))  # never covered by the moving photo: always background
SUMMARY = re.compile(
    r"greenroom: (\d+) frames in ([\d.]+) s \(([\d.]+) fps\), (\d+) dropped; .*"
    r"latency median ([\d.]+) ms, p95 ([\d.]+) ms"
)


def summary(err: str) -> dict[str, float]:
    match = SUMMARY.search(err)
    assert match, f"no summary line in: {err!r}"
    keys = ("frames", "seconds", "fps", "dropped", "latency_median", "latency_p95")
    return dict(zip(keys, map(float, match.groups()), strict=True))


def decode(path: Path) -> list:
    with VideoFileSource(path) as source:
        frames = list(source)
        assert source.skipped == 0
    return frames


def near(image: np.ndarray, colour: tuple[int, int, int]) -> float:
    return float(np.abs(image.astype(np.int16) - np.array(colour, np.int16)).mean())


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory):
    return make_clip(tmp_path_factory.mktemp("clips") / "clip.mp4", frames=FRAMES, audio=False)


@pytest.fixture(scope="module")
def clip_seconds(clip) -> float:
    return float((clip.pts[-1] + 640) * clip.time_base)


@pytest.fixture()
def fake_vcam(monkeypatch):
    FakeVirtualCamera.instances = []
    FakeVirtualCamera.delay = 0.0
    monkeypatch.setattr(pyvirtualcam, "Camera", FakeVirtualCamera)
    return FakeVirtualCamera


def has_loopback_device() -> bool:
    names = Path("/sys/devices/virtual/video4linux")
    return names.is_dir() and any(names.iterdir())


# -- recording -----------------------------------------------------------------------------------


def test_record_a_clip_played_live(capsys, clip, clip_seconds, tmp_path):
    out = tmp_path / "rec.mp4"
    started = time.perf_counter()
    status, _, err = run(capsys, "camera", "--source", clip.path, "--record", out,
                         "--no-virtual-camera")
    elapsed = time.perf_counter() - started
    assert status == 0, err
    assert elapsed > clip_seconds * 0.9  # played at its own pace, not as fast as it decodes
    assert f"recorded {out}" in err and "virtual camera" not in err
    stats = summary(err)
    frames = decode(out)
    assert len(frames) == stats["frames"]
    assert FRAMES - 4 <= len(frames) <= FRAMES  # live mode may drop a few, never adds
    pts, time_base = read_video_pts(out)
    assert time_base == pytest.approx(1 / 1000)
    assert pts[0] == 0 and all(b > a for a, b in zip(pts, pts[1:], strict=False))
    # Stamped by arrival: the recording lasts about as long as the clip's timeline.
    last = float(clip.pts[-1] * clip.time_base) * 1000
    assert 0.8 * last <= pts[-1] <= last + 400
    assert frames[0].image.shape == (240, 320, 3)
    assert no_temp_files(tmp_path)


# -- the virtual camera --------------------------------------------------------------------------


def test_virtual_camera_gets_processed_frames(capsys, fake_vcam, clip):
    status, _, err = run(capsys, "camera", "--source", clip.path, "--color", "#00ff00")
    assert status == 0, err  # no --record/--preview: the virtual camera is the default output
    assert "sending to virtual camera /dev/fake-video9" in err
    (camera,) = fake_vcam.instances
    with VideoFileSource(clip.path) as source:
        fps = float(source.info.fps)  # the clip's average rate (19.2: it is VFR)
        first = next(iter(source)).image
    assert (camera.width, camera.height) == (320, 240) and camera.fps == pytest.approx(fps)
    assert camera.fmt == pyvirtualcam.PixelFormat.I420  # a file's own yuv420p, passed on
    assert FRAMES - 4 <= len(camera.sent) <= FRAMES and camera.closed
    assert summary(err)["frames"] == len(camera.sent)
    assert near(first[TOP_BAND], (0, 255, 0)) > 100  # the input's background is not green ...
    for frame in camera.pictures():
        assert near(frame[TOP_BAND], (0, 255, 0)) < 10  # ... what the camera gets is
        far_from_green = np.abs(frame.astype(int) - (0, 255, 0)).sum(axis=2) > 150
        assert far_from_green.mean() > 0.03  # and the astronaut is still there


def test_virtual_camera_missing_says_how_to_create_it(capsys, clip, tmp_path):
    if has_loopback_device():
        pytest.skip("this machine has a v4l2loopback device")
    out = tmp_path / "rec.mp4"
    for extra in ([], ["--record", out, "--virtual-camera"]):
        status, _, err = run(capsys, "camera", "--source", clip.path, *extra)
        assert status == 1
        lines = error_lines(err)
        assert len(lines) == 1 and "modprobe v4l2loopback" in lines[0], err
        assert "Traceback" not in err
    assert not out.exists() and no_temp_files(tmp_path)  # the recording opened first is removed


def test_slow_output_drops_oldest_and_keeps_latency_bounded(capsys, fake_vcam, clip,
                                                           clip_seconds):
    interval = 1 / 24
    fake_vcam.delay = 3 * interval  # the virtual camera takes 3 frame intervals per frame
    status, _, err = run(capsys, "camera", "--source", clip.path, "--color", "blue")
    assert status == 0, err
    (camera,) = fake_vcam.instances
    stats = summary(err)
    sent = len(camera.sent)
    assert stats["frames"] == sent
    assert 0 < sent < FRAMES * 0.75  # far fewer sent than captured ...
    assert stats["dropped"] == FRAMES - sent  # ... and every other captured frame was dropped
    # A blocking pipeline would queue ~2 s of backlog here; dropping keeps it to a few frames.
    assert stats["latency_p95"] < 800
    assert camera.times[-1] - camera.times[0] < clip_seconds + 0.5


# -- stopping ------------------------------------------------------------------------------------


def test_sigint_stops_cleanly_with_a_playable_recording(clip, clip_seconds, tmp_path):
    out = tmp_path / "loop.mkv"
    status, err = interrupt_once_writing(
        ["camera", "--source", str(clip.path), "--loop", "--record", str(out),
         "--no-virtual-camera"],
        tmp_path / ".loop.mkv.tmp-*", 2.0,
    )
    assert status == 130, err
    assert "Traceback" not in err
    stats = summary(err)
    assert f"recorded {out}" in err
    frames = decode(out)
    assert len(frames) > 10 and len(frames) == stats["frames"]
    pts, _ = read_video_pts(out)
    assert all(b > a for a, b in zip(pts, pts[1:], strict=False))
    assert pts[-1] / 1000 > clip_seconds  # it looped past the end of the clip
    assert no_temp_files(tmp_path)


@pytest.mark.parametrize("realtime", ["--realtime", "--no-realtime"])
def test_max_frames_is_exact(capsys, clip, tmp_path, realtime):
    out = tmp_path / "five.mp4"
    # --loop keeps the pipeline full, so frames are still in flight when the fifth is written.
    status, _, err = run(capsys, "camera", "--source", clip.path, "--loop", "--record", out,
                         "--max-frames", "5", realtime)
    assert status == 0, err
    assert len(decode(out)) == 5 and summary(err)["frames"] == 5


def test_duration_stops_early(capsys, clip, tmp_path):
    out = tmp_path / "short.mp4"
    started = time.perf_counter()
    status, _, err = run(capsys, "camera", "--source", clip.path, "--loop", "--record", out,
                         "--duration", "0.5")
    assert status == 0, err
    assert time.perf_counter() - started < 5
    pts, _ = read_video_pts(out)
    assert 3 <= len(pts) < FRAMES
    assert 300 <= pts[-1] <= 900  # about half a second of recording


def test_preview_without_a_display(monkeypatch, capsys, clip, tmp_path):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    out = tmp_path / "rec.mp4"
    status, _, err = run(capsys, "camera", "--source", clip.path, "--preview", "--record", out)
    assert status == 1
    lines = error_lines(err)
    assert len(lines) == 1 and "display" in lines[0].lower(), err
    assert not out.exists() and no_temp_files(tmp_path)


# -- settings from a file ------------------------------------------------------------------------


def test_config_file_settings_and_flags_that_win(capsys, clip, tmp_path):
    config = tmp_path / "greenroom.toml"
    # loop + no realtime: fast, and the clip never runs out before max-frames is reached
    config.write_text('[camera]\nmax-frames = 5\ncolor = "blue"\nloop = true\n'
                      'realtime = false\n')
    out = tmp_path / "blue.mp4"
    status, _, err = run(capsys, "camera", "--config", config, "--source", clip.path,
                         "--record", out)
    assert status == 0, err
    frames = decode(out)
    assert len(frames) == 5
    assert near(frames[0].image[TOP_BAND], (0, 0, 255)) < 12

    out = tmp_path / "red.mp4"  # the command line wins over the file, in any order
    status, _, err = run(capsys, "camera", "--source", clip.path, "--record", out,
                         "--max-frames", "3", "--color", "red", "--config", config)
    assert status == 0, err
    frames = decode(out)
    assert len(frames) == 3
    assert near(frames[0].image[TOP_BAND], (255, 0, 0)) < 12

    # Another effect on the command line replaces the file's colour instead of clashing.
    out = tmp_path / "blur.mp4"
    status, _, err = run(capsys, "camera", "--config", config, "--source", clip.path,
                         "--record", out, "--blur", "10")
    assert status == 0, err
    frames = decode(out)
    with VideoFileSource(clip.path) as source:
        first = next(iter(source)).image
    assert near(frames[0].image[TOP_BAND], (0, 0, 255)) > 60  # not blue: blurred
    assert np.abs(frames[0].image[TOP_BAND].astype(int) - first[TOP_BAND]).mean() < 25


def test_config_paths_expand_the_home_folder(monkeypatch, capsys, clip, tmp_path):
    home = tmp_path / "home"
    (home / "backgrounds").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    config = tmp_path / "greenroom.toml"
    config.write_text('[camera]\nbackgrounds = "~/backgrounds"\nmax-frames = 1\n'
                      'realtime = false\n')
    status, _, err = run(capsys, "camera", "--config", config, "--source", clip.path,
                         "--record", tmp_path / "one.mp4")
    assert status == 0, err


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ('[camera]\nmax-frames = 5\ncolour = "blue"\n', "unknown setting 'colour'"),
        ("[camera\nmax-frames = 5\n", "not valid TOML"),
        (None, "no such config file"),
        ('[camera]\nwidth = "wide"\n', "setting 'width': 'wide' is not a whole number"),
        ("[camera]\nblur = -3\n", "setting 'blur'"),
        # The hostile-input campaign's findings: each was a traceback or a silent guess.
        ("[camera]\nblur = [1, 2]\n", "setting 'blur': expects a single value"),
        ("[camera]\nrecord = 7\n", "setting 'record': expects a string"),
        (b"[camera]\nblur = 3 # caf\xe9\n", "not UTF-8"),
        ("[camera]\nmax_frames = 1e400\n", "setting 'max_frames': inf is not a whole number"),
        ("[camera]\nduration = true\n", "setting 'duration': expects a value, not true"),
        ("[camera]\nmax-frames = 2.5\n", "setting 'max-frames': 2.5 is not a whole number"),
        ("[camera]\nduration = nan\n", "setting 'duration': nan is not a finite number"),
        ("[camera]\nloop = 1\n", "setting 'loop': expects true or false"),
        ("[camara]\nloop = true\n", "unknown table [camara]"),
        ("colour = 'red'\n", "unknown setting 'colour' (no greenroom command has it)"),
    ],
    ids=["unknown-key", "invalid-toml", "missing", "wrong-type", "out-of-range", "list",
         "number-for-path", "not-utf8", "overflow", "bool-for-number", "fraction-for-int",
         "nan", "number-for-flag", "unknown-table", "unknown-top-level"],
)
def test_bad_config_file_is_one_line(capsys, clip, tmp_path, content, words):
    config = tmp_path / "greenroom.toml"
    if isinstance(content, bytes):
        config.write_bytes(content)
    elif content is not None:
        config.write_text(content)
    out = tmp_path / "rec.mp4"
    status, _, err = run(capsys, "camera", "--config", config, "--source", clip.path,
                         "--record", out)
    assert status == 1
    lines = error_lines(err)
    assert len(lines) == 1 and str(config) in lines[0] and words in lines[0], err
    assert not out.exists()


# -- no camera -----------------------------------------------------------------------------------


def test_missing_camera_is_one_line(capfd, tmp_path):
    if Path("/dev/video7").exists():
        pytest.skip("this machine has a /dev/video7")
    out = tmp_path / "rec.mp4"
    status, _, err = run(capfd, "camera", "--device", "7", "--record", out)
    assert status == 1
    lines = [line for line in err.splitlines() if line.strip()]  # OpenCV's own log lines too
    assert len(lines) == 1 and "camera 7" in lines[0] and "no camera" in lines[0], err
    assert not out.exists() and no_temp_files(tmp_path)


def test_bad_source_file_is_one_line(capsys, tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all" * 100)
    status, _, err = run(capsys, "camera", "--source", bad, "--record", tmp_path / "rec.mp4")
    assert status == 1
    lines = error_lines(err)
    assert len(lines) == 1 and str(bad) in lines[0]
    assert not (tmp_path / "rec.mp4").exists()


def test_unreachable_stream_url_is_one_line(capsys, tmp_path):
    """A stream URL goes through OpenCV like a camera; nothing listens on port 9 here."""
    url = "rtsp://127.0.0.1:9/none"
    status, _, err = run(capsys, "camera", "--source", url, "--no-virtual-camera",
                         "--record", tmp_path / "x.mp4")
    assert status == 1
    lines = error_lines(err)
    assert len(lines) == 1 and url in lines[0]
    assert not (tmp_path / "x.mp4").exists()
