"""The media tracks of the web server.

`ProcessedTrack` is the style of aiortc's `VideoTransformTrack` (examples/server), made for a
live camera: a pump task reads the incoming track all the time and keeps only the newest frame;
`recv()` takes that frame, runs greenroom's `Processor` on it in a worker thread (so the event loop
never blocks), and returns the result. A frame that arrives while the previous one is still being
processed replaces any frame still waiting, so a slow moment costs frames, never latency. A
frame larger than `max_size` is scaled down in the same conversion that makes it RGB: a 4K
camera would otherwise cost a quarter of a second and a gigabyte a session.

`SlotTrack` is one receive slot of a participant: the video of whoever sits in the slot, or
nothing while it is empty. It never ends on its own, so its RTP sender survives people coming and
going, and a slot is refilled without renegotiation.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor
from fractions import Fraction

import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError
from av import VideoFrame

from greenroom.compositing import Effect
from greenroom.frames import I420
from greenroom.pipeline.processor import Processor
from greenroom.pipeline.stats import PipelineStats
from greenroom.web.limits import fit

log = logging.getLogger(__name__)

#: All processed tracks stamp their frames on one clock (90 kHz, RTP's video clock), so a slot
#: that switches from one participant to another never sees time go backwards.
TIME_BASE = Fraction(1, 90_000)
_EPOCH = time.monotonic()


def checkerboard(height: int, width: int, square: int = 16) -> np.ndarray:
    """Grey checkerboard (HxWx3 uint8) that shows where a transparent image is see-through."""
    ys, xs = np.indices((height, width))
    light = ((ys // square + xs // square) % 2).astype(bool)
    board = np.where(light, 204, 153).astype(np.uint8)
    return np.repeat(board[:, :, None], 3, axis=2)


def to_video_frame(result: np.ndarray | I420) -> VideoFrame:
    """An effect's output (RGB, RGBA, a grayscale matte, or yuv420p planes) -> a yuv420p frame
    for the encoder.

    Video has no alpha, so a transparent result is shown over a checkerboard. The conversion to
    yuv420p happens here, in the worker thread, once, rather than in every encoder it feeds.
    """
    if isinstance(result, I420):
        return result.to_video_frame()
    if result.ndim == 2:
        frame = VideoFrame.from_ndarray(np.ascontiguousarray(result), format="gray")
    elif result.shape[2] == 4:
        alpha = result[:, :, 3:4].astype(np.float32) / 255.0
        board = checkerboard(*result.shape[:2])
        rgb = result[:, :, :3] * alpha + board * (1.0 - alpha)
        frame = VideoFrame.from_ndarray(rgb.astype(np.uint8), format="rgb24")
    else:
        frame = VideoFrame.from_ndarray(np.ascontiguousarray(result), format="rgb24")
    return frame.reformat(format="yuv420p")


class RateMeter:
    """Events per second over the last couple of seconds."""

    def __init__(self, window: float = 2.0) -> None:
        self.window = window
        self.times: collections.deque[float] = collections.deque()

    def tick(self, now: float | None = None) -> None:
        self.times.append(time.monotonic() if now is None else now)

    def rate(self) -> float:
        now = time.monotonic()
        while self.times and self.times[0] < now - self.window:
            self.times.popleft()
        return len(self.times) / self.window


class ProcessedTrack(MediaStreamTrack):
    """`source` (a browser's camera) with greenroom's effect applied; newest frame wins."""

    kind = "video"

    def __init__(
        self,
        source: MediaStreamTrack,
        executor: Executor,
        effect: Effect,
        model: str = "auto",
        processor_factory: Callable[[Effect, str], Processor] | None = None,
        max_size: tuple[int, int] = (1280, 720),
    ) -> None:
        super().__init__()
        self.source = source
        #: Largest frame processed (long side, short side in either order); larger is scaled down.
        self.max_size = max_size
        self.executor = executor
        #: The effect for the next frames; swapped by the control channel, read by the worker.
        self.effect = effect
        #: The model for the next frames; a change loads it in the worker before the next frame.
        self.model = model
        self._factory = processor_factory or (
            lambda effect, model: Processor(effect, model=model, temporal=True)
        )
        self._processor: Processor | None = None
        self._loaded_model: str | None = None
        self._latest: tuple[VideoFrame, float] | None = None
        self._arrived = asyncio.Event()
        self._source_ended = False
        self._busy: asyncio.Future[tuple[VideoFrame, float]] | None = None
        #: What the pipeline measures of a camera run, measured here alike: frames in and out,
        #: frames dropped (newest wins), the stage "work" (conversions, model and effect per
        #: frame) and the latency from a frame's arrival to its hand-over to the encoder.
        self.measured = PipelineStats()
        self.in_rate = RateMeter()
        self.out_rate = RateMeter()
        self.width = 0
        self.height = 0
        #: When the last camera frame arrived (monotonic): a silent session is dropped.
        self.last_arrival = time.monotonic()
        #: The last processing error, if any (reported to the page).
        self.error: str | None = None
        self._pump_task: asyncio.Task[None] | None = asyncio.ensure_future(self._pump())

    async def _pump(self) -> None:
        """Read the source as fast as it delivers; keep only the newest frame."""
        try:
            while True:
                frame = await self.source.recv()
                now = self.last_arrival = time.monotonic()
                self.measured.frame_in()
                self.in_rate.tick(now)
                if self._latest is not None:
                    self.measured.drop("waiting")  # it was never processed: newest wins
                self._latest = (frame, now)
                self._arrived.set()
        except MediaStreamError:
            pass
        finally:
            self._source_ended = True
            self._arrived.set()

    def _work(self, frame: VideoFrame) -> tuple[VideoFrame, float]:
        """Runs in a worker thread: one frame through the model and the effect."""
        started = time.perf_counter()
        if self._processor is None or self._loaded_model != self.model:
            if self._processor is not None:
                self._processor.close()
                self._processor = None
            model = self.model
            self._processor = self._factory(self.effect, model)
            self._loaded_model = model
        processor = self._processor
        processor.effect = self.effect
        width, height = fit(frame.width, frame.height, self.max_size)
        unscaled = (width, height) == (frame.width, frame.height)
        if unscaled and I420.readable(frame) and processor.takes_planes:
            # The browser's yuv420p as it is, composited in its planes and sent back so.
            picture = I420.from_video_frame(frame)
            result = processor.composite(picture, processor.segment(picture))
            return to_video_frame(result), time.perf_counter() - started
        if unscaled:
            rgb = frame.to_ndarray(format="rgb24")
        else:
            rgb = frame.to_ndarray(
                format="rgb24", width=width, height=height, interpolation="AREA"
            )
        out = to_video_frame(processor.process(rgb))
        return out, time.perf_counter() - started

    async def recv(self) -> VideoFrame:
        while True:
            if self.readyState != "live":
                raise MediaStreamError
            if self._latest is not None:
                break
            if self._source_ended:
                self.stop()
                raise MediaStreamError
            self._arrived.clear()
            await self._arrived.wait()
        frame, arrived = self._latest
        self._latest = None
        loop = asyncio.get_running_loop()
        busy = self._busy = loop.run_in_executor(self.executor, self._work, frame)
        try:
            # Shielded: if recv() is cancelled the worker still finishes, and aclose() waits.
            out, seconds = await asyncio.shield(busy)
        except Exception as exc:  # a bug or a bad frame: show the camera as it is, say why
            if self.error is None:
                log.exception("processing failed; passing frames through unprocessed")
            self.error = f"processing failed: {exc}"
            out, seconds = frame, 0.0
        self._busy = None
        now = time.monotonic()
        out.pts = int((arrived - _EPOCH) * TIME_BASE.denominator)
        out.time_base = TIME_BASE
        self.out_rate.tick(now)
        self.measured.stage("work", seconds)
        self.measured.frame_out(now - arrived)
        self.width, self.height = out.width, out.height
        return out

    def stop(self) -> None:
        super().stop()
        if self._pump_task is not None:
            self._pump_task.cancel()
        self._arrived.set()  # wake a waiting recv() so it ends

    async def aclose(self) -> None:
        """Stop, wait for the frame in the worker (if any), release the model."""
        self.stop()
        pump, self._pump_task = self._pump_task, None
        if pump is not None:
            with contextlib.suppress(asyncio.CancelledError, MediaStreamError):
                await pump
        busy = self._busy
        if busy is not None:
            await asyncio.wait([busy])
        processor, self._processor = self._processor, None
        if processor is not None:
            processor.close()

    def stats(self) -> dict[str, object]:
        """What the page shows: rates over the last seconds, counts and medians."""
        measured = self.measured
        work, latency = measured.stages.get("work"), measured.latency
        return {
            "fps_in": round(self.in_rate.rate(), 1),
            "fps_out": round(self.out_rate.rate(), 1),
            "frames_in": measured.frames_in,
            "frames_out": measured.frames_out,
            "dropped": measured.total_dropped,
            "ms": round(work.percentile_ms(50), 1) if work else None,
            "latency_ms": round(latency.percentile_ms(50), 1) if latency.count else None,
            "width": self.width,
            "height": self.height,
            "model": self._loaded_model or self.model,
        }


class SlotTrack(MediaStreamTrack):
    """One of a participant's receive slots: the video of whoever occupies it, if anyone.

    `attach(track, owner)` puts a new source in the slot (a `MediaRelay` proxy of another
    participant's processed video) and stops the previous one; `attach(None)` empties it. While
    empty, `recv()` just waits, so the RTP sender sends nothing and stays alive for the next one.
    """

    kind = "video"

    def __init__(self, mid: str | None = None) -> None:
        super().__init__()
        self.mid = mid
        self.owner: object | None = None
        self._source: MediaStreamTrack | None = None
        self._changed = asyncio.Event()
        #: Called when the source changes, e.g. to ask the encoder for a key frame.
        self.on_switch: Callable[[], None] | None = None

    @property
    def source(self) -> MediaStreamTrack | None:
        return self._source

    def attach(self, source: MediaStreamTrack | None, owner: object | None = None) -> None:
        old, self._source = self._source, source
        self.owner = owner if source is not None else None
        if old is not None and old is not source:
            old.stop()
        self._changed.set()
        if self.on_switch is not None:
            self.on_switch()

    async def recv(self) -> VideoFrame:
        while True:
            if self.readyState != "live":
                raise MediaStreamError
            source = self._source
            self._changed.clear()
            if source is None:
                await self._changed.wait()
                continue
            getting = asyncio.ensure_future(source.recv())
            changing = asyncio.ensure_future(self._changed.wait())
            try:
                await asyncio.wait({getting, changing}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (getting, changing):
                    if not task.done():
                        task.cancel()
                        with contextlib.suppress(asyncio.CancelledError, MediaStreamError):
                            await task
            if getting.done() and not getting.cancelled():
                try:
                    return getting.result()
                except MediaStreamError:
                    if self._source is source:  # the participant left: the slot is empty
                        self.attach(None)
                    continue

    def stop(self) -> None:
        super().stop()
        source, self._source = self._source, None
        if source is not None:
            source.stop()
        self._changed.set()
