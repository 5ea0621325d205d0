"""Small test clips made with PyAV, so the video tests need no binary fixtures in the repo.

The clips are deliberately awkward in the ways real recordings are: a real photo (not flat colour,
so the encoder does real work) moves over a gradient, some frames last twice as long as others
(variable frame rate, as phones record), there is an AAC audio track whose packets the sinks must
copy byte for byte, and the stream can carry a rotation in its display matrix.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

SAMPLES = Path(__file__).resolve().parents[1] / "src" / "greenroom" / "samples"

# 1/15360 is what FFmpeg's MP4 muxer picks for 30 fps video; using it here means the
# time base survives an MP4 -> MP4 round trip without any rescaling.
TIME_BASE = Fraction(1, 15360)
FPS = 24
TICKS_PER_FRAME = int(1 / (FPS * TIME_BASE))  # 640


@dataclass(frozen=True)
class Clip:
    """What was written, so tests can compare against it."""

    path: Path
    width: int
    height: int
    pts: list[int]
    time_base: Fraction
    has_audio: bool


def _photo(size: int) -> np.ndarray:
    """The astronaut sample as an RGB square, or a textured stand-in if the sample is missing."""
    img = cv2.imread(str(SAMPLES / "astronaut.jpg"), cv2.IMREAD_COLOR)
    if img is None:  # keeps the helper usable in a checkout without samples
        yy, xx = np.mgrid[0:size, 0:size]
        return np.stack([(xx * 7) % 256, (yy * 5) % 256, ((xx + yy) * 3) % 256], -1).astype(
            np.uint8
        )
    img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def frame_durations(n: int) -> list[int]:
    """Durations in TIME_BASE ticks: every fourth frame lasts twice as long (variable rate)."""
    return [TICKS_PER_FRAME * (2 if i % 4 == 3 else 1) for i in range(n)]


def make_clip(
    path: Path,
    *,
    frames: int = 48,
    width: int = 320,
    height: int = 240,
    audio: bool = True,
    rotation: int = 0,
    faststart: bool = False,
    codec: str = "libx264",
) -> Clip:
    """Write a short H.264 (or other codec) clip with a moving photo, VFR timing and a sine tone.

    `rotation` is stored as display-matrix metadata (counter-clockwise degrees, as PyAV's
    `set_display_rotation` and `VideoFrame.rotation` use); the pixels are not rotated.
    `faststart` puts the MP4 index first, so a truncated copy still has a readable index.
    """
    options = {"movflags": "+faststart"} if faststart else {}
    photo = _photo(min(width, height) // 2)
    ph = photo.shape[0]
    yy, xx = np.mgrid[0:height, 0:width]
    background = np.stack(
        [xx * 255 // max(width - 1, 1), yy * 255 // max(height - 1, 1), np.full_like(xx, 96)], -1
    ).astype(np.uint8)

    durations = frame_durations(frames)
    pts = [int(sum(durations[:i])) for i in range(frames)]
    end_seconds = float((pts[-1] + durations[-1]) * TIME_BASE)

    with av.open(str(path), "w", options=options) as out:
        vs = out.add_stream(codec, rate=FPS)
        vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
        vs.time_base = TIME_BASE
        vs.codec_context.time_base = TIME_BASE
        if codec == "libx264":
            vs.options = {"preset": "ultrafast", "crf": "28"}
        if rotation:
            vs.set_display_rotation(rotation)

        aus = None
        if audio:
            aus = out.add_stream("aac", rate=48000, layout="mono")
            aus.bit_rate = 64000

        length = dict(zip(pts, durations, strict=True))

        def mux_video(packet: av.Packet) -> None:
            # Encoders leave packet durations empty; MP4 takes the last frame's length from it.
            packet.duration = length[packet.pts]
            out.mux(packet)

        rate, chunk = 48000, 1024
        total = int(end_seconds * rate)
        t = np.arange(total, dtype=np.float32) / rate
        tone = (0.3 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)
        audio_done = 0  # samples encoded so far

        def encode_audio(until: int) -> None:
            # Audio is produced alongside the video, as a recorder would, so the file is
            # interleaved the way real recordings are.
            nonlocal audio_done
            while aus is not None and audio_done < min(until, total):
                block = np.ascontiguousarray(tone[audio_done : audio_done + chunk][None, :])
                af = av.AudioFrame.from_ndarray(block, format="fltp", layout="mono")
                af.sample_rate = rate
                af.pts = audio_done
                af.time_base = Fraction(1, rate)
                out.mux(aus.encode(af))
                audio_done += block.shape[1]

        for i, p in enumerate(pts):
            img = background.copy()
            x = int((width - ph) * i / max(frames - 1, 1))
            y = (height - ph) // 2 + int(10 * np.sin(i / 3))
            img[y : y + ph, x : x + ph] = photo
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = p
            frame.time_base = TIME_BASE
            for packet in vs.encode(frame):
                mux_video(packet)
            encode_audio(int((p + durations[i]) * TIME_BASE * rate))
        for packet in vs.encode(None):
            mux_video(packet)
        if aus is not None:
            encode_audio(total)
            out.mux(aus.encode(None))

    return Clip(path, width, height, pts, TIME_BASE, audio)


def make_audio_only(path: Path, seconds: float = 0.5) -> Path:
    """An M4A-style file with an AAC track and no video stream."""
    with av.open(str(path), "w", format="mp4") as out:
        aus = out.add_stream("aac", rate=48000, layout="mono")
        rate, chunk = 48000, 1024
        total = int(seconds * rate)
        for start in range(0, total, chunk):
            block = np.zeros((1, min(chunk, total - start)), np.float32)
            af = av.AudioFrame.from_ndarray(block, format="fltp", layout="mono")
            af.sample_rate = rate
            af.pts = start
            out.mux(aus.encode(af))
        out.mux(aus.encode(None))
    return path


def read_packets(
    path: Path, kind: str, *, seconds: bool = False
) -> list[tuple[int | Fraction | None, bytes]]:
    """(pts, payload bytes) of every packet of the first stream of `kind` ('audio'/'video').

    With `seconds`, pts is a Fraction of seconds, comparable across containers whose time
    bases differ (MP4 audio counts samples, Matroska milliseconds).
    """
    with av.open(str(path)) as c:
        stream = getattr(c.streams, kind)[0]
        tb = stream.time_base
        return [
            (p.pts * tb if seconds and p.pts is not None else p.pts, bytes(p))
            for p in c.demux(stream)
            if p.size
        ]


def read_video_pts(path: Path) -> tuple[list[int], Fraction]:
    """Decoded frame pts of the first video stream, in presentation order, and its time base."""
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        return [f.pts for f in c.decode(stream)], stream.time_base


#: Frames of the click clip that flash white while the audio clicks.
CLICK_FRAMES = (6, 25, 44)
CLICK_FPS = 25


def make_click_clip(path: Path, *, frames: int = 60, width: int = 160, height: int = 120) -> Path:
    """A clip for measuring audio/video sync: dark frames, white on `CLICK_FRAMES`, and an AAC
    track that is silent except for a 10 ms click starting exactly when each white frame does.
    """
    rate = 48000
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=CLICK_FPS)
        vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
        vs.options = {"preset": "ultrafast", "crf": "23"}
        aus = out.add_stream("aac", rate=rate, layout="mono")
        samples = np.zeros(int((frames / CLICK_FPS + 0.2) * rate), np.float32)
        for index in CLICK_FRAMES:
            start = round(index / CLICK_FPS * rate)
            samples[start : start + rate // 100] = 0.8
        for i in range(frames):
            level = 255 if i in CLICK_FRAMES else 40
            frame = av.VideoFrame.from_ndarray(np.full((height, width, 3), level, np.uint8),
                                               format="rgb24")
            frame.pts = i
            frame.time_base = Fraction(1, CLICK_FPS)
            out.mux(vs.encode(frame))
        out.mux(vs.encode(None))
        for start in range(0, len(samples), 1024):
            block = np.ascontiguousarray(samples[start : start + 1024][None, :])
            af = av.AudioFrame.from_ndarray(block, format="fltp", layout="mono")
            af.sample_rate, af.pts, af.time_base = rate, start, Fraction(1, rate)
            out.mux(aus.encode(af))
        out.mux(aus.encode(None))
    return path


def flash_times(path: Path) -> list[float]:
    """Start times (s) of the white flashes in a video's first stream."""
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        bright = [(float(f.pts * stream.time_base), f.to_ndarray(format="gray").mean() > 150)
                  for f in c.decode(stream)]
    return [t for (t, on), (_, before) in zip(bright, [(0, False), *bright], strict=False)
            if on and not before]


def click_times(path: Path) -> list[float]:
    """Start times (s) of the clicks in a file's first audio stream, as a player hears them."""
    with av.open(str(path)) as c:
        stream = c.streams.audio[0]
        chunks, start = [], None
        for frame in c.decode(stream):
            if start is None:
                start = float(frame.pts * frame.time_base)
            chunks.append(np.abs(frame.to_ndarray()).max(axis=0))
        rate = stream.codec_context.sample_rate
    loud = np.concatenate(chunks) > 0.3
    onsets = np.flatnonzero(loud & ~np.concatenate([[False], loud[:-1]]))
    # Clicks are 10 ms; ringing of the codec may split one: keep onsets at least 0.2 s apart.
    times: list[float] = []
    for onset in onsets:
        if not times or onset / rate + start - times[-1] > 0.2:
            times.append(onset / rate + start)
    return times
