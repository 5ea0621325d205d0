"""The user's own touch on the final matte: threshold, grow or shrink, feather.

Other virtual-background tools (OBS's background removal, the Zoom/Meet settings of old) give
these three knobs, because no model suits every picture: a threshold makes a hesitant matte
decisive (no see-through sleeves), growing keeps hair and ears that a tight matte clips,
shrinking drops a halo of old background, and feathering hides a hard or jagged edge. They act
on the frame-sized matte after refinement, in frame pixels, so their effect is predictable.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np


@dataclass(frozen=True)
class MatteAdjust:
    """Threshold, then grow (positive `expand`) or shrink (negative), then feather.

    `threshold` in (0, 1): matte values at or above it become person (1), the rest background
    (0). `expand` in pixels: grayscale dilation (or erosion, if negative) with a round kernel.
    `feather` in pixels: a Gaussian blur of the edge whose soft band is about that wide.
    """

    threshold: float | None = None
    expand: int = 0
    feather: float = 0.0

    def __post_init__(self) -> None:
        if self.threshold is not None and not 0 < self.threshold < 1:
            raise ValueError(f"threshold must be between 0 and 1, got {self.threshold}")
        if self.feather < 0:
            raise ValueError(f"feather must be 0 or more pixels, got {self.feather}")

    @property
    def active(self) -> bool:
        """Whether this changes anything (the default adjusts nothing and costs nothing)."""
        return self.threshold is not None or self.expand != 0 or self.feather > 0

    @cached_property
    def _kernel(self) -> np.ndarray:
        size = 2 * abs(self.expand) + 1
        return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))

    def apply(self, alpha: np.ndarray) -> np.ndarray:
        """The adjusted matte: float32 in [0, 1], frame-sized; `alpha` is left unchanged."""
        out = np.asarray(alpha, dtype=np.float32)
        if self.threshold is not None:
            out = (out >= np.float32(self.threshold)).astype(np.float32)
        if self.expand > 0:
            out = cv2.dilate(out, self._kernel)
        elif self.expand < 0:
            out = cv2.erode(out, self._kernel)
        if self.feather > 0:
            # A Gaussian's edge ramp is about 4 sigma wide from 2% to 98%.
            out = cv2.GaussianBlur(out, (0, 0), sigmaX=self.feather / 4)
        return out if out is not alpha else out.copy()
