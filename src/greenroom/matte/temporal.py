"""Temporal stability: less flicker without ghost trails, and no model run when nothing moves.

All three work on the model-resolution mask (256x144 or so), where they cost next to nothing:

* `TemporalSmoother` blends each new mask with the previous result, strongly where the frame
  is still (so the model's frame-to-frame jitter averages out) and not at all where the frame
  moves (so a waving arm leaves no trail). Motion is the frame difference at mask resolution.
  It adds no latency.
* `LookaheadCorrector` is MODNet's one-frame-delay trick, for files where a frame of delay is
  free: a pixel whose previous and next masks agree but whose current one differs is an
  isolated flip, and is replaced by its neighbours' value.
* `StillnessSkipper` decides when the model need not run at all: when the frame barely changed
  in a band around the person's edge (where a change would alter the mask), the last mask is
  reused, as conferencing products do to save battery.
* `SceneCutDetector` says when a frame starts a new shot (an edit in a video, a looped file
  jumping back to its start), so that whatever was carried over from the previous frames (a
  recurrent model's state, the smoothed mask) is dropped instead of leaking into the new shot.
"""

from __future__ import annotations

from functools import cache

import cv2
import numpy as np

from greenroom.compositing.resample import halve, levels_to
from greenroom.frames import BYTE_TO_UNIT

# Limited-range luma (16..235) -> float32 gray in [0, 1] as a table: one lookup per pixel instead
# of four numpy passes, with the same float32 values as the arithmetic written out (RGB's gray
# goes through `BYTE_TO_UNIT` likewise).
_LUMA_TO_GRAY = np.clip((np.arange(256, dtype=np.float32) - 16) * np.float32(1 / 219), 0, 1)


def small_gray(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The frame as float32 gray in [0, 1] at `size` = (width, height), area-averaged.

    `frame` is RGB, or the Y plane of a yuv420p picture (2-D, limited range 16..235: mapped to
    0..1 alike, so both measure change on the same scale).
    OpenCV's INTER_AREA is fast for a whole-number ratio (1280 -> 256) but takes a slow generic
    path for a ratio like 1920 -> 256 (4 ms); there, exact halvings come first (1.5 ms). A last
    step of less than 2x (a yuv420p picture's reduced luma, 320x180, to the landscape model's
    256x144) is bilinear: every source pixel still counts at that ratio, and the generic area
    path would cost 0.30 ms there against 0.08.
    """
    height, width = frame.shape[:2]
    times = 0
    if width % size[0] or height % size[1]:  # keep at least 2x for the final area resize
        times = min(levels_to(width, 2 * size[0]), levels_to(height, 2 * size[1]))
    reduced = halve(frame, times)
    height, width = reduced.shape[:2]
    whole = not (width % size[0] or height % size[1])
    gentle = width < 2 * size[0] and height < 2 * size[1]
    method = cv2.INTER_LINEAR if gentle and not whole else cv2.INTER_AREA
    small = cv2.resize(reduced, size, interpolation=method)
    if small.ndim == 2:  # luma
        return cv2.LUT(small, _LUMA_TO_GRAY)
    return cv2.LUT(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY), BYTE_TO_UNIT)



class TemporalSmoother:
    """Motion-aware exponential smoothing of successive masks.

    `still_weight` is the share of the new mask where nothing moves (lower = steadier);
    `motion_gain` how fast the weight rises to 1 with the local frame difference (a change of
    1/motion_gain in gray level counts as full motion).
    """

    def __init__(self, still_weight: float = 0.35, motion_gain: float = 25.0) -> None:
        self.still_weight = still_weight
        self.motion_gain = motion_gain
        self._previous: np.ndarray | None = None
        self._previous_gray: np.ndarray | None = None

    def reset(self) -> None:
        """Forget the past (a scene cut, a seek, a new file)."""
        self._previous = None
        self._previous_gray = None

    def update(self, frame: np.ndarray, mask: np.ndarray) -> np.ndarray:
        height, width = mask.shape
        gray = small_gray(frame, (width, height))
        previous, previous_gray = self._previous, self._previous_gray
        if previous is None or previous_gray is None or previous.shape != mask.shape:
            result = mask
        else:
            motion = cv2.GaussianBlur(cv2.absdiff(gray, previous_gray), (5, 5), 0)
            weight = np.clip(self.still_weight + self.motion_gain * motion, 0.0, 1.0)
            result = cv2.blendLinear(mask, previous, weight, 1.0 - weight)
        self._previous = result
        self._previous_gray = gray
        return result


class LookaheadCorrector:
    """Fix isolated one-frame flips using the next frame's mask (one frame of delay).

    `push` takes the newest mask and returns the corrected mask of the frame before it (None on
    the first call); `flush` returns the last one at the end of the stream.
    """

    def __init__(self, agree: float = 0.1, differ: float = 0.3) -> None:
        self.agree = agree
        self.differ = differ
        self._before: np.ndarray | None = None
        self._current: np.ndarray | None = None

    def push(self, mask: np.ndarray) -> np.ndarray | None:
        before, current = self._before, self._current
        self._before, self._current = current, mask
        if current is None:
            return None
        if before is None or before.shape != mask.shape or current.shape != mask.shape:
            return current
        neighbours = cv2.addWeighted(before, 0.5, mask, 0.5, 0.0)
        flip = (cv2.absdiff(before, mask) < self.agree) & (
            cv2.absdiff(current, neighbours) > self.differ
        )
        if not flip.any():
            return current
        corrected = current.copy()
        corrected[flip] = neighbours[flip]
        return corrected

    def flush(self) -> np.ndarray | None:
        current, self._before, self._current = self._current, None, None
        return current


@cache
def _ellipse(radius: int) -> np.ndarray:
    """A filled ellipse (a disc) of `radius` as a dilation kernel; made once per radius."""
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1,) * 2)


class StillnessSkipper:
    """Say when the last mask can be reused because nothing moved near the person's edge.

    Frames are compared at a small fixed width (`analysis_width`), where noise averages out.
    `threshold` is the mean absolute gray change (0..1) in the edge band under which a frame
    counts as still; `max_reuse` bounds how many frames in a row reuse a mask, so slow drifts
    are caught up with.
    """

    def __init__(
        self,
        threshold: float = 0.004,
        band: int = 5,
        max_reuse: int = 15,
        analysis_width: int = 160,
    ) -> None:
        self.threshold = threshold
        self.band = band
        self.max_reuse = max_reuse
        self.analysis_width = analysis_width
        self.reused = 0
        self.frames = 0
        self._streak = 0
        self._gray: np.ndarray | None = None  # the frame the kept mask was computed on
        self._pending: np.ndarray | None = None  # the frame now being segmented
        self._band_mask: np.ndarray | None = None

    @property
    def skipped_fraction(self) -> float:
        return self.reused / self.frames if self.frames else 0.0

    def can_reuse(self, frame: np.ndarray) -> bool:
        """True if the mask computed for an earlier frame still holds for `frame`.

        When it returns False the caller runs the model and must then call `computed`.
        """
        self.frames += 1
        height, width = frame.shape[:2]
        size = (self.analysis_width, max(1, round(self.analysis_width * height / width)))
        gray = small_gray(frame, size)
        reference, band = self._gray, self._band_mask
        if reference is not None and band is not None and reference.shape == gray.shape:
            change = float(cv2.mean(cv2.absdiff(gray, reference), band)[0])
            if change < self.threshold and self._streak < self.max_reuse:
                self._streak += 1
                self.reused += 1
                return True
        self._pending = gray
        self._streak = 0
        return False

    def computed(self, mask: np.ndarray) -> None:
        """Record the mask the model just produced for the frame last refused by `can_reuse`."""
        if self._pending is None:
            return
        self._gray = self._pending
        height, width = self._gray.shape
        # Bilinear: only the soft band's whereabouts matter here, and OpenCV's area resize
        # takes a slow generic path for the model's 256 -> 160 (0.1 ms of this step's 0.15).
        small = cv2.resize(mask, (width, height), interpolation=cv2.INTER_LINEAR)
        edge = ((small > 0.05) & (small < 0.95)).astype(np.uint8)
        kernel = _ellipse(self.band)
        band = cv2.dilate(edge, kernel)
        if not band.any():  # no person, or no soft edge: watch the whole frame
            band[:] = 1
        self._band_mask = band


class SceneCutDetector:
    """Flag frames that do not continue the previous one: a cut, a seek, a loop back to the start.

    Both the picture and its brightness distribution must change: the mean absolute difference
    of 64-pixel-wide gray thumbnails above `difference` (0..1; a fast-moving dancer stays below
    0.06, a cut between shots is typically 0.15-0.4) and the correlation of their 32-bin
    histograms below `correlation`, so a camera pan across a similar scene or a light switched
    on is not taken for a cut.
    """

    def __init__(
        self, difference: float = 0.12, correlation: float = 0.8, width: int = 64
    ) -> None:
        self.difference = difference
        self.correlation = correlation
        self.width = width
        self.cuts = 0
        self._gray: np.ndarray | None = None
        self._hist: np.ndarray | None = None

    def reset(self) -> None:
        self._gray = None
        self._hist = None

    def is_cut(self, frame: np.ndarray) -> bool:
        """True if `frame` starts a new shot (never for the first frame seen)."""
        height, width = frame.shape[:2]
        gray = small_gray(frame, (self.width, max(1, round(self.width * height / width))))
        hist = cv2.calcHist([gray], [0], None, [32], [0.0, 1.0])
        cv2.normalize(hist, hist)
        previous, previous_hist = self._gray, self._hist
        self._gray, self._hist = gray, hist
        if previous is None or previous_hist is None or previous.shape != gray.shape:
            return False
        change = float(cv2.mean(cv2.absdiff(gray, previous))[0])
        if change <= self.difference:
            return False
        if cv2.compareHist(hist, previous_hist, cv2.HISTCMP_CORREL) >= self.correlation:
            return False
        self.cuts += 1
        return True
