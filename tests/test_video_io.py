"""Video file input/output: timing, rotation, audio remux, alpha, damaged inputs, safe outputs.

Every clip is generated on the fly by tests/clips.py (a real photo moving over a gradient,
variable frame durations, an AAC tone), so these tests need no fixtures and run in seconds.
"""

from __future__ import annotations

import os
import stat
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from greenroom.atomic import AtomicFile, atomic_path
from greenroom.errors import OutputError
from greenroom.frames import Frame
from greenroom.sinks.video import (
    PngSequenceSink,
    VideoFileSink,
    is_sequence_path,
    open_video_sink,
)
from greenroom.sources.video import (
    VideoError,
    VideoFileNotFoundError,
    VideoFileSource,
)
from tests.cli import no_temp_files
from tests.clips import (
    TIME_BASE,
    make_audio_only,
    make_clip,
    read_packets,
    read_video_pts,
)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory):
    return make_clip(tmp_path_factory.mktemp("clips") / "clip.mp4")


@pytest.fixture(scope="module")
def rotated_clip(tmp_path_factory: pytest.TempPathFactory):
    return make_clip(tmp_path_factory.mktemp("clips") / "rotated.mp4", rotation=90, frames=12)


def copy_video(src_path: Path, dst_path: Path, **sink_options) -> list:
    """The identity convert loop: read every frame and write it unchanged, with the audio."""
    frames = []
    with VideoFileSource(src_path) as src:
        feed = src.audio_feed()
        with VideoFileSink(dst_path, src.info, audio=feed, **sink_options) as sink:
            for frame in src:
                frames.append(frame)
                sink.write(frame)
    return frames


def decode_all(path: Path) -> list:
    with VideoFileSource(path) as src:
        frames = list(src)
        assert src.skipped == 0
        return frames


def one_line(e: BaseException) -> str:
    text = str(e)
    assert "\n" not in text
    return text


# -- reading -----------------------------------------------------------------------------------


def test_source_info_and_frames(clip):
    with VideoFileSource(clip.path) as src:
        info = src.info
        frames = list(src)
    assert (info.width, info.height) == (clip.width, clip.height)
    assert info.time_base == TIME_BASE
    assert info.codec == "h264"
    assert info.frame_count == len(clip.pts)
    assert info.rotation == 0 and info.display_matrix is None
    assert info.fps > 0
    assert [a.codec for a in info.audio_streams] == ["aac"]
    assert info.audio_streams[0].sample_rate == 48000
    assert [f.pts for f in frames] == clip.pts  # variable frame durations kept
    assert [f.index for f in frames] == list(range(len(clip.pts)))
    img = frames[10].image
    assert img.shape == (clip.height, clip.width, 3) and img.dtype == np.uint8
    assert img.flags.c_contiguous
    assert frames[10].time_base == TIME_BASE
    # RGB, not BGR: the gradient's blue channel is a constant 96 in the generated clip.
    assert abs(float(img[:, :8, 2].mean()) - 96) < 8
    assert img[-8:, :8, 1].mean() > img[:8, :8, 1].mean() + 100  # green grows downwards


# -- round trip ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["clip", "rotated_clip"])
def test_reopening_a_file_leaves_no_frame_for_the_garbage_collector(name, request):
    """A looping source opens its file again and again; no decoded frame may be kept alive by a
    reference cycle (PyAV ties a frame to its side data) until some later full collection."""
    import gc

    path = request.getfixturevalue(name).path
    gc.collect()
    gc.disable()  # only what the source frees by itself counts
    alive = []  # av.VideoFrame objects alive after each pass (PyAV keeps a few of its own)
    try:
        for _ in range(5):
            with VideoFileSource(path) as source:
                for _frame in source:
                    pass
            alive.append(sum(isinstance(o, av.VideoFrame) for o in gc.get_objects()))
    finally:
        gc.enable()
    assert alive[1:] == alive[:1] * 4, alive  # no growth from one opening to the next


def test_identity_round_trip_keeps_frames_timing_and_audio(clip, tmp_path):
    out = tmp_path / "out.mp4"
    frames_in = copy_video(clip.path, out, crf=12)

    pts_out, tb_out = read_video_pts(out)
    assert len(pts_out) == len(clip.pts)
    assert pts_out == clip.pts
    assert tb_out == TIME_BASE

    with VideoFileSource(out) as src:
        assert src.info.fps == VideoFileSource(clip.path).info.fps
        frames_out = list(src)
        assert src.skipped == 0
    assert len(frames_out) == len(frames_in)
    # Same pictures in the same order (re-encoding is lossy, so compare loosely).
    for a, b in zip(frames_in, frames_out, strict=True):
        diff = np.abs(a.image.astype(np.int16) - b.image.astype(np.int16)).mean()
        assert diff < 4, f"frame {a.index} differs by {diff:.1f}"

    audio_in = read_packets(clip.path, "audio")
    audio_out = read_packets(out, "audio")
    assert len(audio_in) > 100
    assert audio_out == audio_in  # same bytes and pts, packet by packet
    assert no_temp_files(tmp_path)


def test_mkv_input_time_base_kept_in_mp4(tmp_path):
    clip = make_clip(tmp_path / "in.mkv", frames=10)
    out = tmp_path / "out.mp4"
    copy_video(clip.path, out)
    pts_in, tb_in = read_video_pts(clip.path)
    pts_out, tb_out = read_video_pts(out)
    assert tb_in == Fraction(1, 1000)
    assert (pts_out, tb_out) == (pts_in, tb_in)
    # Matroska counts audio in ms and MP4 in samples: same bytes, same times to within 1 ms.
    a_in = read_packets(clip.path, "audio", seconds=True)
    a_out = read_packets(out, "audio", seconds=True)
    assert [d for _, d in a_out] == [d for _, d in a_in]
    assert all(abs(x - y) <= Fraction(1, 1000) for (x, _), (y, _) in zip(a_in, a_out, strict=True))


@pytest.mark.parametrize("ext", [".mp4", ".mkv", ".webm"])
def test_rotation_metadata_preserved(rotated_clip, tmp_path, ext):
    with VideoFileSource(rotated_clip.path) as src:
        assert src.info.rotation == 90
        # Metadata only: the pixels stay as stored.
        assert next(iter(src)).image.shape == (rotated_clip.height, rotated_clip.width, 3)
    out = tmp_path / f"out{ext}"
    with VideoFileSource(rotated_clip.path) as src, VideoFileSink(out, src.info) as sink:
        for frame in src:
            sink.write(replace(frame, duration=None))
    with VideoFileSource(out) as back:
        assert back.info.rotation == 90
        assert back.info.display_matrix == VideoFileSource(rotated_clip.path).info.display_matrix
        assert (back.info.width, back.info.height) == (rotated_clip.width, rotated_clip.height)
    with av.open(str(out)) as c:  # and an ordinary FFmpeg decode agrees
        assert next(c.decode(video=0)).rotation == 90


def test_long_clip_audio_is_streamed_not_buffered(tmp_path):
    """Audio moves through in step with the video: the queue stays short, the output interleaved.

    (A 10 s clip stands in for a 1-hour one: what matters is that nothing grows with length.)
    """
    clip = make_clip(tmp_path / "long.mp4", frames=240, width=64, height=48)
    out = tmp_path / "out.mp4"
    longest_queue = 0
    with VideoFileSource(clip.path) as src:
        feed = src.audio_feed()
        with VideoFileSink(out, src.info, audio=feed) as sink:
            for frame in src:
                longest_queue = max(longest_queue, len(feed))
                sink.write(frame)
    audio_packets = read_packets(clip.path, "audio")
    assert len(audio_packets) > 400
    assert longest_queue < 20  # under a second of AAC packets, not the whole track
    assert read_packets(out, "audio") == audio_packets

    # In file order, neither stream runs more than a second ahead of the other.
    with av.open(str(out)) as c:
        last = {"audio": 0.0, "video": 0.0}
        worst = 0.0
        for p in c.demux():
            if p.pts is None or not p.size:
                continue
            last[p.stream.type] = float(p.pts * p.time_base)
            worst = max(worst, abs(last["audio"] - last["video"]))
    assert worst < 1.0


def test_two_sinks_get_the_same_audio(clip, tmp_path):
    a, b = tmp_path / "a.mp4", tmp_path / "b.mkv"
    with VideoFileSource(clip.path) as src:
        fa, fb = src.audio_feed(), src.audio_feed()
        with VideoFileSink(a, src.info, audio=fa) as sa, VideoFileSink(b, src.info, audio=fb) as sb:
            for frame in src:
                sa.write(replace(frame, duration=None))
                sb.write(replace(frame, duration=None))
    reference = [data for _, data in read_packets(clip.path, "audio")]
    assert [data for _, data in read_packets(a, "audio")] == reference
    assert [data for _, data in read_packets(b, "audio")] == reference


def test_audio_the_container_cannot_hold(clip, tmp_path):
    with (
        VideoFileSource(clip.path) as src,
        pytest.raises(OutputError, match=r"out\.webm.*'aac'"),
    ):
        VideoFileSink(tmp_path / "out.webm", src.info, audio=src.audio_feed())
    assert no_temp_files(tmp_path)
    out = tmp_path / "dropped.webm"
    with VideoFileSource(clip.path) as src:
        feed = src.audio_feed()
        with VideoFileSink(out, src.info, audio=feed, unsupported_audio="drop") as sink:
            for frame in src:
                sink.write(replace(frame, duration=None))
    with av.open(str(out)) as c:
        assert not c.streams.audio and len(c.streams.video) == 1


# -- other output kinds ------------------------------------------------------------------------


def rgba_frames(n: int, h: int = 96, w: int = 128) -> list[np.ndarray]:
    """Moving colour with a horizontal alpha ramp and an opaque disc."""
    yy, xx = np.mgrid[0:h, 0:w]
    out = []
    for i in range(n):
        img = np.zeros((h, w, 4), np.uint8)
        img[..., 0] = (xx * 2 + i * 8) % 256
        img[..., 1] = yy * 2
        img[..., 2] = 128
        alpha = (xx * 255 // (w - 1)).astype(np.uint8)
        disc = (xx - w // 2 - i) ** 2 + (yy - h // 2) ** 2 < 20**2
        alpha[disc] = 255
        img[..., 3] = alpha
        out.append(img)
    return out


def test_vp9_webm_keeps_alpha(clip, tmp_path):
    with VideoFileSource(clip.path) as src:
        info = src.info
    frames = rgba_frames(8)
    out = tmp_path / "alpha.webm"
    with VideoFileSink(out, info) as sink:
        for i, img in enumerate(frames):
            sink.write(Frame(i, img, pts=clip.pts[i]))
    with av.open(str(out)) as c:
        assert c.streams.video[0].metadata.get("alpha_mode") == "1"
    with VideoFileSource(out) as back:
        assert back.info.has_alpha and back.info.codec == "vp9"
        decoded = list(back)
    assert len(decoded) == len(frames)
    for img, frame in zip(frames, decoded, strict=True):
        assert frame.alpha is not None and frame.alpha.shape == img.shape[:2]
        err = np.abs(frame.alpha.astype(np.int16) - img[..., 3].astype(np.int16))
        assert err.mean() < 3 and np.percentile(err, 99) < 24
        assert np.abs(frame.image.astype(np.int16) - img[..., :3]).mean() < 12
    # The alpha really varies (a constant plane would pass a loose mean test too).
    assert decoded[0].alpha[:, :8].mean() < 20 and decoded[0].alpha[:, -8:].mean() > 235


def test_h264_refuses_rgba(clip, tmp_path):
    with VideoFileSource(clip.path) as src:
        sink = VideoFileSink(tmp_path / "x.mp4", src.info)
    with pytest.raises(OutputError, match="transparency"):
        sink.write(Frame(0, rgba_frames(1)[0], pts=0))
    assert not (tmp_path / "x.mp4").exists() and no_temp_files(tmp_path)


@pytest.mark.parametrize("target", ["seq/", "seq/f_%04d.png"])
def test_png_sequence(clip, tmp_path, target):
    frames = rgba_frames(5)
    dest = tmp_path / target
    assert is_sequence_path(str(dest) + ("/" if target.endswith("/") else ""))
    with VideoFileSource(clip.path) as src:
        sink = open_video_sink(str(tmp_path) + "/" + target, src.info)
    assert isinstance(sink, PngSequenceSink)
    with sink:
        for i, img in enumerate(frames):
            sink.write(Frame(i, img, pts=clip.pts[i]))
    files = sorted((tmp_path / "seq").glob("*.png"))
    assert len(files) == 5 and no_temp_files(tmp_path / "seq")
    from PIL import Image

    first = np.asarray(Image.open(files[0]))
    assert first.shape == (96, 128, 4)
    assert np.array_equal(first, frames[0])  # PNG is lossless, RGBA order kept


def test_mask_video_matches_input_size_and_count(clip, tmp_path):
    out = tmp_path / "mask.mp4"
    with VideoFileSource(clip.path) as src, VideoFileSink(out, src.info) as sink:
        for frame in src:
            mask = (frame.image[..., 0] > 128).astype(np.float32)  # float mask in [0, 1]
            sink.write(replace(frame, duration=None, output=mask))
    with VideoFileSource(out) as back:
        assert (back.info.width, back.info.height) == (clip.width, clip.height)
        decoded = list(back)
    assert len(decoded) == len(clip.pts)
    assert [f.pts for f in decoded] == clip.pts
    gray = decoded[0].image
    assert np.allclose(gray[..., 0], gray[..., 1], atol=3)  # grey, not colour
    values = gray[..., 0]
    two_level = (values < 24) | (values > 231)
    assert two_level.mean() > 0.95  # still a two-level mask, except at edges
    assert 0.1 < (values > 128).mean() < 0.9


# -- damaged and wrong inputs -------------------------------------------------------------------


def test_truncated_clip_decodes_what_it_can(tmp_path):
    clip = make_clip(tmp_path / "whole.mp4", faststart=True)
    data = clip.path.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    with VideoFileSource(cut) as src:
        frames = list(src)
        skipped = src.skipped
    assert 0 < len(frames) < len(clip.pts)
    assert [f.pts for f in frames] == clip.pts[: len(frames)]
    assert skipped >= 0


def test_corrupted_middle_is_skipped_not_raised(tmp_path):
    clip = make_clip(tmp_path / "whole.mp4", frames=24, audio=False, faststart=True)
    data = bytearray(clip.path.read_bytes())
    rng = np.random.default_rng(0)
    start = len(data) // 2
    data[start : start + 3000] = rng.integers(0, 256, 3000, dtype=np.uint8).tobytes()
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(bytes(data))
    with VideoFileSource(bad) as src:
        frames = list(src)
        skipped = src.skipped
    assert skipped > 0  # the damaged frames are counted ...
    assert 12 <= len(frames) < 24  # ... and the frames after them are still read
    assert frames[-1].pts == clip.pts[-1]
    assert all(f.image.shape == (clip.height, clip.width, 3) for f in frames)


def test_truncated_without_index_is_a_clear_error(tmp_path):
    clip = make_clip(tmp_path / "whole.mp4", frames=12)  # index (moov) at the end
    data = clip.path.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    with pytest.raises(VideoError) as e:
        VideoFileSource(cut)
    assert str(cut) in one_line(e.value) and "truncated" in str(e.value)


@pytest.mark.parametrize(
    ("name", "content", "error", "words"),
    [
        # Fixed bytes: some random draws happen to probe as audio (MP3 sync words) instead.
        ("random.mp4", np.random.default_rng(0).bytes(20000), VideoError, "cannot be read"),
        ("empty.mp4", b"", VideoError, "empty"),
        ("missing.mp4", None, FileNotFoundError, "no such file"),
    ],
)
def test_bad_files_give_one_line_errors(tmp_path, name, content, error, words):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(error) as e:
        VideoFileSource(path)
    assert isinstance(e.value, VideoError)  # also a ValueError, so the CLI catches one type
    assert str(path) in one_line(e.value) and words in str(e.value)
    if error is FileNotFoundError:
        assert isinstance(e.value, VideoFileNotFoundError)


def test_audio_only_file(tmp_path):
    path = make_audio_only(tmp_path / "song.m4a")
    with pytest.raises(VideoError) as e:
        VideoFileSource(path)
    assert str(path) in one_line(e.value) and "no video stream" in str(e.value)


def test_folder_is_not_a_video(tmp_path):
    with pytest.raises(VideoError, match="folder"):
        VideoFileSource(tmp_path)


# -- safe outputs -------------------------------------------------------------------------------


def test_missing_output_folder(clip, tmp_path):
    with VideoFileSource(clip.path) as src, pytest.raises(OutputError) as e:
        VideoFileSink(tmp_path / "nope" / "out.mp4", src.info)
    assert "out.mp4" in one_line(e.value) and "does not exist" in str(e.value)


def test_read_only_output_folder(clip, tmp_path, monkeypatch):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        if os.access(folder, os.W_OK):  # root ignores permissions: simulate the refusal

            def refuse(*args, **kwargs):
                raise PermissionError(13, "Permission denied")

            monkeypatch.setattr("greenroom.atomic.tempfile.mkstemp", refuse)
        with VideoFileSource(clip.path) as src, pytest.raises(OutputError) as e:
            VideoFileSink(folder / "out.mp4", src.info)
        assert str(folder / "out.mp4") in one_line(e.value)
        assert "permission denied" in str(e.value)
    finally:
        folder.chmod(stat.S_IRWXU)


def test_output_cannot_overwrite_input(clip):
    with VideoFileSource(clip.path) as src, pytest.raises(OutputError, match="input"):
        VideoFileSink(clip.path, src.info)


def test_exception_mid_write_leaves_nothing_and_keeps_old_file(clip, tmp_path):
    out = tmp_path / "out.mp4"
    out.write_bytes(b"previous result")
    with (
        pytest.raises(RuntimeError, match="boom"),
        VideoFileSource(clip.path) as src,
        VideoFileSink(out, src.info, audio=src.audio_feed()) as sink,
    ):
        for frame in src:
            sink.write(replace(frame, duration=None))
            if frame.index == 10:
                raise RuntimeError("boom")
    assert out.read_bytes() == b"previous result"
    assert no_temp_files(tmp_path)


def test_write_failure_is_a_clear_error(clip, tmp_path):
    """A device that fills up mid-file: simulated with a file-size limit (EFBIG)."""
    resource = pytest.importorskip("resource")
    import signal

    out = tmp_path / "out.mp4"
    out.write_bytes(b"previous result")
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    old_limit = resource.getrlimit(resource.RLIMIT_FSIZE)
    try:
        with (
            pytest.raises(OutputError) as e,
            VideoFileSource(clip.path) as src,
            VideoFileSink(out, src.info, crf=0, preset="ultrafast") as sink,
        ):
            resource.setrlimit(resource.RLIMIT_FSIZE, (30_000, old_limit[1]))
            noise = np.random.default_rng(1)
            for frame in src:  # noise does not compress: the limit is hit quickly
                picture = noise.integers(0, 256, frame.image.shape, np.uint8)
                sink.write(replace(frame, duration=None, output=picture))
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, old_limit)
        signal.signal(signal.SIGXFSZ, old_handler)
    assert str(out) in one_line(e.value) and "too large" in str(e.value)
    assert out.read_bytes() == b"previous result"
    assert no_temp_files(tmp_path)


def test_close_after_partial_write_is_playable(clip, tmp_path):
    out = tmp_path / "stopped.mp4"
    with VideoFileSource(clip.path) as src:
        sink = VideoFileSink(out, src.info, audio=src.audio_feed())
        for frame in src:
            sink.write(replace(frame, duration=None))
            if frame.index == 9:
                break
        assert sink.close() == out
    frames = decode_all(out)
    assert [f.pts for f in frames] == clip.pts[:10]
    audio = read_packets(out, "audio")
    assert audio and audio == read_packets(clip.path, "audio")[: len(audio)]
    # Audio stops with the video instead of running on to the end of the input.
    with av.open(str(out)) as c:
        a = c.streams.audio[0]
        last_audio = max(p.pts for p in c.demux(a) if p.pts is not None) * a.time_base
    video_end = clip.pts[10] * TIME_BASE
    assert video_end - Fraction(1, 20) < last_audio < video_end
    assert no_temp_files(tmp_path)


def test_keyboard_interrupt_finalizes_the_file(clip, tmp_path):
    out = tmp_path / "interrupted.mkv"
    with (
        pytest.raises(KeyboardInterrupt),
        VideoFileSource(clip.path) as src,
        VideoFileSink(out, src.info, audio=src.audio_feed()) as sink,
    ):
        for frame in src:
            sink.write(replace(frame, duration=None))
            if frame.index == 14:
                raise KeyboardInterrupt
    assert len(decode_all(out)) == 15
    assert no_temp_files(tmp_path)


def test_no_frames_no_file(clip, tmp_path):
    out = tmp_path / "empty.mp4"
    with VideoFileSource(clip.path) as src:
        sink = VideoFileSink(out, src.info)
    assert sink.close() is None
    assert not out.exists() and no_temp_files(tmp_path)


# -- the atomic helper ----------------------------------------------------------------------------


def test_atomic_path_commits_and_cleans_up(tmp_path):
    dest = tmp_path / "a.txt"
    with atomic_path(dest) as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".txt" and tmp != dest
        tmp.write_text("new")
        assert not dest.exists()
    assert dest.read_text() == "new"
    assert stat.S_IMODE(dest.stat().st_mode) & 0o044  # not mkstemp's private 0600
    with pytest.raises(ValueError), atomic_path(dest) as tmp:
        tmp.write_text("half")
        raise ValueError
    assert dest.read_text() == "new" and no_temp_files(tmp_path)

    f = AtomicFile(tmp_path / "b.bin")
    f.path.write_bytes(b"x")
    del f  # dropped without commit: the temporary file goes too
    assert no_temp_files(tmp_path) and not (tmp_path / "b.bin").exists()


def test_rgb_frames_reach_the_encoder_as_swscale_would_convert_them(astronaut_rgb):
    """OpenCV's RGB -> I420 (fast) gives the planes swscale gives (slow), colours unchanged."""
    import av

    from greenroom.sinks.video import video_frame

    image = cv2.resize(astronaut_rgb, (640, 360))
    ours = video_frame(image, "yuv420p")
    assert ours.format.name == "yuv420p"
    reference = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")
    difference = np.abs(ours.to_ndarray().astype(int) - reference.to_ndarray())
    luma, chroma = difference[:360], difference[360:]
    assert luma.max() <= 1  # the same matrix and range
    assert chroma.mean() < 1.0  # chroma is averaged a little differently at sharp edges
    back = ours.to_ndarray(format="rgb24").astype(float)
    psnr = 10 * np.log10(255**2 / np.mean((back - image) ** 2))
    assert psnr > 35
    # odd sizes and other pixel formats keep PyAV's own conversion
    assert video_frame(image[:-1], "yuv444p").format.name == "rgb24"
    assert video_frame(image, "yuva420p").format.name == "rgb24"
