"""End-of-run summaries fit the job: files report frames, fps and time; live runs add latency."""

from __future__ import annotations

import re

from greenroom.pipeline.stats import PipelineStats, plural
from tests.cli import run
from tests.clips import make_clip


def stats_with(frames: int) -> PipelineStats:
    stats = PipelineStats()
    for _ in range(frames):
        stats.frame_in()
        stats.frame_out(0.02)
    stats.finish()
    return stats


def test_singular_and_plural():
    assert plural(1, "frame") == "frame" and plural(0, "frame") == "frames"
    assert stats_with(1).summary(live=False).startswith("1 frame in ")
    assert stats_with(2).summary(live=False).startswith("2 frames in ")


def test_a_file_summary_has_no_latency_and_a_live_one_does():
    stats = stats_with(3)
    assert re.fullmatch(r"3 frames in [\d.]+ s \([\d.]+ fps\)", stats.summary(live=False))
    live = stats.summary(live=True)
    assert "latency median 20.0 ms" in live and "dropped" in live


def test_video_command_summary(capsys, tmp_path):
    clip = make_clip(tmp_path / "one.mp4", frames=1, audio=False)
    out = tmp_path / "out.mp4"
    status, _, err = run(capsys, "video", clip.path, "-o", out, "--no-progress")
    assert status == 0, err
    assert re.search(rf"wrote {re.escape(str(out))}: 1 frame in [\d.]+ s \([\d.]+ fps\)$",
                     err.strip()), err
    assert "latency" not in err and "1 frames" not in err
