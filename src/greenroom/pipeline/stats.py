"""Per-stage timings, capture-to-output latency and drop counts, in constant memory.

A live session can run for hours, so statistics keep running totals plus a window of the most
recent samples for percentiles, instead of every sample.
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass, field

import numpy as np

#: Samples kept per series for medians and percentiles.
WINDOW = 2000


def plural(count: int, word: str) -> str:
    """`word` as it goes with `count`: 1 frame, 2 frames, 0 frames."""
    return word if count == 1 else word + "s"


@dataclass
class Series:
    """Running count/total of a duration series plus a window of recent values (seconds)."""

    count: int = 0
    total: float = 0.0
    recent: collections.deque[float] = field(
        default_factory=lambda: collections.deque(maxlen=WINDOW)
    )

    def add(self, seconds: float) -> None:
        self.count += 1
        self.total += seconds
        self.recent.append(seconds)

    @property
    def mean_ms(self) -> float:
        return 1000 * self.total / self.count if self.count else 0.0

    def percentile_ms(self, q: float) -> float:
        return float(np.percentile(self.recent, q) * 1000) if self.recent else 0.0


class PipelineStats:
    """Thread-safe collection of what a pipeline run measured."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.stages: dict[str, Series] = {}
        self.latency = Series()
        self.frames_in = 0
        self.frames_out = 0
        self.dropped: dict[str, int] = {}
        self.started = time.perf_counter()
        self.finished: float | None = None

    def stage(self, name: str, seconds: float) -> None:
        with self._lock:
            self.stages.setdefault(name, Series()).add(seconds)

    def frame_in(self) -> None:
        with self._lock:
            self.frames_in += 1

    def frame_out(self, latency: float) -> None:
        with self._lock:
            self.frames_out += 1
            self.latency.add(latency)

    def drop(self, where: str) -> None:
        """A frame was dropped at `where` (a queue, or a newest-frame-wins slot)."""
        with self._lock:
            self.dropped[where] = self.dropped.get(where, 0) + 1

    def finish(self) -> None:
        self.finished = time.perf_counter()

    @property
    def elapsed(self) -> float:
        return (self.finished or time.perf_counter()) - self.started

    @property
    def fps(self) -> float:
        return self.frames_out / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def total_dropped(self) -> int:
        return sum(self.dropped.values())

    def summary(self, live: bool = True) -> str:
        """One line for the end of a run (or each second of a live one), for the CLI.

        Every run says how many frames, how fast and how long. Only a live run (a camera)
        adds dropped frames and capture-to-output latency: for a file, frames wait in queues
        by design, nothing is dropped, and a latency would describe the queues, not the user's
        experience; what matters there is the throughput.
        """
        line = (
            f"{self.frames_out} {plural(self.frames_out, 'frame')} in {self.elapsed:.1f} s "
            f"({self.fps:.1f} fps)"
        )
        if not live:
            return line
        stages = ", ".join(f"{name} {series.mean_ms:.1f}" for name, series in self.stages.items())
        return (
            f"{line}, {self.total_dropped} dropped; ms/frame: {stages}; latency median "
            f"{self.latency.percentile_ms(50):.1f} ms, p95 {self.latency.percentile_ms(95):.1f} ms"
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "frames_in": self.frames_in,
            "frames_out": self.frames_out,
            "dropped": dict(self.dropped),
            "seconds": round(self.elapsed, 3),
            "fps": round(self.fps, 2),
            "stage_ms": {name: round(s.mean_ms, 3) for name, s in self.stages.items()},
            "latency_ms": {
                "median": round(self.latency.percentile_ms(50), 3),
                "p95": round(self.latency.percentile_ms(95), 3),
            },
        }
