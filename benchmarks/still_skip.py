"""How often the still-frame skipper saves the model run, and what it costs in quality.

A "still-sitting" 720p clip: the sample portrait with camera sensor noise on every frame and a
small movement (a 4-pixel shift, as when someone shifts in their chair) every two seconds. The
same frames go through the camera command's default processor with and without skipping; the
mattes are compared frame by frame.

    .venv/bin/python benchmarks/still_skip.py
"""

from __future__ import annotations

import time

import cv2
import numpy as np

from greenroom.compositing import MaskOnly
from greenroom.pipeline import Processor
from greenroom.samples import astronaut


def clip(frames: int = 300) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    portrait = cv2.resize(astronaut(), (720, 720))
    base = cv2.copyMakeBorder(portrait, 0, 0, 280, 280, cv2.BORDER_REFLECT)
    out = []
    for index in range(frames):
        shift = 4 * ((index // 60) % 2)
        frame = np.roll(base, shift, axis=1)
        noise = rng.normal(0, 2.0, frame.shape)
        out.append(np.clip(frame + noise, 0, 255).astype(np.uint8))
    return out


def run(frames: list[np.ndarray], skip: bool) -> tuple[list[np.ndarray], float, Processor]:
    processor = Processor(MaskOnly(), temporal=True, skip_still=skip)
    mattes = []
    started = time.perf_counter()
    for frame in frames:
        mattes.append(processor.matte(frame))
    return mattes, (time.perf_counter() - started) / len(frames) * 1000, processor


def main() -> None:
    frames = clip()
    plain, plain_ms, _ = run(frames, skip=False)
    skipped, skip_ms, processor = run(frames, skip=True)
    ious = []
    for a, b in zip(plain, skipped, strict=True):
        pa, pb = a > 0.5, b > 0.5
        ious.append(np.logical_and(pa, pb).sum() / max(1, np.logical_or(pa, pb).sum()))
    mae = float(np.mean([np.abs(a - b).mean() for a, b in zip(plain, skipped, strict=True)]))
    assert processor.skipper is not None
    print("| clip | frames | model runs skipped | matte IoU vs no skipping (mean / min) | "
          "MAE vs no skipping | ms/frame without / with skipping |")
    print("|---|---:|---:|---:|---:|---:|")
    print(f"| 720p still-sitting, noise + 4 px shift every 2 s | {len(frames)} | "
          f"{processor.skipper.skipped_fraction:.0%} | {np.mean(ious):.4f} / {np.min(ious):.4f} | "
          f"{mae:.4f} | {plain_ms:.1f} / {skip_ms:.1f} |")


if __name__ == "__main__":
    main()
