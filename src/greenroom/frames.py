"""Ground level: the frame type every source yields and every sink takes, and the sink interface.

They live outside every stage's package so that sources, the engine (pipeline, model, effects)
and sinks can share them without depending on each other: a source knows nothing of sinks, a
sink nothing of the pipeline (after aiortc, where every track speaks `VideoFrame`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Self

import numpy as np


@dataclass
class Frame:
    """One frame on its way from a source through the engine to a sink.

    A source fills in the picture and its timing; the engine adds the model's `mask` and the
    effect's `output`; a sink shows `picture` (the output once there is one).

    `pts` and `duration` count in `time_base` units, as the source's container stores them
    (None when the source has no timeline of its own: a camera). `captured` is the
    `time.perf_counter()` at which the frame arrived, the clock that latency and live recordings
    are measured on.
    """

    index: int
    image: np.ndarray  # HxWx3 uint8 RGB, C-contiguous
    pts: int | None = None
    time_base: Fraction | None = None
    duration: int | None = None
    captured: float = field(default_factory=time.perf_counter)
    alpha: np.ndarray | None = field(default=None, repr=False)  # HxW uint8, when the input has one
    mask: np.ndarray | None = field(default=None, repr=False)
    output: np.ndarray | None = field(default=None, repr=False)

    @property
    def time(self) -> float | None:
        """Presentation time in seconds, or None without a timeline."""
        if self.pts is None or self.time_base is None:
            return None
        return float(self.pts * self.time_base)

    @property
    def picture(self) -> np.ndarray:
        """What a sink shows: the effect's output once there is one, else the input picture."""
        return self.output if self.output is not None else self.image


class Sink:
    """Where frames go: a file, a virtual camera, a window, a browser, a test list.

    `write` takes each frame in order. `close` ends normally: a file is finalized and playable
    (also after a stop or Ctrl-C). `abort` ends after a failure: a sink that could leave a
    half-written file under the user's name removes it. Both are safe to call once at the end; by
    default `close` does nothing and `abort` is `close`, which is right for sinks that hold no
    file (a window, a virtual camera). As a context manager a sink is closed at the end of the
    block, or aborted when an error ends it.
    """

    def write(self, frame: Frame) -> None:
        raise NotImplementedError

    def close(self) -> object:
        """Finish; a sink that writes a file returns its path (None when nothing was written)."""
        return None

    def abort(self) -> None:
        self.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: object, tb: object) -> None:
        # Ctrl-C and SystemExit mean "stop": keep what was written (a recording stays playable).
        if exc_type is None or not issubclass(exc_type, Exception):
            self.close()
        else:
            self.abort()
