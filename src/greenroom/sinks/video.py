"""Write processed frames to video files (or PNG sequences), keeping the input's timing and audio.

The counterpart of `greenroom.sources.video`: a sink takes the source's `Frame`s one at a time,
with the pts each had in the input, so one convert loop serves every source/sink pair::

    with VideoFileSource("in.mp4") as src:
        feed = src.audio_feed()
        with VideoFileSink("out.mp4", src.info, audio=feed) as sink:
            for frame in src:
                frame.output = process(frame.image)
                sink.write(frame)

What is kept, and how:

* **Timing.** The output video stream uses the input's time base and every frame keeps its
  input pts, so variable frame rate survives and audio stays in sync. MP4/MOV keep the time base
  exactly (the muxer's track timescale is pinned to it); Matroska/WebM store milliseconds, so
  there pts are rounded to 1 ms, as in any Matroska file.
* **Rotation.** The input's display matrix (or rotation) is written to the output stream; the
  pixels are not rotated, so players show the output exactly as they showed the input.
* **Audio.** Audio streams are created from the input's with `add_stream_from_template` and
  its packets are muxed as they are (only their timestamps are rebased if the output's audio
  time base differs), so the audio bytes are identical to the input's. Packets come from an
  `AudioFeed` that the source fills during its single demux pass; each `write` moves the
  packets read so far into the muxer, whose interleaver orders them with the video packets by
  time. Memory stays bounded by how far the reader runs ahead of the writer, plus the encoder's
  delay, whatever the length of the file. An audio codec the output container cannot hold
  (say AAC in WebM) is an `OutputError` at construction, before any work is done, unless
  `unsupported_audio="transcode"` (re-encoded to Opus, with a warning; `sinks.audio`) or
  `"drop"` (left out, with a warning) is given.
* **Atomicity.** The file is written under a temporary name beside the destination and renamed
  when complete (`greenroom.atomic`). An exception while writing removes the temporary
  file and leaves any existing destination untouched. Ctrl-C (KeyboardInterrupt, SystemExit)
  inside a `with` block, or an explicit `close()` after some frames, finalizes the file
  (encoder flushed, trailer written) and moves it into place: a stopped recording plays.

Formats, chosen from the file name:

* `.mp4`, `.m4v`, `.mov`, `.mkv`: H.264 (libx264, yuv420p, `crf`, `preset` default
  "veryfast"). RGB or grayscale frames; RGBA is refused because H.264 has no alpha.
* `.webm`: VP9 (libvpx-vp9). RGBA frames are encoded as yuva420p, and the alpha plane survives a
  decode round trip (read it back with `VideoFileSource`, which uses the libvpx decoder for
  that, since FFmpeg's native VP9 decoder drops alpha).
* a folder, `name/`, or a pattern such as `out/%05d.png`: a PNG sequence (`PngSequenceSink`),
  RGB, RGBA or gray; each PNG is written atomically. PNGs carry no timing and no audio.

Grayscale frames (HxW uint8, or float in [0, 1]) make a mask video; it has the size and frame
count of what was written, which for a mask written per input frame is the input's.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections import deque
from collections.abc import Callable, Mapping
from fractions import Fraction
from os import PathLike
from pathlib import Path
from typing import Literal

import av
import av.error
import cv2
import numpy as np

from greenroom.atomic import AtomicFile, atomic_path, remove_stale_temps, write_error_reason
from greenroom.errors import OutputError, os_error_reason
from greenroom.frames import I420, Frame, Sink
from greenroom.sinks.audio import OpusTranscoder
from greenroom.sources.video import AudioFeed, VideoInfo

log = logging.getLogger(__name__)

__all__ = [
    "FORMATS",
    "PngSequenceSink",
    "VideoFileSink",
    "is_sequence_path",
    "open_video_sink",
]

Codec = Literal["h264", "vp9"]
#: What to do with an audio codec the output container cannot hold.
AudioPolicy = Literal["error", "drop", "transcode"]

#: File ending -> (FFmpeg muxer, video codec family).
FORMATS: dict[str, tuple[str, Codec]] = {
    ".mp4": ("mp4", "h264"),
    ".m4v": ("mp4", "h264"),
    ".mov": ("mov", "h264"),
    ".mkv": ("matroska", "h264"),
    ".webm": ("webm", "vp9"),
}

_DEFAULT_CRF: dict[Codec, int] = {"h264": 20, "vp9": 32}


def _as_uint8(image: np.ndarray) -> np.ndarray:
    """uint8 pixels, C-contiguous; floats are taken as [0, 1] (masks from models)."""
    if image.dtype != np.uint8:
        if np.issubdtype(image.dtype, np.floating):
            image = np.clip(image, 0.0, 1.0) * np.float32(255.0) + np.float32(0.5)
        image = image.astype(np.uint8)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    return np.ascontiguousarray(image)


def _channels(shape: tuple[int, ...]) -> int:
    if len(shape) == 2:
        return 1
    if len(shape) == 3 and shape[2] in (3, 4):
        return shape[2]
    raise ValueError(f"expected an HxW, HxWx3 or HxWx4 image, got shape {shape}")


_NDARRAY_FORMAT = {1: "gray", 3: "rgb24", 4: "rgba"}


def video_frame(image: np.ndarray | I420, pix_fmt: str | None) -> av.VideoFrame:
    """An encoder-ready frame for `image` (RGB, RGBA or gray uint8, or yuv420p planes).

    Planes bound for a yuv420p encoder go as they are. RGB bound for 4:2:0 is converted by
    OpenCV (about 2 ms per 720p frame) instead of by the encoder's swscale (11 to 30 ms here),
    with the same BT.601 limited-range convention that swscale applies to untagged RGB: planes
    differ by 0.13 levels on average (chroma is averaged slightly differently), see
    tests/test_video_io.py.
    """
    if isinstance(image, I420):
        if pix_fmt == "yuv420p":
            return image.to_video_frame()  # no copy when the picture was made in a frame
        image = image.rgb()
    channels = 1 if image.ndim == 2 else image.shape[2]
    even = image.shape[0] % 2 == 0 and image.shape[1] % 2 == 0
    if channels == 3 and pix_fmt == "yuv420p" and even:
        planes = cv2.cvtColor(image, cv2.COLOR_RGB2YUV_I420)
        return av.VideoFrame.from_ndarray(planes, format="yuv420p")
    return av.VideoFrame.from_ndarray(image, format=_NDARRAY_FORMAT[channels])


class VideoFileSink(Sink):
    """Encode frames into a video file with the input's timing, rotation and audio.

    `info` is the source's `VideoInfo` (time base, frame rate, rotation). `audio` is a feed from
    `VideoFileSource.audio_feed()`; without one the output has no audio. `crf` sets quality
    (lower is better; default 20 for H.264, 32 for VP9), `preset` the x264 speed preset, and
    `options` any further encoder options (they win over the defaults). The frame size is the
    first written frame's, and every frame must have that size and channel count.
    """

    def __init__(
        self,
        path: str | PathLike[str],
        info: VideoInfo,
        *,
        audio: AudioFeed | None = None,
        crf: int | None = None,
        preset: str = "veryfast",
        options: Mapping[str, str] | None = None,
        faststart: bool = True,
        unsupported_audio: AudioPolicy = "error",
    ) -> None:
        self.path = Path(path)
        self.info = info
        self.frames_written = 0
        suffix = self.path.suffix.lower()
        if suffix not in FORMATS:
            known = ", ".join(FORMATS)
            raise OutputError(
                self.path,
                f"unknown video format {suffix or '(no ending)'}; "
                f"use one of {known}, or a folder or %05d.png for a PNG sequence",
            )
        self._muxer, self._codec = FORMATS[suffix]
        self._crf = _DEFAULT_CRF[self._codec] if crf is None else int(crf)
        self._preset = preset
        self._extra_options = dict(options or {})
        self._audio = audio
        self._audio_templates: list[av.audio.stream.AudioStream] = []
        self._to_transcode: list[av.audio.stream.AudioStream] = []
        self._transcoders: dict[int, OpusTranscoder] = {}  # input stream index -> encoder
        self._pending: deque[av.Packet] = deque()  # audio taken from the feed, not yet muxed
        self._audio_map: dict[int, av.stream.Stream] = {}  # input stream index -> output stream
        self._video: av.video.stream.VideoStream | None = None
        self._shape: tuple[int, ...] | None = None
        self._last_pts: int | None = None
        self._end_pts: int | None = None  # end of the last written frame, in info.time_base
        self._step_seen: int | None = None  # duration of the latest frame
        self._durations: dict[int, int] = {}  # pts -> duration of frames inside the encoder
        self._step = max(1, round(1 / (info.fps * info.time_base))) if info.fps else 1
        self._closed = False
        self._result: Path | None = None  # what close() returned

        if _same_file(self.path, Path(info.path)):
            raise OutputError(self.path, "is the input file; choose another output name")
        remove_stale_temps(self.path.parent)
        try:
            self._file = AtomicFile(self.path)
        except OSError as e:
            raise OutputError(
                self.path, f"cannot write here: {_folder_problem(self.path, e)}"
            ) from e
        try:
            self._container = av.open(
                str(self._file.path),
                "w",
                format=self._muxer,
                container_options=self._container_options(faststart),
            )
        except BaseException:
            self._file.discard()
            raise
        if audio is not None:
            try:
                self._check_audio(audio, unsupported_audio)
            except BaseException:
                self.abort()
                raise

    # -- setup ------------------------------------------------------------------------------

    def _container_options(self, faststart: bool) -> dict[str, str]:
        opts: dict[str, str] = {}
        if self._muxer in ("mp4", "mov"):
            if faststart:
                opts["movflags"] = "+faststart"
            tb = self.info.time_base
            # Pin the track timescale to the input's time base so every pts is stored exactly;
            # by default the muxer doubles small timescales until they exceed 10000.
            if tb.numerator == 1 and 0 < tb.denominator < 2**31:
                opts["video_track_timescale"] = str(tb.denominator)
        return opts

    def _check_audio(self, feed: AudioFeed, policy: str) -> None:
        """Fail now, not after an hour of processing, if the audio cannot be copied."""
        supported = self._container.supported_codecs
        keep = []
        for stream in feed.streams:
            name = stream.codec_context.name if stream.codec_context is not None else None
            if getattr(feed, "transcode", False) and name is not None and policy == "transcode":
                self._to_transcode.append(stream)  # the feed asks for it (raw microphone PCM)
                continue
            if name is not None and name in supported:
                keep.append(stream)
                continue
            what = f"audio codec {name or 'unknown'!r} cannot be stored in {self.path.suffix}"
            if policy == "transcode" and name is not None and "libopus" in av.codecs_available:
                log.warning("%s: %s; transcoding it to Opus", self.path, what)
                self._to_transcode.append(stream)
                continue
            if policy in ("drop", "transcode"):
                log.warning("%s: %s; that audio stream is left out", self.path, what)
                continue
            raise OutputError(self.path, f"{what}; write .mkv or .mov, or drop the audio")
        self._audio_templates = keep

    def _open_video(self, channels: int, height: int, width: int) -> None:
        info = self.info
        if channels == 4 and self._codec != "vp9":
            raise OutputError(
                self.path,
                f"{self.path.suffix} (H.264) cannot store transparency; "
                "write .webm or a PNG sequence for RGBA frames",
            )
        opts: dict[str, str]
        if self._codec == "h264":
            codec = "libx264"
            # x264's 4:2:0 needs even sizes; odd ones (rare: PNG/ProRes inputs) get 4:4:4 so
            # the output keeps the input's exact size.
            odd = width % 2 or height % 2
            pix_fmt = "yuv444p" if odd else "yuv420p"
            if odd:
                log.warning(
                    "%s: odd frame size %dx%d, encoding 4:4:4 (yuv444p) so the size "
                    "is kept; some players cannot play it",
                    self.path,
                    width,
                    height,
                )
            opts = {"crf": str(self._crf), "preset": self._preset}
        else:
            codec = "libvpx-vp9"
            pix_fmt = "yuva420p" if channels == 4 else "yuv420p"
            # Constant-quality mode (b=0 + crf); "good" with cpu-used 5 is ~realtime at 720p.
            opts = {
                "crf": str(self._crf),
                "b": "0",
                "deadline": "good",
                "cpu-used": "5",
                "row-mt": "1",
            }
        opts.update(self._extra_options)

        stream = self._container.add_stream(codec, rate=info.fps, options=opts)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        stream.time_base = info.time_base
        stream.codec_context.time_base = info.time_base
        if info.display_matrix is not None and hasattr(stream, "set_display_matrix"):
            stream.set_display_matrix(info.display_matrix)
        elif info.rotation and hasattr(stream, "set_display_rotation"):
            stream.set_display_rotation(info.rotation)
        elif info.rotation:  # PyAV < 16: only the legacy tag (clockwise degrees)
            stream.metadata["rotate"] = str(-info.rotation % 360)
        self._video = stream

        for template in self._audio_templates:
            out = self._container.add_stream_from_template(template)
            if template.language:
                out.metadata["language"] = template.language
            self._audio_map[template.index] = out
        for template in self._to_transcode:
            self._transcoders[template.index] = OpusTranscoder(template, self._container)

    # -- writing ----------------------------------------------------------------------------

    def write(self, frame: Frame) -> None:
        """Encode `frame.picture` shown at `frame.pts`.

        The picture is HxWx3 RGB, HxWx4 RGBA (WebM only) or HxW gray, uint8 or float in [0, 1].
        Timestamps count in the frame's `time_base` (rescaled when it differs from the
        `info.time_base` the file is written in); `pts=None` places the frame one frame after
        the previous one. Timestamps must increase; a repeated or earlier one is moved one tick
        after the previous frame. `duration` (the source frame's, optional) matters only for the
        last frame, whose length MP4 stores; by default it is the gap before the previous frame.
        """
        if self._closed:
            raise RuntimeError(f"{self.path}: write() after close()")
        pts, duration = self._in_file_time(frame)
        picture = frame.picture
        if isinstance(picture, I420):
            image: np.ndarray | I420 = picture
            shape: tuple[int, ...] = (picture.height, picture.width, 3)
        else:
            image = _as_uint8(picture)
            shape = image.shape
        if self._shape is None:
            self._guard(self._open_video, _channels(shape), shape[0], shape[1])
            self._shape = shape
        elif shape != self._shape:
            raise ValueError(
                f"{self.path}: frame shape {shape} differs from the first "
                f"frame's {self._shape}"
            )

        last = self._last_pts
        if pts is None:
            pts = 0 if last is None else last + (self._step_seen or self._step)
        pts = int(pts)
        if last is not None and pts <= last:
            log.debug("%s: pts %d not after %d; moved", self.path, pts, last)
            pts = last + 1
        if last is not None:
            self._step_seen = pts - last
        if not duration or duration <= 0:
            duration = self._step_seen or self._step
        self._last_pts = pts
        self._end_pts = pts + int(duration)

        encoded = video_frame(image, self._video.pix_fmt if self._video is not None else None)
        encoded.pts = pts
        encoded.time_base = self.info.time_base
        # libx264/libvpx do not carry frame durations to their packets, but MP4 stores the
        # last frame's length from its packet: remember it by pts and set it on the packet.
        self._durations[pts] = int(duration)
        self._guard(self._encode, encoded)
        self.frames_written += 1

    def _in_file_time(self, frame: Frame) -> tuple[int | None, int | None]:
        """The frame's pts and duration in the file's time base."""
        pts, duration = frame.pts, frame.duration
        own = frame.time_base
        if own is None or own == self.info.time_base:
            return pts, duration
        scale = own / self.info.time_base
        return (
            None if pts is None else round(pts * scale),
            None if duration is None else round(duration * scale),
        )

    def _encode(self, frame: av.VideoFrame | None) -> None:
        assert self._video is not None
        self._mux_video(self._video.encode(frame))
        if self._audio is not None and self._end_pts is not None:
            self._mux_audio(self._end_pts * self.info.time_base)

    def _mux_video(self, packets: list[av.Packet]) -> None:
        durations = self._durations
        for packet in packets:
            if packet.pts is not None:
                packet.duration = durations.pop(packet.pts, packet.duration or 0)
            self._container.mux_one(packet)

    def _mux_audio(self, until: Fraction | None) -> None:
        """Mux the input's audio packets, unchanged, up to `until` seconds (None: all of them).

        Packets are taken from the feed as the source demuxed them and muxed once the video
        has reached their time, so a recording stopped early ends its audio with its video;
        the rest wait in `_pending` (the few the reader is ahead by). The muxer's interleaver
        then orders them with the video packets, which trail by the encoder's delay.
        """
        assert self._audio is not None
        pending = self._pending
        pending.extend(self._audio.drain())
        mux = self._container.mux_one
        while pending:
            packet = pending[0]
            if (
                until is not None
                and packet.pts is not None
                and packet.time_base is not None
                and packet.pts * packet.time_base >= until
            ):
                break
            pending.popleft()
            out = self._audio_map.get(packet.stream_index)
            if out is None:
                transcoder = self._transcoders.get(packet.stream_index)
                if transcoder is not None:
                    transcoder.push(packet)
                continue  # transcoded, or a stream that was dropped
            packet.stream = out
            mux(packet)

    def _guard(self, fn: Callable[..., None], *args: object) -> None:
        """Run an encoding step; turn I/O and FFmpeg failures into an OutputError and clean up.

        The temporary file is removed and any existing destination is left as it was.
        """
        try:
            fn(*args)
        except OutputError:
            self.abort()
            raise
        except (av.error.FFmpegError, OSError) as e:
            self.abort()
            raise OutputError(self.path, f"cannot write: {_describe(e)}") from e

    # -- finishing --------------------------------------------------------------------------

    def close(self) -> Path | None:
        """Flush the encoder, write the trailer and move the file into place.

        Returns the output path, or None when no frame was ever written (then no file is
        created). Safe to call twice.
        """
        if self._closed:
            return self._result
        if self._video is None:
            self.abort()
            log.warning("%s: no frames were written; no file created", self.path)
            return None
        self._guard(self._finish)
        self._closed = True
        try:
            self._result = self._file.commit()
        except OSError as e:
            raise OutputError(self.path, f"cannot write: {_describe(e)}") from e
        return self._result

    @property
    def written(self) -> Path | None:
        """The finished file once `close()` has made it, else None."""
        return self._result

    def _finish(self) -> None:
        assert self._video is not None
        self._mux_video(self._video.encode(None))
        if self._audio is not None:
            # Whole input read: keep all its audio (it may run past the last frame, as in the
            # input). Stopped early: end the audio with the video instead of letting it run on.
            until = None if self._audio.finished else self._end_pts * self.info.time_base
            self._mux_audio(until)
        for transcoder in self._transcoders.values():
            transcoder.flush()
        self._container.close()

    def abort(self) -> None:
        """Stop without keeping anything: the temporary file is removed. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            self._container.close()
        self._file.discard()

    def __repr__(self) -> str:
        return f"VideoFileSink({str(self.path)!r}, frames_written={self.frames_written})"


def is_sequence_path(path: str | PathLike[str]) -> bool:
    """True for an existing folder, a path ending in a separator, or a printf-style %d pattern."""
    text = os.fspath(path)
    p = Path(text)
    return (
        p.is_dir() or text.endswith((os.sep, "/")) or ("%" in p.name and p.suffix.lower() == ".png")
    )


def sequence_layout(path: str | PathLike[str]) -> tuple[Path, str]:
    """(folder, printf pattern) of a PNG sequence path: `out/` -> (out, "%05d.png")."""
    p = Path(os.fspath(path))
    return (p.parent, p.name) if "%" in p.name else (p, "%05d.png")


class PngSequenceSink(Sink):
    """Write frames as numbered PNG files (RGB, RGBA or gray), each one atomically.

    `path` is a folder (files are named `%05d.png`) or a pattern like `out/frame_%05d.png`. The
    folder is created if its parent exists. Numbering starts at `start_number` (default 0, the
    source's frame index). PNG sequences hold no timing and no audio; `pts` is accepted for
    interface compatibility and ignored. `compression` is zlib's level 0-9 (1 is fast and
    within a few percent of 9 on video frames).
    """

    def __init__(
        self,
        path: str | PathLike[str],
        info: VideoInfo | None = None,
        *,
        start_number: int = 0,
        compression: int = 1,
    ) -> None:
        text = os.fspath(path)
        folder, pattern = sequence_layout(path)
        try:
            pattern % 0
        except (TypeError, ValueError) as e:
            raise OutputError(text, "pattern must contain one integer field like %05d") from e
        self.folder, self.pattern = folder, pattern
        self.path = folder / pattern
        self.info = info
        self.frames_written = 0
        self._number = start_number
        self._params = [cv2.IMWRITE_PNG_COMPRESSION, int(compression)]
        self._closed = False
        if folder.exists() and not folder.is_dir():
            raise OutputError(folder, "exists and is not a folder")
        if not folder.parent.is_dir():
            raise OutputError(folder, f"folder {str(folder.parent)!r} does not exist")
        try:
            folder.mkdir(exist_ok=True)
        except OSError as e:
            raise OutputError(folder, f"cannot create folder: {write_error_reason(e)}") from e
        if not os.access(folder, os.W_OK | os.X_OK):
            raise OutputError(folder, "cannot write here: permission denied")
        remove_stale_temps(folder)

    def write(self, frame: Frame) -> None:
        """Write `frame.picture` as the next numbered PNG (PNG has no timestamps)."""
        if self._closed:
            raise RuntimeError(f"{self.path}: write() after close()")
        picture = frame.picture
        image = _as_uint8(picture.rgb() if isinstance(picture, I420) else picture)
        channels = _channels(image.shape)
        if channels == 3:
            image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
        elif channels == 4:
            image = cv2.cvtColor(image, cv2.COLOR_RGBA2BGRA)
        dest = self.folder / (self.pattern % self._number)
        try:
            with atomic_path(dest) as tmp:
                if not cv2.imwrite(str(tmp), image, self._params):
                    raise OSError(f"PNG encoder failed for {dest}")
        except OSError as e:
            raise OutputError(dest, f"cannot write: {_describe(e)}") from e
        except cv2.error as e:  # OpenCV raises (rather than returning False) on some I/O errors
            raise OutputError(dest, f"cannot write: {str(e).strip().splitlines()[-1]}") from e
        self._number += 1
        self.frames_written += 1

    def close(self) -> Path | None:
        """Nothing to finalize (each file is complete when written); returns the folder."""
        self._closed = True
        return self.written

    @property
    def written(self) -> Path | None:
        """The folder, once a PNG is in it."""
        return self.folder if self.frames_written else None

    def abort(self) -> None:
        """Stop; PNGs already written stay (each is a complete file)."""
        self._closed = True

    def __repr__(self) -> str:
        return f"PngSequenceSink({str(self.path)!r}, frames_written={self.frames_written})"


def open_video_sink(
    path: str | PathLike[str],
    info: VideoInfo,
    *,
    audio: AudioFeed | None = None,
    **options: object,
) -> VideoFileSink | PngSequenceSink:
    """The sink a user's output name asks for: a PNG sequence or a video file.

    `options` go to the chosen sink (`crf`, `preset`, ... for video files; `start_number`,
    `compression` for PNG sequences). Audio cannot go into a PNG sequence and is ignored.
    """
    if is_sequence_path(path):
        return PngSequenceSink(path, info, **options)  # type: ignore[arg-type]
    return VideoFileSink(path, info, audio=audio, **options)  # type: ignore[arg-type]


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _folder_problem(path: Path, e: OSError) -> str:
    if isinstance(e, FileNotFoundError):
        return f"folder {str(path.parent)!r} does not exist"
    return write_error_reason(e)


def _describe(e: BaseException) -> str:
    if isinstance(e, av.error.FFmpegError):
        return os_error_reason(e)  # FFmpeg's own words
    if isinstance(e, OSError) and e.errno is not None:
        return write_error_reason(e)
    return str(e)
