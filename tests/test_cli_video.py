"""`greenroom video` end to end: effects, timing, audio, alpha, bad inputs, full disks, Ctrl-C.

The CLI runs in-process (like tests/test_cli_image.py) except where a real process is the point
(a file-size limit, a signal). Clips come from tests/clips.py: the astronaut photo moving over a
gradient, variable frame durations and an AAC tone.
"""

from __future__ import annotations

import contextlib
import errno
import signal
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from greenroom.cli.signals import StopRequest
from greenroom.compositing.effects import cover_resize
from greenroom.samples import sample_path
from greenroom.sinks.video import VideoFileSink
from greenroom.sources.images import read_image
from greenroom.sources.video import VideoFileSource
from tests.cli import error_lines, interrupt_once_writing, no_temp_files, run
from tests.clips import make_audio_only, make_clip, read_packets, read_video_pts

ROOT = Path(__file__).resolve().parents[1]
PHOTO = 120  # make_clip's photo is min(width, height) // 2 pixels square
TOP_BAND = (slice(0, 40), slice(None))  # never covered by the photo: always background


def photo_origin(index: int, frames: int, width: int = 320, height: int = 240) -> tuple[int, int]:
    """Where make_clip put the photo's top-left corner (y, x) in frame `index`."""
    x = int((width - PHOTO) * index / max(frames - 1, 1))
    y = (height - PHOTO) // 2 + int(10 * np.sin(index / 3))
    return y, x


def person(index: int, frames: int) -> tuple[slice, slice]:
    """A patch of the photo that is the astronaut's body (the model's matte is ~1 there)."""
    y, x = photo_origin(index, frames)
    return slice(y + 60, y + 100), slice(x + 30, x + 70)


def decode(path: Path) -> list:
    with VideoFileSource(path) as source:
        frames = list(source)
        assert source.skipped == 0, f"{path}: {source.skipped} packets failed to decode"
    return frames


def diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - np.asarray(b, dtype=np.int16)).mean())


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("clips")


@pytest.fixture(scope="module")
def clip(clips: Path):
    return make_clip(clips / "clip.mp4")


@pytest.fixture(scope="module")
def input_frames(clip) -> list:
    return decode(clip.path)


@pytest.fixture(scope="module")
def long_clip(clips: Path):
    return make_clip(clips / "long.mp4", frames=600)


# -- effects, timing, audio ----------------------------------------------------------------------


def test_color_keeps_frames_timing_and_audio(capsys, clip, input_frames, tmp_path):
    out = tmp_path / "out.mp4"
    before = clip.path.read_bytes()
    status, _, err = run(capsys, "video", clip.path, "-o", out, "--color", "#00ff00")
    assert status == 0, err
    assert f"wrote {out}" in err and "48 frames" in err

    pts, time_base = read_video_pts(out)
    assert pts == clip.pts and time_base == clip.time_base  # VFR kept, tick for tick
    audio_in = read_packets(clip.path, "audio")
    assert len(audio_in) > 50 and read_packets(out, "audio") == audio_in  # byte for byte
    frames = decode(out)  # decodes completely
    assert len(frames) == len(input_frames)
    for i in (0, 20, 47):
        got, was = frames[i].image, input_frames[i].image
        assert diff(got[TOP_BAND], (0, 255, 0)) < 12, f"frame {i}: background not green"
        assert diff(got[person(i, 48)], was[person(i, 48)]) < 8, f"frame {i}: person changed"
    assert clip.path.read_bytes() == before
    assert no_temp_files(tmp_path)


def test_mask_is_a_grayscale_video_of_the_matte(capsys, clip, tmp_path):
    out = tmp_path / "mask.mp4"
    status, _, err = run(capsys, "video", clip.path, "-o", out, "--mask")
    assert status == 0, err
    frames = decode(out)
    assert len(frames) == len(clip.pts)
    assert read_video_pts(out)[0] == clip.pts
    for i in (0, 24, 47):
        image = frames[i].image
        assert image.shape == (240, 320, 3)
        assert np.abs(image[..., 0].astype(int) - image[..., 1]).max() <= 6  # grey, not colour
        assert np.abs(image[..., 2].astype(int) - image[..., 1]).max() <= 6
        values = image[..., 0]
        assert values[person(i, 48)].mean() > 200
        assert values[TOP_BAND].mean() < 20 and values[200:].mean() < 20


def test_transparent_webm_keeps_alpha(capsys, clip, tmp_path):
    out = tmp_path / "cut.webm"
    status, _, err = run(capsys, "video", clip.path, "-o", out, "--transparent")
    assert status == 0, err
    with VideoFileSource(out) as source:
        assert source.info.has_alpha
        frames = list(source)
    assert len(frames) == len(clip.pts)
    # Matroska stores milliseconds: the VFR timing survives at that resolution.
    expected_ms = [round(p * clip.time_base * 1000) for p in clip.pts]
    got_ms = [round(f.pts * f.time_base * 1000) for f in frames]
    assert max(abs(a - b) for a, b in zip(got_ms, expected_ms, strict=True)) <= 1
    for i in (0, 30):
        alpha = frames[i].alpha
        assert alpha is not None and alpha.shape == (240, 320)
        assert alpha[person(i, 48)].mean() > 200
        assert alpha[TOP_BAND].mean() < 20


def test_transparent_png_sequence(capsys, clip, tmp_path):
    out = tmp_path / "out"
    status, _, err = run(capsys, "video", clip.path, "-o", f"{out}/", "--transparent")
    assert status == 0, err
    names = sorted(p.name for p in out.iterdir())
    assert names == [f"{i:05d}.png" for i in range(len(clip.pts))]
    for i in (0, 47):
        with Image.open(out / names[i]) as png:
            assert png.mode == "RGBA" and png.size == (320, 240)
            alpha = np.asarray(png)[..., 3]
        assert alpha[person(i, 48)].mean() > 200 and alpha[TOP_BAND].mean() < 20


def test_transparent_mp4_is_a_usage_error(capsys, clip, tmp_path):
    out = tmp_path / "cut.mp4"
    status, _, err = run(capsys, "video", clip.path, "-o", out, "--transparent")
    assert status == 2 and ".webm" in err
    assert not out.exists() and no_temp_files(tmp_path)


def solid_colour_clip(path: Path, colours: list[tuple[int, int, int]]) -> Path:
    """A 160x120 clip whose frame k is one flat colour, colours[k]."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "10"}
        for k, colour in enumerate(colours):
            image = np.empty((120, 160, 3), np.uint8)
            image[:] = colour
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = k
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def test_video_background_loops(capsys, clip, input_frames, tmp_path):
    colours = [(220, 30, 30), (30, 200, 30), (30, 30, 220), (220, 220, 30), (200, 30, 200)]
    background = solid_colour_clip(tmp_path / "bg.mp4", colours)
    out = tmp_path / "out.mp4"
    status, _, err = run(capsys, "video", clip.path, "-o", out, "--background", background)
    assert status == 0, err
    frames = decode(out)
    assert len(frames) == len(clip.pts)
    # Frame i shows background frame i mod 5: the 5-frame clip loops under the 48-frame video.
    for i in (0, 3, 4, 5, 11, 47):
        got = frames[i].image[TOP_BAND]
        assert diff(got, colours[i % len(colours)]) < 15, f"frame {i}"
        assert diff(frames[i].image[person(i, 48)], input_frames[i].image[person(i, 48)]) < 8


def test_photo_background(capsys, clip, input_frames, tmp_path):
    out = tmp_path / "out.mp4"
    rocket = sample_path("rocket.jpg")
    status, _, err = run(capsys, "video", clip.path, "-o", out, "--background", rocket)
    assert status == 0, err
    frames = decode(out)
    assert len(frames) == len(clip.pts)
    expected = cover_resize(read_image(rocket), 320, 240)
    for i in (0, 47):
        assert diff(frames[i].image[TOP_BAND], expected[TOP_BAND]) < 10
        assert diff(frames[i].image[TOP_BAND], input_frames[i].image[TOP_BAND]) > 30
        assert diff(frames[i].image[person(i, 48)], input_frames[i].image[person(i, 48)]) < 8


def test_rotation_metadata_is_kept(capsys, tmp_path):
    clip = make_clip(tmp_path / "portrait.mp4", frames=12, rotation=90)
    out = tmp_path / "out.mp4"
    status, _, err = run(capsys, "video", clip.path, "-o", out, "--blur", "5")
    assert status == 0, err
    with VideoFileSource(clip.path) as source:
        rotation, matrix = source.info.rotation, source.info.display_matrix
    assert rotation == 90 and matrix is not None  # the clip really is rotated
    with VideoFileSource(out) as source:
        assert source.info.rotation == rotation
        assert source.info.display_matrix == matrix
        assert (source.info.width, source.info.height) == (320, 240)  # pixels not rotated
    assert read_video_pts(out)[0] == clip.pts


# -- bad inputs and outputs ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        ("missing", "no such file"),
        ("empty", "empty"),
        ("random", "cannot be read as a video"),
        ("audio-only", "no video stream"),
        ("truncated-no-index", "truncated"),
        ("nothing-decodes", "no frame could be decoded"),
    ],
)
def test_bad_input_is_one_line_naming_the_file(capsys, tmp_path, kind, words):
    bad = tmp_path / "bad.mp4"
    if kind == "empty":
        bad.write_bytes(b"")
    elif kind == "random":
        bad.write_bytes(np.random.default_rng(3).integers(0, 256, 20000, np.uint8).tobytes())
    elif kind == "audio-only":
        bad = make_audio_only(tmp_path / "song.m4a")
    elif kind == "truncated-no-index":  # the MP4 index (moov) is at the end and cut off
        whole = make_clip(tmp_path / "whole.mp4", frames=12).path.read_bytes()
        bad.write_bytes(whole[: len(whole) * 6 // 10])
    elif kind == "nothing-decodes":  # the index is intact, every video packet is zeros
        data = bytearray(
            make_clip(tmp_path / "whole.mp4", frames=12, audio=False, faststart=True)
            .path.read_bytes()
        )
        start = data.find(b"mdat") + 4
        data[start:] = bytes(len(data) - start)
        bad.write_bytes(bytes(data))
    out = tmp_path / "out.mp4"
    status, _, err = run(capsys, "video", bad, "-o", out)
    assert status == 1
    lines = error_lines(err)
    assert len(lines) == 1 and str(bad) in lines[0] and words in lines[0], err
    assert "Traceback" not in err
    assert not out.exists() and no_temp_files(tmp_path)


def test_output_into_missing_folder(capsys, clip, tmp_path):
    out = tmp_path / "nowhere" / "out.mp4"
    status, _, err = run(capsys, "video", clip.path, "-o", out)
    assert status == 1
    lines = error_lines(err)
    assert len(lines) == 1 and str(out) in lines[0] and "does not exist" in lines[0]
    assert not out.parent.exists()


def test_output_is_the_input(monkeypatch, capsys, tmp_path, clip):
    own = tmp_path / "mine.mp4"
    own.write_bytes(clip.path.read_bytes())
    before = own.read_bytes()
    (tmp_path / "link.mp4").symlink_to(own)
    monkeypatch.chdir(tmp_path)
    # The same file spelt four ways: as given, relative, with a dot, through a symlink.
    for target in (own, "mine.mp4", f"{tmp_path}/./mine.mp4", "link.mp4"):
        status, _, err = run(capsys, "video", own, "-o", target)
        assert status == 1
        lines = error_lines(err)
        assert len(lines) == 1 and str(Path(target)) in lines[0] and "input" in lines[0], err
    assert own.read_bytes() == before and (tmp_path / "link.mp4").is_symlink()
    assert no_temp_files(tmp_path)


def test_truncated_input_writes_what_decodes(capsys, tmp_path):
    whole = make_clip(tmp_path / "whole.mp4", faststart=True)  # index first, data cut off
    data = whole.path.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) * 6 // 10])
    with VideoFileSource(cut) as source:
        readable = len(list(source))
    assert 0 < readable < len(whole.pts)
    out = tmp_path / "out.mp4"
    status, _, err = run(capsys, "video", cut, "-o", out)
    assert status == 0, err
    assert f"wrote {out}" in err
    pts, _ = read_video_pts(out)
    assert pts == whole.pts[:readable]


def test_corrupt_middle_is_skipped_and_counted(capsys, tmp_path):
    whole = make_clip(tmp_path / "whole.mp4", frames=24, audio=False, faststart=True)
    data = bytearray(whole.path.read_bytes())
    start = len(data) // 2
    data[start : start + 3000] = np.random.default_rng(0).integers(0, 256, 3000, np.uint8).tobytes()
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(bytes(data))
    with VideoFileSource(bad) as source:
        readable = [f.pts for f in source]
        skipped = source.skipped
    assert skipped > 0 and 0 < len(readable) < 24
    out = tmp_path / "out.mp4"
    status, _, err = run(capsys, "video", bad, "-o", out)
    assert status == 0, err
    assert f"{skipped} unreadable packet{'s' * (skipped != 1)} skipped" in err
    assert read_video_pts(out)[0] == readable  # every frame that decodes, at its own time
    assert len(decode(out)) == len(readable)


# -- a full disk ---------------------------------------------------------------------------------


def test_disk_full_while_writing(monkeypatch, capsys, clip, tmp_path):
    """ENOSPC from the muxer after a few frames: one line, no partial file, old file kept."""
    out = tmp_path / "out.mp4"
    out.write_bytes(b"previous result")
    before = clip.path.read_bytes()
    real_mux = VideoFileSink._mux_video
    calls = {"n": 0}

    def mux_until_full(self, packets):
        calls["n"] += 1
        if calls["n"] > 10:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_mux(self, packets)

    monkeypatch.setattr(VideoFileSink, "_mux_video", mux_until_full)
    status, _, err = run(capsys, "video", clip.path, "-o", out, "--color", "green")
    assert status == 1
    lines = error_lines(err)
    assert len(lines) == 1 and str(out) in lines[0] and "no space left" in lines[0], err
    assert "wrote" not in err and "Traceback" not in err
    assert out.read_bytes() == b"previous result"
    assert no_temp_files(tmp_path)
    assert clip.path.read_bytes() == before


def test_file_size_limit_in_a_real_process(clip, tmp_path):
    """A real write failure (RLIMIT_FSIZE makes write() fail with EFBIG) in a child process."""
    resource = pytest.importorskip("resource")
    out = tmp_path / "out.mp4"
    before = clip.path.read_bytes()

    def limit_file_size() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # fail the write instead of dying
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))

    result = subprocess.run(
        [sys.executable, "-m", "greenroom", "video", str(clip.path), "-o", str(out),
         "--color", "green", "--no-progress"],
        preexec_fn=limit_file_size, capture_output=True, text=True, timeout=120, cwd=ROOT,
    )
    assert result.returncode == 1, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and str(out) in lines[0] and "too large" in lines[0], result.stderr
    assert not out.exists() and no_temp_files(tmp_path)
    assert clip.path.read_bytes() == before


# -- stopping ------------------------------------------------------------------------------------


def test_ctrl_c_keeps_a_playable_file(long_clip, tmp_path):
    out = tmp_path / "stopped.mp4"
    status, err = interrupt_once_writing(
        ["video", str(long_clip.path), "-o", str(out), "--no-progress"],
        tmp_path / ".stopped.mp4.tmp-*", 1.0,
    )
    assert status == 130, err
    assert f"wrote {out}" in err and "frames in" in err and "stopped early" in err
    assert "Traceback" not in err
    frames = decode(out)
    assert 0 < len(frames) < len(long_clip.pts), "SIGINT came too late to stop early"
    assert [f.pts for f in frames] == long_clip.pts[: len(frames)]
    # The audio is the input's, and ends with the video rather than running on.
    audio = read_packets(out, "audio", seconds=True)
    audio_in = read_packets(long_clip.path, "audio", seconds=True)
    assert audio and audio == audio_in[: len(audio)] and len(audio) < len(audio_in)
    video_end = Fraction(long_clip.pts[len(frames) - 1], 1) * long_clip.time_base
    assert audio[-1][0] < video_end + Fraction(1, 10)
    assert no_temp_files(tmp_path)


def test_stop_before_the_first_frame_writes_nothing(monkeypatch, capsys, clip, tmp_path):
    """A stop that comes before any frame is written: no file, and no claim that one was."""

    @contextlib.contextmanager
    def stopped_at_once():
        stop = StopRequest()
        stop.signalled = True
        stop.set()
        yield stop

    monkeypatch.setattr("greenroom.cli.video.stop_on_signals", stopped_at_once)
    out = tmp_path / "out.mp4"
    status, _, err = run(capsys, "video", clip.path, "-o", out)
    assert status == 130
    assert not out.exists() and no_temp_files(tmp_path)
    assert f"wrote {out}" not in err and "not written" in err


def test_help_lists_the_video_options(capsys):
    status, out, _ = run(capsys, "video", "--help")
    assert status == 0
    for option in ("--output", "--blur", "--background", "--color", "--transparent", "--mask",
                   "--crf", "--preset", "--progress"):
        assert option in out
