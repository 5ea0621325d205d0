"""Focus blur: the background blurred more the farther it is from the person, as a lens does.

A small monocular depth model (TCMonoDepth's small net, 192x320) estimates relative depth every
few frames; its map is smoothed over time. The person's depth is the median of the map under
the matte, and each background pixel's blur grows with how far behind the person it is: the
floor at your feet or a table beside you stays sharp, the far wall is fully blurred, and
between them the blur grows. The picture is the frame and `Blur`'s halo-free blur blended per
pixel by that distance, so the cost is one cheap reduced-resolution blur, one blend, and a
depth run every 30 frames (a room's depth changes slowly; the run is about 70 ms here, which a
live stream feels as one late frame a second).
"""

from __future__ import annotations

import os

import cv2
import numpy as np

from greenroom.aux_models import AUX_MODELS
from greenroom.compositing.effects import DEFAULT_BLUR, BackgroundEffect, Blur

#: ImageNet normalisation, which the depth net was trained with.
_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
_STD = np.array([0.229, 0.224, 0.225], np.float32)


class DepthEstimator:
    """Relative depth (larger = nearer) at the model's resolution, for RGB frames."""

    def __init__(self, model_path: str | os.PathLike[str], num_threads: int = 1) -> None:
        from greenroom.segmentation.backends import onnx_session

        self.spec = AUX_MODELS["tcmonodepth"]
        self._session = onnx_session(model_path, num_threads)
        self._input = self._session.get_inputs()[0].name

    def estimate(self, frame: np.ndarray) -> np.ndarray:
        small = cv2.resize(frame, (self.spec.width, self.spec.height), interpolation=cv2.INTER_AREA)
        tensor = ((small.astype(np.float32) / 255.0 - _MEAN) / _STD).transpose(2, 0, 1)[None]
        out = self._session.run(None, {self._input: np.ascontiguousarray(tensor)})[0]
        return out[0, 0].astype(np.float32)


class FocusBlur(BackgroundEffect):
    """Blur that grows with distance behind (or before) the person; see the module doc."""


    def __init__(
        self,
        depth: DepthEstimator,
        strength: float = DEFAULT_BLUR,
        *,
        every: int = 30,
        steadiness: float = 0.7,
    ) -> None:
        self.depth = depth
        self.strength = strength
        self.every = max(1, every)
        self.steadiness = steadiness
        self._full = Blur(strength)
        self._map: np.ndarray | None = None  # smoothed depth, model resolution
        self._far: np.ndarray | None = None  # the last distance map, frame size
        self._count = 0

    def reset(self) -> None:
        self._map = self._far = None
        self._count = 0

    #: The distance map follows the person's depth every this many frames (it moves slowly).
    REFOCUS_EVERY = 3

    def distance(self, frame: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        """0 (as near as the person or nearer: sharp) .. 1 (far behind: full blur), full size."""
        count, self._count = self._count, self._count + 1
        if self._map is None or count % self.every == 0:
            fresh = self.depth.estimate(frame)
            self._map = fresh if self._map is None else (
                self.steadiness * self._map + (1 - self.steadiness) * fresh
            )
        elif self._far is not None and count % self.REFOCUS_EVERY and (
            self._far.shape == frame.shape[:2]
        ):
            return self._far
        height, width = frame.shape[:2]
        self._far = cv2.resize(self._relative(self._map, alpha), (width, height),
                               interpolation=cv2.INTER_LINEAR)
        return self._far

    def _relative(self, depth: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        person = cv2.resize(alpha, (depth.shape[1], depth.shape[0]),
                            interpolation=cv2.INTER_AREA) > 0.5
        focus = float(np.median(depth[person])) if person.any() else float(depth.max())
        spread = max(float(np.percentile(depth, 95) - np.percentile(depth, 5)), 1e-3)
        # Only what is behind the person blurs more: what is nearer (a desk, the floor at their
        # feet) stays sharp. A real lens would blur the near side too, but a depth net
        # this small mostly sees a floor-to-horizon gradient, and the person's feet stand on it.
        return np.clip((focus - depth) / (0.5 * spread), 0.0, 1.0).astype(np.float32)

    def background(self, frame: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        far = self.distance(frame, alpha)
        full = self._full.background(frame, alpha)
        return cv2.blendLinear(full, frame, far, 1.0 - far)
