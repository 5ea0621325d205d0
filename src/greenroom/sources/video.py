"""Read video files frame by frame with PyAV, keeping what a faithful re-encode needs.

As in Robust Video Matting's inference loop, reading is kept apart from the model and from
writing: a `VideoFileSource` yields RGB frames with their original timestamps, a sink writes them,
and one convert loop serves every combination of source and sink.

Three things a naive `cv2.VideoCapture` loop loses are kept here on purpose:

* **Timestamps.** Each frame carries the pts it had in the file (in the stream's time base), so
  variable-frame-rate phone recordings keep their timing instead of being squashed to a
  constant rate and drifting out of sync with the audio.
* **Rotation.** Phones store portrait video as landscape pixels plus a display matrix. The
  matrix is reported in `VideoInfo` (and copied by the sinks), never applied to the pixels, so
  the model sees what the encoder saw and players rotate the output exactly like the input.
* **Audio.** The file is demuxed once; audio packets are handed, untouched, to any number of
  `AudioFeed`s that sinks drain while writing, so audio is remuxed byte for byte without a
  second pass over the file and without holding a whole track in memory.

Damaged files are read as far as they can be: frames that fail to decode are counted in
`VideoFileSource.skipped` rather than raised, and only a file from which no frame at all can be
decoded is an error. Every user-caused problem is a `VideoError` (a `ValueError`) or a
`VideoFileNotFoundError` (also a `FileNotFoundError`) whose message is one line naming the file.
"""

from __future__ import annotations

import gc
import logging
import struct
import warnings
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from os import PathLike
from pathlib import Path

import av
import av.error
import numpy as np
from PIL import Image

from greenroom.errors import InputError, os_error_reason
from greenroom.frames import I420, Frame
from greenroom.sources.images import MAX_PIXELS

log = logging.getLogger(__name__)

__all__ = [
    "AudioFeed",
    "AudioStreamInfo",
    "VideoError",
    "VideoFileNotFoundError",
    "VideoFileSource",
    "VideoInfo",
]

# Demux errors in a row after which a damaged file is treated as ended. FFmpeg demuxers often
# resynchronise after a bad chunk, so one error is not the end; a run of them is.
_MAX_CONSECUTIVE_DEMUX_ERRORS = 16


class VideoError(InputError):
    """A video input cannot be read; `str(e)` is one line naming the file and the problem."""

    def __init__(self, path: str | PathLike[str], problem: str) -> None:
        super().__init__(str(path), problem)


class VideoFileNotFoundError(VideoError, FileNotFoundError):
    """The video file does not exist (catchable as FileNotFoundError too)."""


@dataclass(frozen=True)
class AudioStreamInfo:
    """Description of one audio stream of the input; the sinks copy its packets unchanged."""

    index: int  # stream index in the input container
    codec: str
    sample_rate: int
    channels: int
    layout: str
    time_base: Fraction
    language: str | None = None


@dataclass(frozen=True)
class VideoInfo:
    """What a sink needs to reproduce the input's geometry, timing and metadata.

    `width`/`height` are the decoded pixel size (before any display rotation). `rotation` is in
    counter-clockwise degrees like `av.VideoFrame.rotation` and `VideoStream.set_display_rotation`
    (ffprobe's convention: a portrait phone video usually shows -90 or 90); `display_matrix` is
    the raw 3x3 matrix when the file had one, so flips survive too.
    """

    path: Path
    width: int
    height: int
    fps: Fraction
    time_base: Fraction
    rotation: int
    display_matrix: tuple[int, ...] | None
    frame_count: int  # estimate from the container; 0 when unknown
    duration: float | None  # seconds, None when unknown
    codec: str
    pix_fmt: str
    has_alpha: bool
    container_format: str
    audio_streams: tuple[AudioStreamInfo, ...] = ()

    @property
    def size(self) -> tuple[int, int]:
        """(width, height), the order OpenCV and PIL use."""
        return self.width, self.height


class AudioFeed:
    """The audio packets of one source, queued for one sink to remux unchanged.

    A feed receives every audio packet the source demuxes from the moment the feed is created
    (create it before iterating the source, see `VideoFileSource.audio_feed`). The queue only
    holds packets the reader has demuxed but the writer has not yet taken: since both advance
    together through the file, that is a few hundred milliseconds of compressed audio, not the
    whole track. deque appends and pops are atomic, so a reader thread may run ahead of a writer
    thread.
    """

    def __init__(self, streams: tuple[av.audio.stream.AudioStream, ...], path: Path) -> None:
        self.streams = streams  # input streams, used by sinks as templates for output streams
        self.path = path
        self._packets: deque[av.Packet] = deque()
        self.finished = False  # True once the source has demuxed the whole file

    def _push(self, packet: av.Packet) -> None:
        self._packets.append(packet)

    def drain(self) -> list[av.Packet]:
        """Take every packet queued so far, in file order."""
        out = []
        pop = self._packets.popleft
        while self._packets:
            out.append(pop())
        return out

    def __len__(self) -> int:
        return len(self._packets)

    def start_at(self, t0: float) -> None:  # noqa: B027 - a no-op default
        """Where a recording's first frame was captured (`time.perf_counter()`): a live feed
        (a microphone) lines its sound up with it; a file's sound has its own timeline."""

    def close(self) -> None:  # noqa: B027 - a no-op default; a microphone releases its device
        """Release what the feed holds; its packets are in memory already."""


def _copy_packet(packet: av.Packet) -> av.Packet:
    """An independent packet with the same bytes, timestamps, flags and side data.

    Needed when two sinks remux the same audio: muxing rebases a packet's timestamps in place.
    """
    dup = av.Packet(bytes(packet))
    dup.pts, dup.dts, dup.duration = packet.pts, packet.dts, packet.duration
    dup.time_base = packet.time_base
    dup.is_keyframe = packet.is_keyframe
    dup.stream = packet.stream
    if hasattr(packet, "iter_sidedata"):  # PyAV >= 15; AAC rarely has packet side data
        for sd in packet.iter_sidedata():
            dup.set_sidedata(sd)
    return dup


def _display_matrix(frame: av.VideoFrame) -> tuple[int, ...] | None:
    """The frame's DISPLAYMATRIX side data as 9 int32s (FFmpeg layout), if present."""
    try:
        sides = frame.side_data
        # Iterating it yields the SideData objects up to PyAV 18 and their types (the keys of
        # a mapping) from PyAV 19 on.
        for entry in sides:
            sd = entry if hasattr(entry, "type") else sides[entry]
            if getattr(sd.type, "name", "") == "DISPLAYMATRIX":
                raw = bytes(sd)
                if len(raw) >= 36:
                    return struct.unpack("<9i", raw[:36])
    except (AttributeError, TypeError, ValueError):  # side-data API differs in old PyAV
        return None
    return None


def _open_input(path: Path) -> av.container.InputContainer:
    """Open for reading, tolerating metadata that is not valid UTF-8 (phones write such tags).

    PyAV up to 18 needs `metadata_errors="replace"` for that; PyAV 19 dropped the argument
    (and no longer fails on such tags).
    """
    try:
        return av.open(str(path), "r", metadata_errors="replace")
    except TypeError:
        return av.open(str(path), "r")


def _normalise_degrees(deg: float) -> int:
    """Map any angle to the range (-180, 180], the range `av.VideoFrame.rotation` uses."""
    d = int(round(deg)) % 360
    return d - 360 if d > 180 else d


class VideoFileSource:
    """Iterate the frames of a video file as RGB numpy arrays with their original timestamps.

    Opening reads up to the first decodable frame, so a file that cannot be used fails here,
    before any output is created, with a one-line `VideoError`. Iterate once; each item is a
    `Frame`. Use as a context manager (or call `close()`) to release the file.

    With `planar`, frames the decoder gives as 8-bit yuv420p (most H.264, H.265, VP9 and AV1
    video) come as they are, an `I420` picture, with no conversion to RGB; other formats
    (full-range, 10-bit, 4:2:2, alpha, odd sizes) still come as RGB.
    """

    def __init__(self, path: str | PathLike[str], planar: bool = False) -> None:
        self.path = Path(path)
        self.planar = planar
        self.skipped = 0  # packets or frames that could not be demuxed or decoded
        self._feeds: list[AudioFeed] = []
        self._early_audio: list[av.Packet] = []  # audio demuxed while reading the first frame
        self._iterating = False
        self._frames_out = 0
        self._container: av.container.InputContainer | None = None

        self._check_file()
        try:
            self._container = _open_input(self.path)
        except av.error.FileNotFoundError as e:
            raise VideoFileNotFoundError(self.path, "no such file") from e
        except av.error.PermissionError as e:
            raise VideoError(self.path, "permission denied") from e
        except av.error.FFmpegError as e:
            raise VideoError(
                self.path,
                f"cannot be read as a video ({os_error_reason(e)}); "
                "the file is not a video, or is truncated or corrupt",
            ) from e
        try:
            self._setup()
        except BaseException:
            self.close()
            raise

    # -- opening ---------------------------------------------------------------------------

    def _check_file(self) -> None:
        if not self.path.exists():
            raise VideoFileNotFoundError(self.path, "no such file")
        if self.path.is_dir():
            raise VideoError(self.path, "is a folder, not a video file")
        if self.path.is_file() and self.path.stat().st_size == 0:
            raise VideoError(self.path, "is empty (0 bytes)")
        # FFmpeg's probe already decodes a still picture (800 MB for a 16000x16000 PNG), so a
        # picture's declared size is read from its header first, which Pillow does cheaply.
        size = declared_picture_size(self.path)
        if size is not None and size[0] * size[1] > MAX_PIXELS:
            what = f"{size[0]}x{size[1]} pixels" if size[0] else "more pixels than Pillow allows"
            raise VideoError(self.path, f"frames are too large: {what} (limit {MAX_PIXELS:,})")

    def _setup(self) -> None:
        container = self._container
        assert container is not None
        # Cover art in music files shows up as a one-frame "video" stream; it is not a video.
        videos = [s for s in container.streams.video if not _is_cover_art(s)]
        if not videos:
            has_audio = bool(container.streams.audio)
            raise VideoError(
                self.path,
                "has no video stream" + (" (it contains only audio)" if has_audio else ""),
            )
        self._stream = stream = videos[0]
        self._check_size(stream)
        self._audio_streams = tuple(container.streams.audio)
        self._decoder = self._open_decoder(stream)

        tb = stream.time_base or Fraction(1, 90000)
        self._time_base = Fraction(tb)
        fps = stream.average_rate or stream.guessed_rate or stream.base_rate
        self._fps = Fraction(fps) if fps else Fraction(30)
        # One frame's worth of ticks, used only when a frame arrives with no timestamp.
        self._default_step = max(1, round(1 / (self._fps * self._time_base)))
        self._last_pts: int | None = None
        self._demux_done = False
        # Filled from the first decoded frame (rotation lives in frame side data).
        self._first_matrix: tuple[int, ...] | None = None
        self._first_rotation = 0
        self._first_pix_fmt = ""

        self._frames = self._decode_all()
        first = next(self._frames, None)
        if first is None:
            raise VideoError(
                self.path,
                "no frame could be decoded (the video data is corrupt "
                f"or truncated; {self.skipped} packet(s) failed)",
            )
        self._first = first
        self.info = self._make_info(first)

    def _check_size(self, stream: av.video.stream.VideoStream) -> None:
        """Refuse a frame size over the photos' pixel limit before decoding a single frame.

        A PNG declaring 16000x16000 opens as a one-frame "video"; decoding it took 4.7 GB and
        28 s a frame. The size the container declares is known before any decoding.
        """
        context = stream.codec_context
        width = int(getattr(context, "width", 0) or 0) if context is not None else 0
        height = int(getattr(context, "height", 0) or 0) if context is not None else 0
        if width * height > MAX_PIXELS:
            raise VideoError(
                self.path,
                f"frames are too large: {width}x{height} pixels (limit {MAX_PIXELS:,})",
            )

    def _open_decoder(self, stream: av.video.stream.VideoStream) -> av.CodecContext:
        """The decoder for `stream`: FFmpeg's default, except VP8/VP9 with alpha.

        FFmpeg's native VP8/VP9 decoders ignore the alpha plane, which WebM stores in each
        block's BlockAdditional side data; only libvpx decodes it (to yuva420p). Matroska flags
        such streams with the `alpha_mode` tag, so libvpx is used exactly when it matters.
        """
        name = stream.codec_context.name if stream.codec_context is not None else None
        alpha_mode = (stream.metadata or {}).get("alpha_mode", "") == "1"
        self._alpha = False
        if name in ("vp8", "vp9") and alpha_mode:
            lib = "libvpx-vp9" if name == "vp9" else "libvpx"
            try:
                ctx = av.CodecContext.create(lib, "r")
                ctx.thread_type = "AUTO"
                self._alpha = True
                return ctx
            except (av.error.FFmpegError, ValueError, KeyError):  # decoder not in this build
                log.warning("%s: %s not available; alpha channel will be ignored", self.path, lib)
        if stream.codec_context is None:
            codec = stream.metadata.get("codec_name", "unknown") if stream.metadata else "unknown"
            raise VideoError(self.path, f"video codec {codec!r} is not supported by this FFmpeg")
        stream.thread_type = "AUTO"
        return stream.codec_context

    def _make_info(self, first: Frame) -> VideoInfo:
        stream, container = self._stream, self._container
        assert container is not None
        matrix = self._first_matrix
        if matrix is not None:
            rotation = self._first_rotation
        else:
            # Files written by old FFmpeg versions carry a clockwise `rotate` tag instead.
            try:
                rotation = _normalise_degrees(-float((stream.metadata or {}).get("rotate", 0)))
            except ValueError:
                rotation = 0
        duration: float | None = None
        if stream.duration:
            duration = float(stream.duration * self._time_base)
        elif container.duration:
            duration = container.duration / av.time_base
        frame_count = int(stream.frames or 0)
        if not frame_count and duration:
            frame_count = round(duration * self._fps)
        audio = tuple(
            AudioStreamInfo(
                index=s.index,
                codec=s.codec_context.name if s.codec_context is not None else "unknown",
                sample_rate=int(s.sample_rate or 0) if s.codec_context is not None else 0,
                channels=int(s.channels or 0) if s.codec_context is not None else 0,
                layout=(s.layout.name if s.codec_context is not None and s.layout else ""),
                time_base=Fraction(s.time_base or Fraction(1, 1000)),
                language=s.language,
            )
            for s in self._audio_streams
        )
        h, w = first.image.shape[:2]
        return VideoInfo(
            path=self.path,
            width=w,
            height=h,
            fps=self._fps,
            time_base=self._time_base,
            rotation=rotation,
            display_matrix=matrix,
            frame_count=frame_count,
            duration=duration,
            codec=stream.codec_context.name if stream.codec_context is not None else "unknown",
            pix_fmt=self._first_pix_fmt,
            has_alpha=self._alpha,
            container_format=container.format.name,
            audio_streams=audio,
        )

    # -- audio ------------------------------------------------------------------------------

    def audio_feed(self) -> AudioFeed:
        """A new queue that will receive every audio packet of this file, for one sink.

        Call before iterating. Each sink needs its own feed; a source with no feed discards
        its audio packets as it reads.
        """
        if self._iterating:
            raise RuntimeError("audio_feed() must be called before iterating the source")
        feed = AudioFeed(self._audio_streams, self.path)
        feed.finished = self._demux_done
        self._feeds.append(feed)
        return feed

    def _dispatch_audio(self, packet: av.Packet) -> None:
        if not self._iterating:
            self._early_audio.append(packet)
            return
        feeds = self._feeds
        if len(feeds) == 1:
            feeds[0]._push(packet)
        else:
            for feed in feeds:
                feed._push(_copy_packet(packet))

    # -- decoding ---------------------------------------------------------------------------

    def _packets(self) -> Iterator[av.Packet]:
        """Demux video and audio in one pass, in file order, surviving damaged chunks."""
        container = self._container
        assert container is not None
        streams = [self._stream, *self._audio_streams]
        errors_in_a_row = 0
        while True:
            demuxer = container.demux(streams)
            try:
                for packet in demuxer:
                    errors_in_a_row = 0
                    yield packet
                return
            except av.error.FFmpegError as e:
                # A damaged chunk: count it and resume reading after it.
                self.skipped += 1
                errors_in_a_row += 1
                log.debug("%s: demux error: %s", self.path, e)
                if errors_in_a_row >= _MAX_CONSECUTIVE_DEMUX_ERRORS:
                    log.warning("%s: giving up after %d read errors", self.path, errors_in_a_row)
                    return

    def _decode_all(self) -> Iterator[Frame]:
        video_index = self._stream.index
        decode = self._decoder.decode
        for packet in self._packets():
            if packet.stream_index != video_index:
                if packet.size:
                    self._dispatch_audio(packet)
                continue
            if not packet.size:  # demux's end-of-stream marker; flushed below
                continue
            try:
                frames = decode(packet)
            except av.error.FFmpegError as e:
                self.skipped += 1
                log.debug("%s: decode error at pts %s: %s", self.path, packet.pts, e)
                continue
            for frame in frames:
                yield self._convert(frame)
        self._demux_done = True
        for feed in self._feeds:
            feed.finished = True
        try:
            frames = decode(None)
        except av.error.FFmpegError as e:
            self.skipped += 1
            log.debug("%s: decode error while flushing: %s", self.path, e)
            frames = []
        for frame in frames:
            yield self._convert(frame)

    def _convert(self, frame: av.VideoFrame) -> Frame:
        index = self._frames_out
        if index == 1:
            # Reading the first frame's side data (`_display_matrix`) ties that frame and its
            # SideDataContainer in a reference cycle (PyAV 18), which would pin the frame's
            # decoder buffers until a full garbage collection: half a megabyte per file opened,
            # which a looping source (`--loop`, video backgrounds) piles up by the hundreds.
            # The frame is unreachable now and still young, so a cheap partial pass frees it.
            gc.collect(1)
        if index == 0:
            self._first_matrix = _display_matrix(frame)
            try:
                self._first_rotation = _normalise_degrees(frame.rotation)
            except (AttributeError, ValueError):
                self._first_rotation = 0
            self._first_pix_fmt = frame.format.name
        self._frames_out += 1
        pts = frame.pts
        if pts is None:  # raw streams without timestamps: assume the nominal rate
            pts = 0 if self._last_pts is None else self._last_pts + self._default_step
        self._last_pts = pts
        alpha = None
        image: np.ndarray | I420
        if self._alpha and frame.format.name.startswith("yuva"):
            rgba = frame.to_ndarray(format="rgba")
            image = np.ascontiguousarray(rgba[..., :3])
            alpha = np.ascontiguousarray(rgba[..., 3])
        elif self.planar and I420.readable(frame):
            image = I420.from_video_frame(frame)
        else:
            image = np.ascontiguousarray(frame.to_ndarray(format="rgb24"))
        duration = getattr(frame, "duration", None)  # AVFrame.duration: FFmpeg >= 6 / PyAV >= 12
        return Frame(
            index=index,
            image=image,
            pts=int(pts),
            time_base=self._time_base,
            alpha=alpha,
            duration=int(duration) if duration else None,
        )

    def __iter__(self) -> Iterator[Frame]:
        if self._iterating:
            raise RuntimeError(f"{self.path}: a VideoFileSource can be iterated only once")
        self._iterating = True
        for packet in self._early_audio:
            self._dispatch_audio(packet)
        self._early_audio.clear()
        return self._iterate()

    def _iterate(self) -> Iterator[Frame]:
        yield self._first
        yield from self._frames

    # -- lifetime ---------------------------------------------------------------------------

    @property
    def start_time(self) -> float:
        """Presentation time of the first frame, in seconds (where audio is to line up)."""
        return self._first.time

    @property
    def frames_read(self) -> int:
        """Frames decoded so far (including the first, read when the file was opened)."""
        return self._frames_out

    def close(self) -> None:
        """Release the file. Safe to call twice."""
        if self._container is not None:
            frames = getattr(self, "_frames", None)
            if frames is not None:
                frames.close()
            self._container.close()
            self._container = None

    def __enter__(self) -> VideoFileSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"VideoFileSource({str(self.path)!r})"


def declared_picture_size(path: Path) -> tuple[int, int] | None:
    """(width, height) from a still picture's header, or None if the file is not one.

    (0, more than `MAX_PIXELS`) for a picture too large for Pillow even to open.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                return image.size
    except Image.DecompressionBombError:
        return (0, MAX_PIXELS + 1)  # over any limit; Pillow does not say the size
    except Exception:  # not a picture Pillow knows: a video, left to FFmpeg
        return None


def _is_cover_art(stream: av.stream.Stream) -> bool:
    disposition = getattr(av.stream, "Disposition", None)  # PyAV >= 13
    if disposition is None:
        return False
    return bool(stream.disposition & disposition.attached_pic)
