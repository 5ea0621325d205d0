"""Recurrent matting models (Robust Video Matting and its ONNX signature) as a `Segmenter`.

An RVM-style ONNX model takes the frame `src` (1x3xHxW RGB in [0, 1]), four recurrent states
`r1i`..`r4i` and a `downsample_ratio`, and returns `fgr`, `pha` (the alpha matte) and the next
states `r1o`..`r4o`. The segmenter feeds each frame's output states into the next frame, which is
what makes these models temporally stable, and starts from zero states:

- on `reset()` (a scene cut or a seek: `Processor.reset` calls it),
- whenever the input size changes (states are tied to the spatial size).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from greenroom.errors import GreenroomError
from greenroom.frames import yuv_to_rgb
from greenroom.segmentation.backends import onnx_session
from greenroom.segmentation.base import ChannelOrder, Segmenter, check_frame

STATE_INPUTS = ("r1i", "r2i", "r3i", "r4i")
STATE_OUTPUTS = ("r1o", "r2o", "r3o", "r4o")
_NUMPY_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16}


def is_recurrent_signature(input_names: Sequence[str], output_names: Sequence[str]) -> bool:
    """True for a model with RVM's inputs (src, r1i..r4i, downsample_ratio) and outputs."""
    inputs, outputs = set(input_names), set(output_names)
    return (
        {"src", "downsample_ratio", *STATE_INPUTS} <= inputs
        and {"pha", *STATE_OUTPUTS} <= outputs
    )


class RecurrentMattingSegmenter(Segmenter):
    """An RVM-style recurrent matting model; the state is carried from frame to frame.

    `max_side`: frames are scaled down (never up) so their longest side is at most this many
    pixels, keeping the aspect ratio; the mask comes back at that size. `downsample_ratio`:
    RVM's own internal downscale; by default chosen so the network core sees about 256 pixels
    on the longest side (RVM's recommendation for head-and-shoulders video).
    """

    stateful = True

    def __init__(
        self,
        path: str | Path,
        num_threads: int | None = None,
        providers: str | Sequence[str] | None = None,
        *,
        name: str | None = None,
        max_side: int = 512,
        downsample_ratio: float | None = None,
        session: Any = None,
    ) -> None:
        self.path = Path(path)
        self.name = name or self.path.stem
        if max_side < 16:
            raise GreenroomError(f"{self.path}: max_side must be at least 16, got {max_side}")
        if downsample_ratio is not None and not 0 < downsample_ratio <= 1:
            raise GreenroomError(
                f"{self.path}: downsample_ratio must be in (0, 1], got {downsample_ratio}"
            )
        self.max_side = int(max_side)
        self.downsample_ratio = downsample_ratio
        self._session = session or onnx_session(self.path, num_threads, providers)
        inputs = {i.name: i for i in self._session.get_inputs()}
        outputs = [o.name for o in self._session.get_outputs()]
        if not is_recurrent_signature(list(inputs), outputs):
            raise GreenroomError(
                f"{self.path}: not a recurrent matting model (needs inputs src, r1i..r4i, "
                "downsample_ratio and outputs pha, r1o..r4o)"
            )
        self._dtype = _NUMPY_TYPES.get(inputs["src"].type, np.float32)
        self._state_dtype = _NUMPY_TYPES.get(inputs["r1i"].type, np.float32)
        self._ratio_dtype = _NUMPY_TYPES.get(inputs["downsample_ratio"].type, np.float32)
        self._outputs = ["pha", *STATE_OUTPUTS]
        self._state: list[np.ndarray] | None = None
        self._size: tuple[int, int] | None = None

    def reset(self) -> None:
        """Forget the recurrent state: the next frame starts afresh."""
        self._state = None

    def _input_size(self, width: int, height: int) -> tuple[int, int]:
        scale = min(1.0, self.max_side / max(width, height))
        return max(1, round(width * scale)), max(1, round(height * scale))

    def ratio_for(self, size: tuple[int, int]) -> float:
        """RVM's `downsample_ratio` for an input of `size` = (width, height).

        The fixed ratio if one was given; otherwise the one that makes the network core see
        about 256 pixels on the longer side (0.5 for the 512x288 input of a 720p frame).
        """
        return self.downsample_ratio or min(1.0, 256.0 / max(size))

    def segment(self, frame: np.ndarray, order: ChannelOrder = "rgb") -> np.ndarray:
        check_frame(frame)
        size = self._input_size(frame.shape[1], frame.shape[0])
        if size != self._size:  # the states have the previous size's shape
            self._size = size
            self._state = None
        small = frame if size == frame.shape[1::-1] else cv2.resize(
            frame, size, interpolation=cv2.INTER_AREA
        )
        if order == "bgr":
            small = small[:, :, ::-1]
        elif order == "yuv":  # converted at the model's size
            small = yuv_to_rgb(small)
        src = (small.transpose(2, 0, 1)[None].astype(np.float32) / np.float32(255)).astype(
            self._dtype, copy=False
        )
        if self._state is None:
            zero = np.zeros((1, 1, 1, 1), self._state_dtype)
            self._state = [zero] * len(STATE_INPUTS)
        ratio = self.ratio_for(size)
        feed: dict[str, Any] = {"src": src, **dict(zip(STATE_INPUTS, self._state, strict=True))}
        feed["downsample_ratio"] = np.array([ratio], self._ratio_dtype)
        pha, *state = self._session.run(self._outputs, feed)
        self._state = list(state)
        mask = np.asarray(pha, np.float32).reshape(pha.shape[-2:])
        return np.clip(mask, 0.0, 1.0)

    def close(self) -> None:
        self._session = None
        self._state = None
