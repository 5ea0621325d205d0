"""MediaPipe's selfie segmentation models, run with LiteRT (ai-edge-litert).

The two models (Apache-2.0) ship inside the `mediapipe==0.10.21` wheel, so the default model comes
from PyPI and nothing is fetched at run time. We run them with ai-edge-litert rather than through
MediaPipe's graph API: it is the same TFLite model and XNNPACK kernels, without MediaPipe's graph
overhead, and it lets us control threads and reuse buffers. Preprocessing reproduces MediaPipe's
`ImageToTensorCalculator` exactly (bilinear `warpPerspective` of the whole frame, values scaled to
[0, 1]); `tests/test_segmentation.py` proves the mask matches MediaPipe's own
`mediapipe.solutions.selfie_segmentation` output.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from greenroom.errors import GreenroomError
from greenroom.segmentation.base import ChannelOrder, check_frame
from greenroom.segmentation.native_log import quiet_native_info

MEDIAPIPE_VERSION = "0.10.21"


@dataclass(frozen=True)
class SelfieVariant:
    """One of MediaPipe's two selfie models: its file inside the wheel and its input size."""

    name: str
    filename: str
    height: int
    width: int


VARIANTS: dict[str, SelfieVariant] = {
    "general": SelfieVariant("general", "selfie_segmentation.tflite", 256, 256),
    "landscape": SelfieVariant("landscape", "selfie_segmentation_landscape.tflite", 144, 256),
}


def mediapipe_model_path(filename: str) -> Path:
    """Find a model file inside the installed mediapipe package without importing mediapipe.

    Importing mediapipe pulls in its whole framework (and jax); we only need two files from it.
    """
    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        raise GreenroomError(
            "the default model needs the mediapipe package: "
            f"pip install mediapipe=={MEDIAPIPE_VERSION}"
        )
    for root in spec.submodule_search_locations:
        path = Path(root) / "modules" / "selfie_segmentation" / filename
        if path.is_file():
            return path
    raise GreenroomError(
        f"{filename} is not inside the installed mediapipe package; mediapipe {MEDIAPIPE_VERSION} "
        f"is the newest release that ships it: pip install mediapipe=={MEDIAPIPE_VERSION}"
    )


def default_threads() -> int:
    """Two inference threads: enough for the small models, and leaves cores for decode/encode."""
    return max(1, min(2, os.cpu_count() or 1))


class MediaPipeSelfieSegmenter:
    """MediaPipe selfie segmentation (general 256x256 or landscape 144x256) on LiteRT."""

    def __init__(self, variant: str = "general", num_threads: int | None = None) -> None:
        if variant not in VARIANTS:
            raise ValueError(f"unknown selfie model {variant!r}; choose from {sorted(VARIANTS)}")
        from ai_edge_litert.interpreter import Interpreter

        self.variant = VARIANTS[variant]
        self.name = f"selfie-{variant}"
        self.path = mediapipe_model_path(self.variant.filename)
        with quiet_native_info():
            self._interpreter = Interpreter(
                model_path=str(self.path), num_threads=num_threads or default_threads()
            )
            self._interpreter.allocate_tensors()
        self._input_index = self._interpreter.get_input_details()[0]["index"]
        self._output_index = self._interpreter.get_output_details()[0]["index"]
        # Reused every frame: the float input tensor is the only sizeable allocation.
        self._tensor = np.empty((1, self.variant.height, self.variant.width, 3), np.float32)
        self._matrices: dict[tuple[int, int], np.ndarray] = {}

    @property
    def input_size(self) -> tuple[int, int]:
        """(width, height) of the model input."""
        return self.variant.width, self.variant.height

    def _matrix(self, width: int, height: int) -> np.ndarray:
        """MediaPipe's frame-corners-to-tensor-corners projection, cached per frame size."""
        matrix = self._matrices.get((width, height))
        if matrix is None:
            w, h = self.variant.width, self.variant.height
            corners = np.float32([[0, height], [0, 0], [width, 0], [width, height]])
            matrix = cv2.getPerspectiveTransform(
                corners, np.float32([[0, h], [0, 0], [w, 0], [w, h]])
            )
            self._matrices[(width, height)] = matrix
        return matrix

    def segment(self, frame: np.ndarray, order: ChannelOrder = "rgb") -> np.ndarray:
        check_frame(frame)
        height, width = frame.shape[:2]
        # Exactly MediaPipe's ImageToTensorCalculator: a perspective warp of the frame's corners.
        # cv2.resize samples a shifted grid (mask values change by up to 0.8), and even
        # warpAffine with the same matrix rounds its fixed-point sample positions differently
        # for scales like 256/487, moving pixels by a grey level and mask edges by up to 0.13.
        small = cv2.warpPerspective(
            frame,
            self._matrix(width, height),
            self.input_size,
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
        )
        if order == "bgr":
            small = cv2.cvtColor(small, cv2.COLOR_BGR2RGB)
        np.multiply(small, np.float32(1.0 / 255.0), out=self._tensor[0], casting="unsafe")
        self._interpreter.set_tensor(self._input_index, self._tensor)
        self._interpreter.invoke()
        return self._interpreter.get_tensor(self._output_index)[0, :, :, 0].copy()

    def close(self) -> None:
        self._interpreter = None


class AutoSelfieSegmenter:
    """Chooses the landscape model for wide frames and the general one otherwise.

    The landscape model's 144x256 input matches 16:9 video without squashing the person; for
    portrait and square photos the general model's 256x256 input keeps more detail.
    """

    LANDSCAPE_MIN_ASPECT = 1.5

    def __init__(self, num_threads: int | None = None) -> None:
        self._num_threads = num_threads
        self._models: dict[str, MediaPipeSelfieSegmenter] = {}
        self.name = "auto"

    def choose(self, width: int, height: int) -> str:
        return "landscape" if width / height >= self.LANDSCAPE_MIN_ASPECT else "general"

    def model_for(self, width: int, height: int) -> MediaPipeSelfieSegmenter:
        variant = self.choose(width, height)
        if variant not in self._models:
            self._models[variant] = MediaPipeSelfieSegmenter(variant, self._num_threads)
        return self._models[variant]

    def segment(self, frame: np.ndarray, order: ChannelOrder = "rgb") -> np.ndarray:
        check_frame(frame)
        return self.model_for(frame.shape[1], frame.shape[0]).segment(frame, order)

    def close(self) -> None:
        for model in self._models.values():
            model.close()
        self._models.clear()
