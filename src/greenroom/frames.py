"""The frame record that travels from a source through the stages to a sink.

It lives outside every stage's package so sources, pipelines and sinks can share it without
depending on each other.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class FrameItem:
    """One frame on its way through the pipeline, with what each stage adds to it.

    `image` is the RGB uint8 input; `pts` its timestamp in the source's time base (None for
    cameras); `captured` the `time.perf_counter()` when it arrived, for latency; `mask` the
    model-resolution mask and `output` the effect's result, filled in by the pipeline.
    """

    index: int
    image: np.ndarray
    pts: int | None = None
    captured: float = field(default_factory=time.perf_counter)
    mask: np.ndarray | None = None
    output: np.ndarray | None = None
    extra: dict[str, Any] = field(default_factory=dict)
