"""The per-frame work: segment, bring the matte to frame size, apply the effect.

A `Processor` owns a loaded model and an effect, so many frames (a folder of photos, a video, a
camera) pay for loading once. It is the unit the streaming pipelines run in their stages.
"""

from __future__ import annotations

import numpy as np

from greenroom.compositing import Blur, Effect
from greenroom.segmentation import Segmenter, load_segmenter, mask_to_frame
from greenroom.segmentation.base import check_frame


class Processor:
    """Segmentation model + effect, reusable across frames.

    Frames are RGB uint8 arrays (HxWx3). `process` returns what the effect makes: RGB, RGBA for
    `Transparent`, or a grayscale matte for `MaskOnly`.
    """

    def __init__(
        self,
        effect: Effect | None = None,
        model: str | Segmenter = "auto",
        num_threads: int | None = None,
    ) -> None:
        self.effect = effect if effect is not None else Blur()
        self.segmenter = (
            load_segmenter(model, num_threads) if isinstance(model, str) else model
        )

    def matte(self, frame: np.ndarray) -> np.ndarray:
        """The person matte at the frame's size: float32 in [0, 1], 1 = person."""
        check_frame(frame)
        small = self.segmenter.segment(frame)
        return mask_to_frame(small, (frame.shape[1], frame.shape[0]))

    def process(self, frame: np.ndarray) -> np.ndarray:
        """Apply the effect to one RGB frame."""
        return self.effect.apply(frame, self.matte(frame))

    def close(self) -> None:
        self.segmenter.close()

    def __enter__(self) -> Processor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
