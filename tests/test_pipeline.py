"""The streaming pipeline: order and completeness for files, newest-frame-wins for live sources."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from greenroom.compositing import ColorBackground
from greenroom.frames import Frame
from greenroom.pipeline import Processor
from greenroom.pipeline.queues import Closed, FrameQueue
from greenroom.pipeline.stream import StreamPipeline
from greenroom.testing import ListSink


def frames(image: np.ndarray, count: int, interval: float = 0.0):
    for index in range(count):
        if interval:
            time.sleep(interval)
        yield Frame(index, image, pts=index * 10)


@pytest.fixture(scope="module")
def processor():
    with Processor(ColorBackground((0, 255, 0)), model="selfie-general") as p:
        yield p


def test_queue_blocks_when_full_and_keeps_order():
    queue: FrameQueue[int] = FrameQueue(2)
    queue.put(1)
    queue.put(2)
    done = threading.Event()

    def producer():
        queue.put(3)  # blocks until the consumer takes one
        done.set()

    thread = threading.Thread(target=producer)
    thread.start()
    assert not done.wait(0.1)
    assert queue.get() == 1
    assert done.wait(1)
    queue.close()
    assert [queue.get(), queue.get()] == [2, 3]
    with pytest.raises(Closed):
        queue.get()
    assert queue.dropped == 0


def test_queue_drops_oldest_when_live():
    queue: FrameQueue[int] = FrameQueue(2, drop_oldest=True)
    for value in range(5):
        queue.put(value)
    assert queue.dropped == 3
    assert [queue.get(), queue.get()] == [3, 4]


def test_file_mode_keeps_every_frame_in_order(astronaut_rgb, processor):
    sink = ListSink(delay=0.005)
    stats = StreamPipeline(processor, frames(astronaut_rgb, 30), sink, live=False).run()
    assert [item.index for item in sink.items] == list(range(30))
    assert [item.pts for item in sink.items] == [i * 10 for i in range(30)]
    assert stats.frames_out == 30 and stats.total_dropped == 0
    assert sink.closed
    assert set(stats.stages) == {"segment", "composite", "output"}
    # The effect really ran: the background corner is green, the face is untouched.
    out = sink.items[-1].output
    assert tuple(out[10, 500]) == (0, 255, 0)
    assert np.abs(out[60:130, 210:260].astype(int) - astronaut_rgb[60:130, 210:260]).mean() < 3


def test_live_mode_drops_oldest_under_a_slow_stage(astronaut_rgb, processor):
    """A sink 4x slower than the camera: frames are dropped, latency stays bounded."""
    sink = ListSink(delay=0.04)
    stats = StreamPipeline(
        processor, frames(astronaut_rgb, 60, interval=0.01), sink, live=True
    ).run()
    indexes = [item.index for item in sink.items]
    assert indexes == sorted(indexes) and len(set(indexes)) == len(indexes)
    assert stats.total_dropped > 0
    assert stats.frames_out + stats.total_dropped == stats.frames_in == 60
    # Each frame waits at most for the frames in flight (one per stage), never for a backlog.
    assert stats.latency.percentile_ms(95) < 400
    # A backlog would have written all 60 with ever-growing latency.
    assert len(sink.items) < 45


def test_stop_event_ends_the_run_and_closes_the_sink(astronaut_rgb, processor):
    stop = threading.Event()
    sink = ListSink()

    def endless():
        index = 0
        while True:
            yield Frame(index, astronaut_rgb)
            index += 1
            if index == 10:
                stop.set()

    stats = StreamPipeline(processor, endless(), sink, live=False, stop=stop).run()
    assert sink.closed
    assert 10 <= stats.frames_out <= 12


@pytest.mark.parametrize("live", [True, False])
def test_stop_ends_the_run_while_the_source_is_stuck(astronaut_rgb, processor, live):
    """A camera that stops delivering must not hold the run (or Ctrl-C) hostage."""
    stop = threading.Event()
    release = threading.Event()
    sink = ListSink()

    def stalls_after_three():
        for index in range(3):
            yield Frame(index, astronaut_rgb)
        release.wait(30)  # a read that does not return

    pipeline = StreamPipeline(processor, stalls_after_three(), sink, live=live, stop=stop)
    timer = threading.Timer(1.0, stop.set)
    timer.start()
    started = time.monotonic()
    try:
        stats = pipeline.run()
    finally:
        release.set()
        timer.cancel()
    assert time.monotonic() - started < 5
    assert sink.closed
    assert stats.frames_out == len(sink.items) >= (1 if live else 3)


def test_an_error_in_a_stage_is_raised_and_the_sink_closed(astronaut_rgb, processor):
    class BrokenSink(ListSink):
        def write(self, item):
            if item.index == 3:
                raise OSError(28, "No space left on device")
            super().write(item)

    sink = BrokenSink()
    with pytest.raises(OSError, match="No space"):
        StreamPipeline(processor, frames(astronaut_rgb, 20), sink).run()
    assert sink.closed and len(sink.items) == 3


def test_an_error_in_the_source_is_raised(astronaut_rgb, processor):
    def failing():
        yield Frame(0, astronaut_rgb)
        raise ValueError("clip.mp4: corrupt")

    sink = ListSink()
    with pytest.raises(ValueError, match="corrupt"):
        StreamPipeline(processor, failing(), sink).run()
    assert sink.closed
