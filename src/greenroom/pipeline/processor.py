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

    def segment(self, frame: np.ndarray) -> np.ndarray:
        """The model's soft mask at model resolution (the first, model-bound half of the work)."""
        check_frame(frame)
        return self.segmenter.segment(frame)

    def matte_from_mask(self, frame: np.ndarray, small: np.ndarray) -> np.ndarray:
        """Bring a model-resolution mask to the frame's size: float32 in [0, 1], 1 = person."""
        return mask_to_frame(small, (frame.shape[1], frame.shape[0]))

    def composite(self, frame: np.ndarray, small: np.ndarray) -> np.ndarray:
        """The second half of the work: matte at frame size, then the effect.

        Split from `segment` so a streaming pipeline can run the two halves in separate threads.
        """
        return self.effect.apply(frame, self.matte_from_mask(frame, small))

    def matte(self, frame: np.ndarray) -> np.ndarray:
        """The person matte at the frame's size: float32 in [0, 1], 1 = person."""
        return self.matte_from_mask(frame, self.segment(frame))

    def process(self, frame: np.ndarray) -> np.ndarray:
        """Apply the effect to one RGB frame."""
        return self.composite(frame, self.segment(frame))

    def close(self) -> None:
        self.segmenter.close()
        close_effect = getattr(self.effect, "close", None)
        if close_effect is not None:  # effects holding a file, e.g. a video background
            close_effect()

    def __enter__(self) -> Processor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
