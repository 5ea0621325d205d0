"""Where a frame's CPU goes inside the processor, call site by call site.

Every OpenCV function (and a few numpy ones) is wrapped for the run, so each call's thread CPU
is added up under the line of greenroom's code that made it. The processor the command builds
(`camera` or `video`, default blur) then runs sequentially, on one thread, over decoded frames
of a 720p clip in the codec's planes. The table lists the costliest call sites, in ms per
frame. The wrappers cost a few microseconds a call, so the total is a little above an
unwrapped run.

This is how the slow channel merge in the blur was found (docs/benchmarks-video.md covers the
pipeline as a whole; `perf record -e cpu-clock` covers the libraries, whose own symbols OpenCV
strips).

    .venv/bin/python benchmarks/call_costs.py [--processor camera] [--clip CLIP] [--top 30]

Without --clip it makes a 720p clip of the DAVIS dancer (or the astronaut sample), as
bench_video.py does. It prints a Markdown table and writes nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as the greenroom command starts

from greenroom.pipeline.allocator import tune_process  # noqa: E402

tune_process()

import cv2  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_video  # noqa: E402
from greenroom.sources.video import VideoFileSource  # noqa: E402

NUMPY = ("concatenate", "empty", "zeros", "ones", "clip", "where", "ascontiguousarray",
         "multiply", "add", "subtract")


class CallCosts:
    """Thread CPU per (function, calling file:line), while installed."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._originals: list[tuple[ModuleType, str, Callable[..., Any]]] = []

    def wrap(self, module: ModuleType, name: str) -> None:
        original = getattr(module, name)

        def timed(*args: Any, **kwargs: Any) -> Any:  # noqa: ANN401
            started = time.thread_time()
            result = original(*args, **kwargs)
            caller = sys._getframe(1)  # noqa: SLF001 - the line that made the call
            key = (f"{module.__name__}.{name} @ {Path(caller.f_code.co_filename).name}:"
                   f"{caller.f_lineno}")
            self.seconds[key] += time.thread_time() - started
            self.calls[key] += 1
            return result

        self._originals.append((module, name, original))
        setattr(module, name, timed)

    def install(self) -> None:
        for name in dir(cv2):
            value = getattr(cv2, name)
            if callable(value) and name[:1].islower() and not isinstance(value, type):
                self.wrap(cv2, name)
        for name in NUMPY:
            self.wrap(np, name)

    def remove(self) -> None:
        for module, name, original in reversed(self._originals):
            setattr(module, name, original)
        self._originals.clear()

    def clear(self) -> None:
        self.seconds.clear()
        self.calls.clear()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processor", choices=("camera", "video"), default="camera")
    parser.add_argument("--clip", type=Path, help="a video file (default: a 720p clip made now)")
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="greenroom-calls-") as temp:
        clip = args.clip
        if clip is None:
            clip = Path(temp) / "clip.mp4"
            bench_video.make_clip(clip, 1280, 720, args.frames)
        with VideoFileSource(clip, planar=True) as source:
            frames = [item.image for _, item in zip(range(args.frames), source, strict=False)]
    processor = bench_video.cli_processor(args.processor)
    costs = CallCosts()
    costs.install()
    try:
        for frame in frames[:20]:  # warm up: models loaded, buffers sized
            processor.composite(frame, processor.segment(frame))
        costs.clear()
        started = time.thread_time()
        for frame in frames:
            processor.composite(frame, processor.segment(frame))
        total = time.thread_time() - started
    finally:
        costs.remove()
        processor.close()
    count = len(frames)
    print(f"`{args.processor}` processor, {count} frames of {frames[0].width}x"
          f"{frames[0].height} in planes, one thread: {1000 * total / count:.2f} ms of CPU per "
          f"frame, {1000 * sum(costs.seconds.values()) / count:.2f} ms of it in OpenCV and "
          "the wrapped numpy calls, the rest in LiteRT and Python\n")
    print("| ms per frame | calls per frame | call @ where |")
    print("|---:|---:|---|")
    ranked = sorted(costs.seconds.items(), key=lambda item: -item[1])[: args.top]
    for key, seconds in ranked:
        print(f"| {1000 * seconds / count:.3f} | {costs.calls[key] / count:.1f} | {key} |")


if __name__ == "__main__":
    main()
