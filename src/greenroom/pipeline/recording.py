"""Recording a live stream to a video file, timed by when each frame was captured."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from greenroom.frames import FrameItem
from greenroom.sinks.video import VideoFileSink
from greenroom.sources.video import AudioFeed, VideoInfo

#: Live frames are stamped in milliseconds: fine enough for any camera, and what Matroska stores.
LIVE_TIME_BASE = Fraction(1, 1000)


def live_info(width: int, height: int, fps: float) -> VideoInfo:
    """A `VideoInfo` describing a live stream, for the video sink's timing and metadata."""
    return VideoInfo(
        path=Path("<live>"),
        width=width,
        height=height,
        fps=Fraction(fps).limit_denominator(1001),
        time_base=LIVE_TIME_BASE,
        rotation=0,
        display_matrix=None,
        frame_count=0,
        duration=None,
        codec="rawvideo",
        pix_fmt="rgb24",
        has_alpha=False,
        container_format="live",
    )


class RecordingSink:
    """Write live frames to a file with their real capture times (variable frame rate).

    Frames that carry a timeline of their own in milliseconds (`pts`, as a file played as the
    camera does) are stamped with it instead, so a file run faster than real time
    (`--no-realtime`) still records at its own pace.

    `audio` is the source's sound on that same timeline (`LiveFileSource.audio_feed()`), or a
    microphone (`MicrophoneFeed`, told when the first frame was captured); it is copied, or
    re-encoded to Opus where the container needs it. With audio, the timeline is
    kept as it is rather than started at the first frame written, so that a first frame
    dropped by the live queues does not move the picture against the sound.
    """

    def __init__(
        self,
        path: str | Path,
        width: int,
        height: int,
        fps: float,
        audio: AudioFeed | None = None,
        **options: object,
    ):
        self.sink = VideoFileSink(
            path, live_info(width, height, fps), audio=audio,
            unsupported_audio="transcode", **options,  # type: ignore[arg-type]
        )
        self._audio = audio
        self._t0: float | None = None
        self.path: Path | None = None

    def write(self, item: FrameItem) -> None:
        assert item.output is not None
        # Milliseconds either way: the media timeline when the frame has one, else the clock.
        now = float(item.pts) / 1000 if item.pts is not None else item.captured
        if self._t0 is None:
            # A file's timeline starts at 0 already; keep it so its sound lines up.
            self._t0 = 0.0 if item.pts is not None and self._audio is not None else now
            start_at = getattr(self._audio, "start_at", None)
            if start_at is not None:  # a microphone: its clock is the capture clock
                start_at(item.captured - (now - self._t0))
        self.sink.write(item.output, round((now - self._t0) * 1000))

    def close(self) -> None:
        self.path = self.sink.close()

    def abort(self) -> None:
        self.sink.abort()
