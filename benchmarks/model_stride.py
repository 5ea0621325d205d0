"""What running the model on only every Nth frame would cost in quality, for the live path.

The model is the largest single cost of a live frame (docs/benchmarks-video.md), so running it
on every second or third frame, reusing its last mask in between, is the obvious way to save
CPU. The guided filter still redraws that mask along each new frame's own edges. This script
measures what such a schedule loses. It takes the labelled DAVIS dance-twirl sequence,
cover-resized to 720p (the benchmark clip's content), through the camera command's default
processor in yuv420p planes: segment (with temporal smoothing), then the matte refined on the
picture's half-size Y, U and V and brought to full size. It scores each schedule against the
hand-drawn masks.

    .venv/bin/python benchmarks/model_stride.py [--strides 1,2,3]

It needs ../shared/data/davis-dance-twirl and exits with a message if that is missing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

from greenroom.compositing import cover_resize
from greenroom.compositing.effects import PlaneMatte
from greenroom.evaluation import metrics
from greenroom.frames import I420
from greenroom.pipeline import Processor
from greenroom.pipeline.allocator import tune_process

SEQUENCE = Path(__file__).resolve().parents[2] / "shared" / "data" / "davis-dance-twirl"
SIZE = (1280, 720)


class EveryNth:
    """A segmenter wrapper that runs the model on every `stride`-th frame only and hands back
    a copy of its last mask in between (a copy, so the processor treats it as a new mask and
    refines it on the new frame)."""

    def __init__(self, segmenter: object, stride: int) -> None:
        self.inner, self.stride = segmenter, stride
        self.count = 0
        self.last: np.ndarray | None = None

    def segment(self, frame: np.ndarray, order: str = "rgb") -> np.ndarray:
        if self.last is None or self.count % self.stride == 0:
            self.last = self.inner.segment(frame, order)  # type: ignore[attr-defined]
        self.count += 1
        return self.last.copy()

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


def load_sequence() -> list[tuple[I420, np.ndarray]]:
    """(picture, ground-truth mask) pairs at 720p."""
    images = sorted((SEQUENCE / "images").iterdir())
    masks = sorted((SEQUENCE / "masks").iterdir())
    pairs = []
    for image_path, mask_path in zip(images, masks, strict=True):
        rgb = cv2.cvtColor(cv2.imread(str(image_path)), cv2.COLOR_BGR2RGB)
        mask = cv2.imread(str(mask_path), cv2.IMREAD_GRAYSCALE)
        pairs.append((I420.from_rgb(cover_resize(rgb, *SIZE)),
                      cover_resize(mask[..., None].repeat(3, axis=2), *SIZE)[..., 0]))
    return pairs


def score(pairs: list[tuple[I420, np.ndarray]], stride: int) -> dict[str, float]:
    # The camera's defaults; the effect (the default blur) is never applied: only the matte is
    # scored.
    processor = Processor(temporal=True, skip_still=True)
    processor.segmenter = EveryNth(processor.segmenter, stride)  # type: ignore[assignment]
    mattes = []
    for picture, _ in pairs:
        small = processor.segment(picture)
        half = processor.matte_from_mask(picture.half_yuv(), small, "yuv")
        mattes.append(PlaneMatte(SIZE, uv=half).y)
    scored = list(zip(mattes, (truth for _, truth in pairs), strict=True))
    return {
        "iou": float(np.mean([metrics.person_iou(m, t) for m, t in scored])),
        "boundary_f": float(np.mean([metrics.boundary_f(m, t) for m, t in scored])),
        "instability": metrics.temporal_instability(mattes),
        "model_runs": 1 / stride,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--strides", default="1,2,3", help="model on every Nth frame (1,2,3)")
    args = parser.parse_args()
    if not (SEQUENCE / "images").is_dir():
        print(f"model_stride: {SEQUENCE} is missing (the shared evaluation data)",
              file=sys.stderr)
        return 1
    tune_process()
    pairs = load_sequence()
    print(f"DAVIS dance-twirl, {len(pairs)} frames at {SIZE[0]}x{SIZE[1]}, yuv420p planes, "
          "camera defaults (temporal smoothing, still-frame skipper, guided refine)\n")
    print("| model on | model runs | person IoU | boundary F | instability |")
    print("|---|---:|---:|---:|---:|")
    for stride in (int(value) for value in args.strides.split(",")):
        result = score(pairs, stride)
        label = "every frame" if stride == 1 else f"1 frame in {stride}"
        print(f"| {label} | {result['model_runs']:.0%} | {result['iou']:.4f} | "
              f"{result['boundary_f']:.4f} | {result['instability']:.5f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
