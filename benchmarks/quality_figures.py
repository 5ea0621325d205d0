"""Make the before/after pictures in docs/quality.md from the shipped sample photo.

Raw = what tutorial code does with the same model: the bilinear-upscaled mask, a plain blur,
no edge care. greenroom = the default pipeline: guided-filter refinement, halo-free blur,
edge colour clean-up. Crops are enlarged 2x with nearest-neighbour so pixels stay visible.

    .venv/bin/python benchmarks/quality_figures.py
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from greenroom.compositing import Blur, ImageBackground, blend
from greenroom.matte import GuidedRefiner
from greenroom.samples import astronaut, rocket
from greenroom.segmentation import load_segmenter, mask_to_frame

OUT = Path("docs/img")
HAIR = (slice(0, 200), slice(140, 360))  # the top of her head and hair, in the 512x512 photo


def label(image: np.ndarray, text: str) -> np.ndarray:
    out = image.copy()
    cv2.rectangle(out, (0, 0), (8 + 11 * len(text), 24), (0, 0, 0), -1)
    cv2.putText(out, text, (4, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1,
                cv2.LINE_AA)
    return out


def zoom(image: np.ndarray) -> np.ndarray:
    return cv2.resize(image, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)


def main() -> None:
    frame = astronaut()
    small = load_segmenter("selfie-general").segment(frame)
    raw_alpha = mask_to_frame(small, (512, 512))
    refined = GuidedRefiner().refine(frame, small)

    naive_blur = cv2.GaussianBlur(frame, (55, 55), 0)
    raw_blur = np.where(raw_alpha[:, :, None] > 0.5, frame, naive_blur)
    ours_blur = Blur(15).apply(frame, refined)

    background = ImageBackground(rocket(), clean_edges=False).background(frame, raw_alpha)
    raw_replace = blend(frame, background, raw_alpha)
    ours_replace = ImageBackground(rocket()).apply(frame, refined)

    rows = [
        np.hstack([label(zoom(raw_blur[HAIR]), "tutorial: threshold + blur"),
                   label(zoom(ours_blur[HAIR]), "greenroom: blur")]),
        np.hstack([label(zoom(raw_replace[HAIR]), "raw mask: new background"),
                   label(zoom(ours_replace[HAIR]), "greenroom: new background")]),
    ]
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "edges-raw-vs-greenroom.png"
    cv2.imwrite(str(path), cv2.cvtColor(np.vstack(rows), cv2.COLOR_RGB2BGR))
    whole = np.hstack([label(raw_blur, "tutorial"), label(ours_blur, "greenroom")])
    whole_path = OUT / "blur-raw-vs-greenroom.jpg"
    cv2.imwrite(str(whole_path), cv2.cvtColor(whole, cv2.COLOR_RGB2BGR),
                [cv2.IMWRITE_JPEG_QUALITY, 88])
    print(f"wrote {path} and {whole_path}")


if __name__ == "__main__":
    main()
