"""Sound is kept on every path, in step with the picture within 40 ms.

The clip flashes white on known frames while its audio clicks at the same instants
(`tests.clips.make_click_clip`); after each path the flashes and the clicks are found again in
the output and compared.
"""

from __future__ import annotations

from pathlib import Path

import av
import pytest

from tests.cli import run
from tests.clips import CLICK_FPS, CLICK_FRAMES, click_times, flash_times, make_click_clip

#: The sync target: about one frame at 25 fps, and what viewers start to notice.
TOLERANCE = 0.040


@pytest.fixture(scope="module")
def clicks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = make_click_clip(tmp_path_factory.mktemp("sync") / "clicks.mp4")
    assert offsets(path, len(CLICK_FRAMES)) == pytest.approx([0] * 3, abs=0.005)
    return path


def audio_codec(path: Path) -> str:
    with av.open(str(path)) as container:
        return container.streams.audio[0].codec_context.name


def packet_times(path: Path, kind: str) -> list[float]:
    """Start times (s) of the packets of the first `kind` stream, in time order."""
    with av.open(str(path)) as container:
        stream = getattr(container.streams, kind)[0]
        return sorted(float(p.pts * p.time_base) for p in container.demux(stream) if p.size)


def offsets(path: Path, count: int) -> list[float]:
    """Click time minus flash time for each flash, in seconds; every flash must have a click."""
    flashes, sounds = flash_times(path), click_times(path)
    assert len(flashes) == count, flashes
    assert len(sounds) >= count, sounds
    return [min(sounds, key=lambda s, f=f: abs(s - f)) - f for f in flashes]


def in_step(path: Path, count: int = len(CLICK_FRAMES)) -> list[float]:
    measured = offsets(path, count)
    assert max(abs(x) for x in measured) <= TOLERANCE, measured
    return measured


def test_video_to_webm_transcodes_aac_to_opus_in_step(capsys, caplog, clicks, tmp_path):
    out = tmp_path / "out.webm"
    status, _, err = run(capsys, "video", clicks, "-o", out, "--no-progress")
    assert status == 0, err
    assert "transcoding it to Opus" in caplog.text  # says so
    assert audio_codec(out) == "opus"  # was dropped before
    in_step(out)


def test_video_to_mp4_copies_the_audio_in_step(capsys, clicks, tmp_path):
    out = tmp_path / "out.mp4"
    status, _, err = run(capsys, "video", clicks, "-o", out, "--no-progress")
    assert status == 0, err
    assert audio_codec(out) == "aac"
    in_step(out)


@pytest.mark.parametrize(("suffix", "codec"), [("mp4", "aac"), ("webm", "opus")])
def test_camera_recording_keeps_a_file_sources_audio_in_step(capsys, clicks, tmp_path, suffix,
                                                             codec):
    out = tmp_path / f"rec.{suffix}"
    status, _, err = run(capsys, "camera", "--source", clicks, "--record", out)
    assert status == 0, err
    assert audio_codec(out) == codec  # there was no audio at all before
    in_step(out)


def test_camera_recording_of_a_looped_clip_stays_in_step(capsys, clicks, tmp_path):
    """The second pass's sound is moved to where the second pass plays, its first pass's tail
    (the audio runs 0.2 s past the last frame) left out rather than overlapping."""
    out = tmp_path / "loop.mkv"
    frames = 60 + CLICK_FRAMES[1] + 5  # the whole clip, then two flashes of the second pass
    status, _, err = run(capsys, "camera", "--source", clicks, "--loop", "--max-frames", frames,
                         "--record", out)
    assert status == 0, err
    in_step(out, len(CLICK_FRAMES) + 2)
    flashes = flash_times(out)
    assert flashes[3] - flashes[0] == pytest.approx(60 / CLICK_FPS, abs=0.002)


# -- a microphone --------------------------------------------------------------------------------

#: A test tone that FFmpeg produces at the pace of a real device (there is no microphone here).
TONE = "lavfi:sine=frequency=440:sample_rate=48000,arealtime"


def test_camera_records_a_microphone(capsys, caplog, clicks, tmp_path):
    out = tmp_path / "mic.mp4"
    status, _, err = run(capsys, "camera", "--source", clicks, "--record", out, "--audio", TONE)
    assert status == 0, err
    assert "transcoding" not in caplog.text  # encoded to Opus by design, nothing to warn about
    assert audio_codec(out) == "opus"
    sound, picture = packet_times(out, "audio"), packet_times(out, "video")
    # The microphone's sound covers the recording, from its first frame to its last. How much
    # sound comes before the first frame depends on how busy the machine is (the microphone is
    # open before the first frame is processed): seen 70 ms on a loaded 2-core CI machine.
    assert -0.25 < sound[0] - picture[0] < 0.05 and abs(sound[-1] - picture[-1]) < 0.25, (
        sound[:2], sound[-2:], picture[:2], picture[-2:])


def test_microphone_problems_are_one_line(capsys, clicks, tmp_path):
    out = tmp_path / "mic.mp4"
    status, _, err = run(capsys, "camera", "--source", clicks, "--record", out,
                         "--audio", "lavfi:no_such_filter")
    assert status == 1 and "lavfi:no_such_filter: cannot open this microphone" in err, err
    assert not out.exists()
    status, _, err = run(capsys, "camera", "--source", clicks, "--preview", "--audio", TONE)
    assert status == 2 and "--audio records a microphone into --record FILE" in err
