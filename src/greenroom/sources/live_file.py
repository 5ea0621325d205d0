"""A video file played like a camera: paced in real time, optionally looped.

It lets the live path (camera -> effect -> virtual camera) run and be tested on machines with no
camera, and lets a streamer use a recorded clip as their "camera".
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from greenroom.frames import I420, Frame
from greenroom.sources.video import AudioFeed, VideoFileSource

#: Counter-clockwise display rotation (VideoInfo.rotation) -> the pixel rotation that shows it.
UPRIGHT = {
    90: cv2.ROTATE_90_COUNTERCLOCKWISE,
    -90: cv2.ROTATE_90_CLOCKWISE,
    270: cv2.ROTATE_90_CLOCKWISE,
    180: cv2.ROTATE_180,
    -180: cv2.ROTATE_180,
}


class LiveFileSource:
    """Yield a video file's frames as live `Frame`s stamped with their arrival time.

    With `realtime`, each frame is released at its presentation time (a 30 fps file gives 30
    frames a second), as a camera would; without it, as fast as they decode. With `loop`, the
    file starts again at its end, its timeline continuing without a jump. A phone clip stored
    sideways with rotation metadata is turned upright, since a camera stream carries no such
    metadata: what the virtual camera shows is what a player would show.

    Each frame's `pts` is its place on that timeline in milliseconds (`TIME_BASE`), so a
    recording keeps the file's timing even when frames come faster than real time.
    """

    TIME_BASE = Fraction(1, 1000)

    def __init__(self, path: str | Path, loop: bool = False, realtime: bool = True,
                 planar: bool = False) -> None:
        self.path = Path(path)
        self.planar = planar  # frames in the decoder's yuv420p where it has it (`I420`)
        self.loop = loop
        self.realtime = realtime
        self.lost: str | None = None  # a file ends, it is never lost (as `CameraSource.lost`)
        # Opened now: a bad file fails before any work.
        self._first = VideoFileSource(self.path, planar=planar)
        self.info = self._first.info
        self._rotate = UPRIGHT.get(self.info.rotation)
        turned = self._rotate in (cv2.ROTATE_90_CLOCKWISE, cv2.ROTATE_90_COUNTERCLOCKWISE)
        self.width, self.height = self.info.width, self.info.height
        if turned:
            self.width, self.height = self.height, self.width
        self.fps = float(self.info.fps)
        self.skipped = 0
        self._audio: LiveAudioFeed | None = None

    def __iter__(self) -> Iterator[Frame]:
        index = 0
        offset = 0.0  # seconds of timeline played by earlier loops
        started = time.perf_counter()
        source: VideoFileSource | None = self._first
        try:
            while True:
                if source is None:
                    source = VideoFileSource(self.path, planar=self.planar)
                    if self._audio is not None:  # this pass's audio, on our timeline
                        self._audio.next_pass(source.audio_feed(), offset - source.start_time)
                end = offset
                first_time: float | None = None
                for frame in source:
                    if first_time is None:
                        first_time = frame.time
                    at = offset + frame.time - first_time
                    if self.realtime:
                        delay = started + at - time.perf_counter()
                        if delay > 0:
                            time.sleep(delay)
                    end = at + 1.0 / self.fps
                    if self._audio is not None:
                        self._audio.played_to(end)
                    yield Frame(index, self._upright(frame.image), pts=round(at / self.TIME_BASE),
                                time_base=self.TIME_BASE, captured=time.perf_counter())
                    index += 1
                self.skipped += source.skipped
                source.close()
                source = None
                if not self.loop or index == 0:
                    if self._audio is not None:
                        self._audio.played_to(None)  # the file's whole sound, tail included
                    return
                offset = end
        finally:
            if source is not None:
                source.close()

    def audio_feed(self) -> LiveAudioFeed | None:
        """The file's audio on this source's timeline, for one recording; None if it has none.

        Call before iterating. Each pass of a loop hands its packets on, shifted to the time
        the pass plays at, so a recording of a looped clip keeps its sound in step.
        """
        if not self.info.audio_streams:
            return None
        if self._audio is None:
            self._audio = LiveAudioFeed(self._first.audio_feed(), -self._first.start_time)
        return self._audio

    def _upright(self, image: np.ndarray | I420) -> np.ndarray | I420:
        if self._rotate is None:
            return image
        code = self._rotate
        if isinstance(image, I420):
            return image.map_planes(lambda plane: cv2.rotate(plane, code))
        return cv2.rotate(image, code)

    def close(self) -> None:
        self._first.close()


class LiveAudioFeed(AudioFeed):
    """A file's audio on the live timeline: shifted per pass of a loop, cut where each pass ends.

    The file's own packets start at the file's first timestamp; the live timeline starts at 0
    and, when looping, continues where the previous pass's picture ended. Each pass's packets
    are moved by that pass's `shift` (timestamps rebased in place, the bytes untouched), and
    released only up to where the picture has been played (`played_to`): a file's sound often
    runs on past its last frame, and when looping that tail would overlap the next pass, so it
    is dropped instead. When the file ends without looping, everything is released.
    """

    def __init__(self, feed: AudioFeed, shift: float) -> None:
        super().__init__(feed.streams, feed.path)
        self._feed, self._shift = feed, shift
        self._held: list[av.Packet] = []  # shifted, not yet played to
        self._ready: list[av.Packet] = []  # released by a pass that has ended
        self._until: float | None = 0.0  # timeline seconds played; None: release everything
        self._last: dict[int, float] = {}  # stream index -> time of the last packet released
        self._lock = threading.Lock()  # the reader moves on while the writer drains

    def played_to(self, seconds: float | None) -> None:
        """The picture has been played up to `seconds` (None: to the end, for good)."""
        with self._lock:
            self._until = seconds

    def next_pass(self, feed: AudioFeed, shift: float) -> None:
        """The next pass of a loop: what the last one played is kept, its tail is dropped."""
        with self._lock:
            self._ready += self._release()
            self._held.clear()
            self._feed, self._shift = feed, shift

    @property  # type: ignore[override]
    def finished(self) -> bool:
        """Whether the file was read to its end and will not start again."""
        return self._until is None and self._feed.finished

    @finished.setter
    def finished(self, value: bool) -> None:  # AudioFeed.__init__ sets it; the passes decide
        pass

    def _release(self) -> list[av.Packet]:
        for packet in self._feed.drain():
            if self._shift and packet.time_base is not None:
                ticks = round(self._shift / packet.time_base)
                if packet.pts is not None:
                    packet.pts += ticks
                if packet.dts is not None:
                    packet.dts += ticks
            self._held.append(packet)
        until = self._until
        due = [p for p in self._held if until is None or _seconds(p) < until]
        self._held = [p for p in self._held if not (until is None or _seconds(p) < until)]
        out = []
        for packet in due:
            # A pass's first packet can start before the previous pass's last one (AAC's
            # priming): timestamps must rise, so that one (mostly silence) is left out.
            at = _seconds(packet)
            if at <= self._last.get(packet.stream_index, float("-inf")):
                continue
            self._last[packet.stream_index] = at
            out.append(packet)
        return out

    def drain(self) -> list[av.Packet]:
        with self._lock:
            out, self._ready = self._ready + self._release(), []
        return out

    def __len__(self) -> int:
        return len(self._ready) + len(self._held) + len(self._feed)


def _seconds(packet: av.Packet) -> float:
    """A packet's time in seconds; one without a timestamp counts as already due."""
    if packet.pts is None or packet.time_base is None:
        return float("-inf")
    return float(packet.pts * packet.time_base)
