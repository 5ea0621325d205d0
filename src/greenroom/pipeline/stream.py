"""The streaming pipeline: capture, segmentation, compositing and output overlap in threads.

    source --q--> segment --q--> composite --q--> sink (the calling thread)

Each stage runs in its own thread and hands frames on through a bounded `FrameQueue`. The heavy
work in every stage (decoding, LiteRT inference, OpenCV, encoding) releases the GIL, so on two
cores the stages really overlap. For files (`live=False`) the queues block: nothing is dropped
and order is exact. For live sources (`live=True`) the queues drop their oldest frame, so a slow
stage costs frames, never latency. The sink runs in the calling thread because GUI toolkits
(the preview window) want the main thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

from greenroom.frames import Frame, Sink
from greenroom.matte import LookaheadCorrector
from greenroom.pipeline.processor import Processor
from greenroom.pipeline.queues import Closed, FrameQueue
from greenroom.pipeline.stats import PipelineStats


class StreamPipeline:
    """Run `processor` over `frames` into `sink`, with the stages overlapped in threads."""

    def __init__(
        self,
        processor: Processor,
        frames: Iterable[Frame],
        sink: Sink,
        *,
        live: bool = False,
        queue_size: int | None = None,
        stats: PipelineStats | None = None,
        stop: threading.Event | None = None,
        on_output: Callable[[Frame, PipelineStats], None] | None = None,
        lookahead: LookaheadCorrector | None = None,
    ) -> None:
        self.processor = processor
        self.frames = frames
        self.sink = sink
        self.live = live
        self.stats = stats or PipelineStats()
        self.stop = stop or threading.Event()
        self.on_output = on_output
        # MODNet-style one-frame look-ahead: frames leave segmentation one frame late.
        self.lookahead = lookahead
        self._held: list[Frame] = []
        # Live: one slot per queue, the freshest frame. Files: a little slack to absorb jitter.
        size = queue_size or (1 if live else 4)
        self.queues = {
            name: FrameQueue[Frame](size, drop_oldest=live)
            for name in ("captured", "segmented", "composited")
        }
        self._errors: list[BaseException] = []

    def _fail(self, error: BaseException) -> None:
        self._errors.append(error)
        self.stop.set()
        for queue in self.queues.values():
            queue.close()

    def _end_input_on_stop(self, finished: threading.Event) -> None:
        """On stop, end the input at once, even while the source is stuck in a read.

        The capture thread only sees `stop` between frames; a camera that stopped delivering, or
        a stream that went quiet, would otherwise hold the whole pipeline (and Ctrl-C) until its
        read returns. Frames already queued are still processed and written.
        """
        while not finished.is_set():
            if self.stop.wait(0.1):
                self.queues["captured"].close()
                return

    def _capture(self) -> None:
        out = self.queues["captured"]
        try:
            for item in self.frames:
                if self.stop.is_set():
                    break
                self.stats.frame_in()
                out.put(item)
        except BaseException as error:  # noqa: BLE001 - re-raised by run()
            self._fail(error)
        finally:
            out.close()

    def _stage(
        self,
        name: str,
        source: str,
        target: str,
        work: Callable[[Frame], list[Frame]],
        flush: Callable[[], list[Frame]] | None = None,
    ) -> None:
        """Take items from `source`, let `work` turn each into items to pass on to `target`.

        `work` may hold items back (the one-frame look-ahead does); `flush` releases them at the
        end of the stream.
        """
        inbox, out = self.queues[source], self.queues[target]
        try:
            while True:
                try:
                    item = inbox.get()
                except Closed:
                    break
                started = time.perf_counter()
                ready = work(item)
                self.stats.stage(name, time.perf_counter() - started)
                for done in ready:
                    out.put(done)
            if flush is not None:  # after a failure the closed queue just discards these
                for done in flush():
                    out.put(done)
        except BaseException as error:  # noqa: BLE001 - re-raised by run()
            self._fail(error)
        finally:
            out.close()

    def _segment(self, item: Frame) -> list[Frame]:
        item.image = self.processor.prepare(item.image)  # e.g. brightened: the effect uses it too
        item.mask = self.processor.segment(item.image)
        if self.lookahead is None:
            return [item]
        self._held.append(item)
        corrected = self.lookahead.push(item.mask)
        if corrected is None:
            return []
        ready = self._held.pop(0)
        ready.mask = corrected
        return [ready]

    def _flush_lookahead(self) -> list[Frame]:
        if self.lookahead is None or not self._held:
            return []
        ready = self._held.pop(0)
        ready.mask = self.lookahead.flush()
        return [ready]

    def _composite(self, item: Frame) -> list[Frame]:
        assert item.mask is not None
        item.output = self.processor.composite(item.image, item.mask)
        return [item]

    def run(self) -> PipelineStats:
        """Process every frame (or until `stop` is set), close the sink, return the statistics.

        On stop the frames already in flight are still finished and written, so a recording
        ends with everything that was captured.
        """
        threads = [
            threading.Thread(target=self._capture, name="greenroom-capture", daemon=True),
            threading.Thread(
                target=self._stage,
                args=("segment", "captured", "segmented", self._segment, self._flush_lookahead),
                name="greenroom-segment",
                daemon=True,
            ),
            threading.Thread(
                target=self._stage,
                args=("composite", "segmented", "composited", self._composite),
                name="greenroom-composite",
                daemon=True,
            ),
        ]
        for thread in threads:
            thread.start()
        finished = threading.Event()
        watcher = threading.Thread(
            target=self._end_input_on_stop, args=(finished,), name="greenroom-stop", daemon=True
        )
        watcher.start()
        try:
            self._drain()
        except BaseException as error:
            self._fail(error)
        finally:
            finished.set()
            try:
                for thread in threads:
                    # A capture thread still inside a stalled source's read is left behind (it
                    # is a daemon and ends when the read returns); the others finish quickly.
                    stalled = thread is threads[0] and self.stop.is_set()
                    thread.join(timeout=1 if stalled else 10)
            except KeyboardInterrupt as error:  # a second Ctrl-C: still finalize the output
                self._fail(error)
            self.stats.dropped = {
                name: queue.dropped for name, queue in self.queues.items() if queue.dropped
            }
            self.stats.finish()
            self._close_sink()
        if self._errors:
            raise self._errors[0]
        return self.stats

    def _close_sink(self) -> None:
        """Finalize the output; after a real failure, discard it if the sink can.

        A stop or Ctrl-C is not a failure: what was written is kept and made playable. A
        crash or a full disk is: the sink's `abort()` then removes a partial file.
        """
        failed = any(not isinstance(e, KeyboardInterrupt) for e in self._errors)
        try:
            if failed:
                self.sink.abort()
            else:
                self.sink.close()
        except BaseException as error:
            self._errors.append(error)

    def _drain(self) -> None:
        inbox = self.queues["composited"]
        while True:
            try:
                item = inbox.get()
            except Closed:
                return
            started = time.perf_counter()
            self.sink.write(item)
            now = time.perf_counter()
            self.stats.stage("output", now - started)
            self.stats.frame_out(now - item.captured)
            if self.on_output is not None:
                self.on_output(item, self.stats)
