"""Low-light enhancement: a learned enhancer at low resolution, applied as a smooth gain map.

A dim webcam or clip is brightened by a small learned model (semantic-guided low-light
enhancement by default, or Zero-DCE++), but the model never touches the full frame: it runs
on a 180-pixel-tall copy, the ratio of its output's brightness to its input's becomes a gain
map, the map is blurred (so it carries light, not texture) and smoothed over time (so the
picture does not pump when someone moves), and the full frame is multiplied by it. Detail and
noise stay the camera's own, and the cost is one small model run every few frames plus one
multiply per frame.

Runs before segmentation, so the person model also sees the brighter picture.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator

import cv2
import numpy as np

from greenroom.aux_models import AUX_MODELS
from greenroom.errors import GreenroomError
from greenroom.frames import Frame

#: How each enhancer's output is read: divide by this to get [0, 1]; HxWx3 instead of 1x3xHxW.
OUTPUT_LAYOUT: dict[str, tuple[float, bool]] = {
    "semantic-guided-llie": (1.0, False),
    "zero-dce": (255.0, True),
}
DEFAULT_ENHANCER = "semantic-guided-llie"


class LowLightEnhancer:
    """Brightens frames by a gain map from a learned enhancer, steady over time.

    `strength` 0..1 blends between the camera's picture (0) and the full gain (1). The model
    runs on every `every`-th frame; every frame moves the shown gain `1 - steadiness` of the
    way towards the newest map, so brightness changes take about a second and never step.
    """

    #: The gain map is applied in fixed point: this many steps per unit of gain (uint8).
    FIXED_ONE = 64
    MAX_GAIN = 255 / FIXED_ONE
    #: Mean brightness (0..1) the gain may lift a picture to; a well-lit room is above it.
    TARGET_MEAN = 0.42

    def __init__(
        self,
        model_path: str | os.PathLike[str],
        model: str = DEFAULT_ENHANCER,
        *,
        strength: float = 1.0,
        every: int = 10,
        steadiness: float = 0.93,
        num_threads: int = 1,
    ) -> None:
        if not 0.0 <= strength <= 1.0:
            raise ValueError(f"low-light strength must be between 0 and 1, got {strength}")
        from greenroom.segmentation.backends import onnx_session

        if AUX_MODELS.get(model) is None or AUX_MODELS[model].kind != "low-light":
            raise GreenroomError(f"{model!r} is not a low-light model")
        self.model = AUX_MODELS[model]
        self._scale, self._channels_last = OUTPUT_LAYOUT[model]
        self.strength = strength
        self.every = max(1, every)
        self.steadiness = steadiness
        self._session = onnx_session(model_path, num_threads)
        self._input = self._session.get_inputs()[0].name
        self._gain: np.ndarray | None = None  # the gain shown, low resolution, HxW float32
        self._target: np.ndarray | None = None  # the newest map the model asked for
        self._count = 0

    def reset(self) -> None:
        self._gain = self._target = None
        self._count = 0

    def gain_map(self, frame: np.ndarray) -> np.ndarray:
        """The brightness gain the model asks for at low resolution (blurred, clamped)."""
        m = self.model
        small = cv2.resize(frame, (m.width, m.height), interpolation=cv2.INTER_AREA)
        tensor = (small.astype(np.float32) / 255.0).transpose(2, 0, 1)[None]
        out = self._session.run(None, {self._input: np.ascontiguousarray(tensor)})[0]
        enhanced = out if self._channels_last else out[0].transpose(1, 2, 0)
        enhanced = np.nan_to_num(enhanced.astype(np.float32) / self._scale)
        before = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
        after = cv2.cvtColor(np.clip(enhanced, 0, 1), cv2.COLOR_RGB2GRAY)
        gain = (after + 0.02) / (before + 0.02)
        gain = np.minimum(gain, 0.95 / (before + 0.02))  # no highlight pushed into white
        gain = cv2.GaussianBlur(gain, (0, 0), sigmaX=m.height / 18)  # light, not texture
        gain = np.clip(gain, 1.0, self.MAX_GAIN)
        # Only what is dim: the enhancer would brighten a well-lit picture too, so the gain is
        # scaled back until the picture's mean brightness is at most TARGET_MEAN.
        now, predicted = float(before.mean()), float((before * gain).mean())
        if predicted > self.TARGET_MEAN and predicted > now:
            share = max(0.0, (self.TARGET_MEAN - now) / (predicted - now))
            gain = 1.0 + share * (gain - 1.0)
        return gain

    def apply(self, frame: np.ndarray) -> np.ndarray:
        """The brightened RGB uint8 frame."""
        if self.strength == 0:
            return frame
        if self._target is None or self._count % self.every == 0:
            self._target = self.gain_map(frame)
            if self._gain is None:
                self._gain = self._target
        self._count += 1
        # Every frame moves the shown gain a little towards the newest map, so a new map
        # never shows as a step in brightness.
        self._gain = cv2.addWeighted(self._gain, self.steadiness, self._target,
                                     1.0 - self.steadiness, 0.0)
        gain = 1.0 + self.strength * (self._gain - 1.0)
        # In 1/64 steps as uint8: OpenCV's integer multiply is twice as fast as a float one.
        fixed = cv2.convertScaleAbs(gain, alpha=self.FIXED_ONE)
        full = cv2.resize(fixed, (frame.shape[1], frame.shape[0]), interpolation=cv2.INTER_LINEAR)
        return cv2.multiply(frame, cv2.merge([full, full, full]), scale=1.0 / self.FIXED_ONE)

    def frames(self, source: Iterable[Frame]) -> Iterator[Frame]:
        """`source`'s frames, each brightened (the model sees the brightened picture too)."""
        for item in source:
            item.image = self.apply(item.image)
            yield item
