"""Recording a live stream to a video file, timed by when each frame was captured."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from pathlib import Path

from greenroom.frames import Frame, Sink
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


class RecordingSink(Sink):
    """Write live frames to a file with their real capture times (variable frame rate).

    Frames that carry a timeline of their own (a file played as the camera does) are stamped
    with it instead, so a file run faster than real time
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
        try:
            self.sink = VideoFileSink(
                path, live_info(width, height, fps), audio=audio,
                unsupported_audio="transcode", **options,  # type: ignore[arg-type]
            )
        except BaseException:
            if audio is not None:
                audio.close()  # a microphone opened for this recording
            raise
        self._audio = audio
        self._t0: float | None = None
        self.path: Path | None = None

    def write(self, frame: Frame) -> None:
        # Seconds either way: the media timeline when the frame has one, else the clock.
        media_time = frame.time
        now = media_time if media_time is not None else frame.captured
        if self._t0 is None:
            # A file's timeline starts at 0 already; keep it so its sound lines up.
            self._t0 = 0.0 if media_time is not None and self._audio is not None else now
            if self._audio is not None:  # a microphone's clock is the capture clock
                self._audio.start_at(frame.captured - (now - self._t0))
        stamp = round((now - self._t0) / LIVE_TIME_BASE)
        self.sink.write(replace(frame, pts=stamp, time_base=LIVE_TIME_BASE, duration=None))

    def close(self) -> Path | None:
        """Finish the file (the sound up to its end), then release the audio (a microphone)."""
        try:
            self.path = self.sink.close()
        finally:
            if self._audio is not None:
                self._audio.close()
        return self.path

    def abort(self) -> None:
        try:
            self.sink.abort()
        finally:
            if self._audio is not None:
                self._audio.close()
