"""Auto-framing: a virtual camera operator that keeps the person centred at a steady size.

Driven by the matte greenroom already computes, so it costs no second model: the person's box
and centre come from the matte at low resolution, and the head from the matte's top. The
framing follows with damped motion, as a camera operator would:

- a dead zone: while the target framing stays within a few percent of the current one, nothing
  moves (no jitter while the person sits still);
- a smooth follow when they move: the crop eases towards the target (exponential approach)
  with limits on pan and zoom speed per frame;
- a hold when they leave: the last framing is kept for `hold_frames`, then eases back out to
  the whole frame;
- a cut at the start: the first frame with a person in it is framed at once.

The output keeps the input's size: the crop (same aspect ratio) is scaled back up.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

#: Height the matte is examined at: enough for a box, cheap at any frame size.
ANALYSIS_HEIGHT = 90


@dataclass
class Crop:
    """A crop of the frame: centre and height as fractions of the frame (width follows)."""

    cx: float = 0.5
    cy: float = 0.5
    height: float = 1.0  # 1.0 = the whole frame, 0.5 = 2x zoom

    def clamped(self, max_zoom: float) -> Crop:
        height = min(1.0, max(1.0 / max_zoom, self.height))
        half = height / 2
        return Crop(min(1 - half, max(half, self.cx)), min(1 - half, max(half, self.cy)), height)


class AutoFramer:
    """Keeps the person framed: call `frame(image, alpha)` once per frame, in order."""

    def __init__(
        self,
        *,
        person_height: float = 0.75,
        headroom: float = 0.08,
        max_zoom: float = 2.0,
        dead_zone: float = 0.04,
        follow: float = 0.08,
        max_pan: float = 0.02,
        max_zoom_step: float = 0.01,
        hold_frames: int = 45,
    ) -> None:
        self.person_height = person_height  # share of the crop the person's box fills
        self.headroom = headroom  # space above the head, as a share of the crop
        self.max_zoom = max_zoom
        self.dead_zone = dead_zone  # ignore target changes smaller than this (frame fractions)
        self.follow = follow  # share of the remaining distance moved each frame
        self.max_pan = max_pan  # at most this much of the frame per frame
        self.max_zoom_step = max_zoom_step
        self.hold_frames = hold_frames
        self.enabled = True
        self.reset()

    def reset(self) -> None:
        """Back to the whole frame (a new file, a scene cut)."""
        self.current = Crop()
        self.goal = Crop()
        self._missing = 0
        self._moving = False
        self._framed = False  # no person seen since the start: the first one is cut to at once

    def target(self, alpha: np.ndarray) -> Crop | None:
        """The framing the person asks for, or None when nobody is in the picture."""
        height, width = alpha.shape[:2]
        scale = ANALYSIS_HEIGHT / height
        small = cv2.resize(alpha, (max(1, round(width * scale)), ANALYSIS_HEIGHT),
                           interpolation=cv2.INTER_AREA)
        person = small > 0.5
        if person.mean() < 0.005:
            return None
        rows = np.flatnonzero(person.any(axis=1))
        weights = person.sum(axis=0).astype(np.float64)
        top, bottom = rows[0] / small.shape[0], (rows[-1] + 1) / small.shape[0]
        cx = float(np.dot(weights, np.arange(small.shape[1]) + 0.5) / weights.sum())
        cx /= small.shape[1]
        crop_height = (bottom - top) / self.person_height
        # The head sits `headroom` below the crop's top; the body may run out of the bottom.
        cy = top - self.headroom * crop_height + crop_height / 2
        return Crop(cx, cy, crop_height).clamped(self.max_zoom)

    def _differs(self, a: Crop, b: Crop) -> bool:
        return max(abs(a.cx - b.cx), abs(a.cy - b.cy), abs(a.height - b.height)) > self.dead_zone

    def update(self, alpha: np.ndarray) -> Crop:
        """Move the framing one frame's worth towards where the person is; the new crop."""
        wanted = self.target(alpha)
        if wanted is None:
            self._missing += 1
            wanted = self.goal if self._missing <= self.hold_frames else Crop()
        else:
            self._missing = 0
            if not self._framed:  # the first shot starts framed, as an operator's would
                self._framed = True
                self.current = self.goal = wanted
                return self.current
        # The dead zone: a new goal only when the person has really moved; then follow it
        # until the framing has arrived (so a slow drift is caught up, not left half-way).
        if self._differs(wanted, self.goal):
            self.goal = wanted
            self._moving = True
        if self._moving:
            self.current = self._step(self.current, self.goal)
            if not self._differs(self.current, self.goal) and self._close(self.current, self.goal):
                self._moving = False
        return self.current

    @staticmethod
    def _close(a: Crop, b: Crop) -> bool:
        return max(abs(a.cx - b.cx), abs(a.cy - b.cy), abs(a.height - b.height)) < 0.002

    def _step(self, current: Crop, goal: Crop) -> Crop:
        def toward(value: float, target: float, limit: float) -> float:
            move = (target - value) * self.follow
            if abs(target - value) < 0.002:
                return target
            return value + max(-limit, min(limit, move))

        return Crop(
            toward(current.cx, goal.cx, self.max_pan),
            toward(current.cy, goal.cy, self.max_pan),
            toward(current.height, goal.height, self.max_zoom_step),
        ).clamped(self.max_zoom)

    @staticmethod
    def cut(image: np.ndarray, crop: Crop) -> np.ndarray:
        """The crop of `image`, scaled back to the image's size (same aspect ratio)."""
        height, width = image.shape[:2]
        if crop.height >= 0.999:
            return image
        ch = max(2, round(crop.height * height))
        cw = max(2, round(crop.height * width))
        x0 = min(width - cw, max(0, round(crop.cx * width - cw / 2)))
        y0 = min(height - ch, max(0, round(crop.cy * height - ch / 2)))
        return cv2.resize(image[y0 : y0 + ch, x0 : x0 + cw], (width, height),
                          interpolation=cv2.INTER_LINEAR)

    def frame(self, image: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        """Update the framing from this frame's matte and apply it to the effect's output."""
        crop = self.update(alpha)
        return self.cut(image, crop) if self.enabled else image
