"""Milliseconds per 720p frame of a segmentation model on a given number of threads.

Times what `greenroom` does per frame with the model alone (`segment`: resize to the model's
input, normalise, run, decode to the model-resolution mask), median of `repeat` runs after a
warm-up. Stretching the mask back to 1280x720 (`mask_to_frame`) is not included: it adds
0.2-0.3 ms whatever the model.
Run: `python -m greenroom.training.speed MODEL [MODEL ...]` (names or paths).
"""

from __future__ import annotations

import statistics
import sys
import time

import numpy as np

from greenroom.segmentation import load_segmenter


def ms_per_frame(model: str, threads: int = 2, repeat: int = 100) -> float:
    """Median milliseconds of `segment` on a 720p frame (a noise frame: cost is content-free)."""
    segmenter = load_segmenter(model, threads)
    frame = np.random.default_rng(0).integers(0, 256, (720, 1280, 3), dtype=np.uint8)
    for _ in range(10):
        segmenter.segment(frame)
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        segmenter.segment(frame)
        times.append((time.perf_counter() - began) * 1000)
    segmenter.close()
    return statistics.median(times)


def main(argv: list[str]) -> None:
    print("| model | ms per 720p frame (2 threads, median) |\n|---|---|")
    for model in argv:
        print(f"| {model} | {ms_per_frame(model):.2f} |")


if __name__ == "__main__":
    main(sys.argv[1:])
