"""Model cost per 720p frame: `segment()` plus bringing the matte to frame size.

Prints a Markdown table and writes it to docs/benchmarks-models.md. Each model is timed in
`--rounds` interleaved rounds of `--repeat` calls on one 1280x720 frame (the astronaut photo on
a wide canvas), 2 inference threads; the fastest round's median is shown, because on a shared
machine the slow rounds measure the neighbours, not the model. Models come from
$GREENROOM_MODELS (e.g. ../shared/models); absent ones are skipped.

    GREENROOM_MODELS=../shared/models .venv/bin/python benchmarks/bench_models.py
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

from greenroom.errors import GreenroomError
from greenroom.pipeline.processor import Processor
from greenroom.segmentation import load_segmenter
from greenroom.segmentation.quality import refiner_for

DEFAULT_MODELS = ("auto", "pphumanseg-v2-lite", "modnet", "rvm-mobilenetv3")


def frame_720p():
    from bench_effects import frame_of_size  # same frame as the effect benchmark

    return frame_of_size(1280, 720)


def round_ms(processor: Processor, frame, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        processor.matte(frame)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", default=list(DEFAULT_MODELS))
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).resolve().parents[1] / "docs" /
                        "benchmarks-models.md")
    args = parser.parse_args()
    frame = frame_720p()
    processors = {}
    for name in args.models:
        try:
            segmenter = load_segmenter(name, 2)
        except GreenroomError as exc:
            print(f"skipping {name}: {exc}")
            continue
        for refine in (False, True):
            processor = Processor(model=segmenter, refine=refiner_for(segmenter, refine))
            processor.matte(frame)  # warm-up
            processors[(name, refine)] = processor
    best: dict[tuple[str, bool], float] = {}
    for _ in range(args.rounds):  # interleaved, so a busy moment hits every model alike
        for key, processor in processors.items():
            ms = round_ms(processor, frame, args.repeat)
            best[key] = min(best.get(key, ms), ms)
    lines = [
        "# Model cost per 720p frame",
        "",
        "`GREENROOM_MODELS=../shared/models .venv/bin/python benchmarks/bench_models.py` on "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, 2 inference "
        f"threads: the fastest of {args.rounds} interleaved rounds, each the median of "
        f"{args.repeat} calls of `Processor.matte` on one 1280x720 frame (model plus the "
        "matte at frame size). A shared machine: read it as a ranking.",
        "",
        "| model | raw ms | refined ms |",
        "|---|---|---|",
    ]
    for name in dict.fromkeys(n for n, _ in processors):
        lines.append(f"| `{name}` | {best[(name, False)]:.1f} | {best[(name, True)]:.1f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.write_text(text)


if __name__ == "__main__":
    main()
