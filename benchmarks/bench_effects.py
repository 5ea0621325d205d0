"""Per-frame cost of each photo/frame stage at 720p and 1080p, ours beside the naive way.

Prints a Markdown table and writes it to docs/benchmarks-effects.md. Each row is the median of
`--repeat` runs measured in this one process, so ratios between rows are meaningful even on a
noisy shared machine; absolute numbers vary from machine to machine.

    .venv/bin/python benchmarks/bench_effects.py
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from greenroom.compositing import Blur, ColorBackground, Transparent, blend
from greenroom.compositing.edges import clean_edge_colors
from greenroom.matte import GuidedRefiner, StillnessSkipper, TemporalSmoother
from greenroom.pipeline.allocator import tune_process
from greenroom.samples import astronaut
from greenroom.segmentation import MediaPipeSelfieSegmenter, mask_to_frame

SIZES = {"720p": (1280, 720), "1080p": (1920, 1080)}


def median_ms(function: Callable[[], object], repeat: int) -> float:
    function()  # warm-up: first calls allocate and pick kernels
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def frame_of_size(width: int, height: int) -> np.ndarray:
    """The astronaut photo placed on a wide canvas, as a webcam frame would frame a person."""
    canvas = cv2.resize(astronaut(), (width, height), interpolation=cv2.INTER_LINEAR)
    person = cv2.resize(astronaut(), (height, height))
    x0 = (width - height) // 2
    canvas[:, x0 : x0 + height] = person
    return canvas


def rows_for(name: str, width: int, height: int, repeat: int) -> list[tuple[str, str, float]]:
    frame = frame_of_size(width, height)
    general = MediaPipeSelfieSegmenter("general")
    landscape = MediaPipeSelfieSegmenter("landscape")
    small = landscape.segment(frame)
    alpha = mask_to_frame(small, (width, height))
    background = np.zeros_like(frame)
    alpha3 = alpha[:, :, None]
    refiner, smoother, skipper = GuidedRefiner(), TemporalSmoother(), StillnessSkipper()
    refined = refiner.refine(frame, small)
    skipper.can_reuse(frame)
    skipper.computed(small)
    rows = [
        ("segment: general model (256x256)", lambda: general.segment(frame)),
        ("segment: landscape model (144x256)", lambda: landscape.segment(frame)),
        ("matte to frame size (bilinear)", lambda: mask_to_frame(small, (width, height))),
        ("matte refinement: guided filter to frame size", lambda: refiner.refine(frame, small)),
        ("temporal smoothing (model resolution)", lambda: smoother.update(frame, small)),
        ("still-frame check (skipper)", lambda: skipper.can_reuse(frame)),
        ("edge colour clean-up (new background)", lambda: clean_edge_colors(frame, refined)),
        ("blur background: greenroom (reduced res, halo-free)",
         lambda: Blur().background(frame, alpha)),
        ("blur background: greenroom (reduced res, plain)",
         lambda: Blur(halo_free=False).background(frame, alpha)),
        ("blur background: naive full-res GaussianBlur 55x55",
         lambda: cv2.GaussianBlur(frame, (55, 55), 0)),
        ("blend: greenroom (cv2.blendLinear)", lambda: blend(frame, background, alpha)),
        ("blend: naive numpy float",
         lambda: (frame * alpha3 + background * (1 - alpha3)).astype(np.uint8)),
        ("transparent RGBA", lambda: Transparent().apply(frame, alpha)),
        ("whole frame, default blur: segment + refine + halo-free blur + blend",
         lambda: Blur().apply(frame, refiner.refine(frame, landscape.segment(frame)))),
        ("whole frame, colour: segment + refine + edge clean-up + blend",
         lambda: ColorBackground((0, 177, 64)).apply(
             frame, refiner.refine(frame, landscape.segment(frame)))),
    ]
    return [(name, label, median_ms(fn, repeat)) for label, fn in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--output", type=Path, default=Path("docs/benchmarks-effects.md"))
    args = parser.parse_args()
    tune_process()  # as the greenroom command runs
    load = "load average {:.2f} {:.2f} {:.2f} at the start".format(*os.getloadavg())
    results = {size: rows_for(size, *SIZES[size], args.repeat) for size in SIZES}
    labels = [label for _, label, _ in results["720p"]]
    lines = [
        "| stage | " + " | ".join(f"{size} ms" for size in SIZES) + " |",
        "|---|" + "---:|" * len(SIZES),
    ]
    for index, label in enumerate(labels):
        cells = " | ".join(f"{results[size][index][2]:.2f}" for size in SIZES)
        lines.append(f"| {label} | {cells} |")
    table = "\n".join(lines)
    print(table)
    header = (
        "# Per-frame cost of each stage\n\n"
        f"Median of {args.repeat} runs per row, one process, on {platform.machine()} with "
        f"{cv2.getNumberOfCPUs()} CPUs ({load}); OpenCV {cv2.__version__}, numpy {np.__version__}, "
        "inference on 2 threads. Produced by `.venv/bin/python benchmarks/bench_effects.py`.\n\n"
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(header + table + "\n")
    print(f"\nwrote {args.output}")


if __name__ == "__main__":
    main()
