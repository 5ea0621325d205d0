"""A microphone as an audio feed for a recording (`greenroom camera --record ... --audio DEVICE`).

FFmpeg's capture devices, through PyAV (already a dependency), read the microphone: ALSA on
Linux, AVFoundation on macOS, DirectShow on Windows (whichever the installed FFmpeg has). The
packets are raw PCM with the device's own clock; a thread reads them as they come and stamps
each with the `time.perf_counter()` it corresponds to, the clock camera frames are stamped with,
so the recording can line the two up. The recording is encoded to Opus.

DEVICE is `default`, a device of the platform's capture format (`hw:1` for ALSA, `:0` for
AVFoundation, `audio=Microphone` for DirectShow) or `FORMAT:NAME` to pick the format
(`alsa:hw:1`, `pulse:default`, `lavfi:sine` for a test tone).
"""

from __future__ import annotations

import sys
import threading
import time
from collections import deque
from fractions import Fraction
from pathlib import Path

import av
import av.error

from greenroom.errors import InputError, os_error_reason
from greenroom.sources.video import AudioFeed

#: FFmpeg's capture formats, by platform, and every format a DEVICE may name as its prefix.
PLATFORM_FORMAT = {"linux": "alsa", "darwin": "avfoundation", "win32": "dshow"}
FORMATS = ("alsa", "pulse", "oss", "jack", "avfoundation", "dshow", "lavfi")
#: Microphone audio older than this is dropped while no frame has been recorded yet.
BACKLOG_SECONDS = 2.0


def parse_device(text: str) -> tuple[str, str]:
    """`DEVICE` -> (FFmpeg input format, device name)."""
    prefix, _, rest = text.partition(":")
    if prefix in FORMATS and rest:
        return prefix, rest
    return PLATFORM_FORMAT.get(sys.platform, "alsa"), text


class MicrophoneFeed(AudioFeed):
    """Packets from a capture device, rebased to start at the recording's first frame.

    Until `start_at(t0)` (called by the recording with its first frame's capture time), packets
    wait, and only the last `BACKLOG_SECONDS` are kept; from then on each packet's timestamp is
    its time after `t0`, and packets from before `t0` are dropped.
    """

    #: The sink re-encodes even when it could copy: raw PCM makes huge, poorly supported files.
    transcode = True

    def __init__(self, device: str) -> None:
        fmt, name = parse_device(device)
        if fmt not in av.formats_available:
            raise InputError(device, f"this FFmpeg cannot capture audio through {fmt!r}")
        try:
            self._container = av.open(name, format=fmt)
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            reason = os_error_reason(exc)
            raise InputError(device, f"cannot open this microphone ({reason})") from None
        if not self._container.streams.audio:
            self._container.close()
            raise InputError(device, "has no audio stream")
        stream = self._container.streams.audio[0]
        super().__init__((stream,), path=Path(device))
        self._stream = stream
        self._timed: deque[tuple[float, av.Packet]] = deque()
        self._origin: tuple[float, Fraction] | None = None  # perf_counter at the device's 0
        self._t0: float | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name="microphone", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for packet in self._container.demux(self._stream):
                if self._stop.is_set():
                    return
                if not packet.size or packet.pts is None or packet.time_base is None:
                    continue
                start = float(packet.pts * packet.time_base)
                if self._origin is None:
                    # The packet has just been delivered: its samples end now.
                    length = float((packet.duration or 0) * packet.time_base)
                    self._origin = (time.perf_counter() - length - start, packet.time_base)
                with self._lock:
                    self._timed.append((self._origin[0] + start, packet))
                    if self._t0 is None:
                        while self._timed and self._timed[0][0] < start - BACKLOG_SECONDS:
                            self._timed.popleft()
        except av.error.FFmpegError:
            return  # the device went away: the recording keeps what it has

    def start_at(self, t0: float) -> None:
        """The recording's first frame was captured at `t0` (perf_counter): audio starts there."""
        with self._lock:
            self._t0 = t0

    def drain(self) -> list[av.Packet]:
        if self._t0 is None:
            return []
        out = []
        with self._lock:
            timed, self._timed = self._timed, deque()
        for at, packet in timed:
            if at < self._t0:
                continue
            packet.pts = packet.dts = round((at - self._t0) / packet.time_base)
            out.append(packet)
        return out

    def __len__(self) -> int:
        return len(self._timed)

    def close(self) -> None:
        """Stop capturing and release the device."""
        self._stop.set()
        self._thread.join(timeout=2)
        if not self._thread.is_alive():  # never close under a read that is still blocked
            self._container.close()
