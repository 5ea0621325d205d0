"""MediaPipe's selfie segmentation models, run with LiteRT (ai-edge-litert).

The two model files (Apache-2.0, 250 KB each) ship inside greenroom's own package, in
`segmentation/weights/` (their origin and sha256 in the NOTICE there), so the default model needs
no download and no mediapipe install. We run them with ai-edge-litert rather than through
MediaPipe's graph API: it is the same TFLite model and XNNPACK kernels, without MediaPipe's graph
overhead, and it lets us control threads and reuse buffers (and load the graph through
`litert.load_interpreter`, whose exact rewrite of the last layer makes each invoke faster).
Preprocessing reproduces MediaPipe's `ImageToTensorCalculator` exactly (OpenCV 4's bilinear
perspective warp of the whole frame, values scaled to [0, 1]), whatever OpenCV is installed;
`tests/test_segmentation.py` proves the mask matches the output of mediapipe 0.10.21's
`solutions.selfie_segmentation`, stored once by
`tests/data/make_mediapipe_reference.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from greenroom.frames import BYTE_TO_UNIT, yuv_to_rgb
from greenroom.segmentation.base import ChannelOrder, Segmenter, check_frame, default_threads
from greenroom.segmentation.catalogue import MODELS
from greenroom.segmentation.litert import load_interpreter
from greenroom.segmentation.native_log import quiet_native_info
from greenroom.segmentation.store import builtin_model_path


@dataclass(frozen=True)
class SelfieVariant:
    """A built-in model with MediaPipe's selfie graph (its two, and greenroom's fine-tuned one):
    its file in `weights/`, its input size and its catalogue name."""

    name: str
    filename: str
    height: int
    width: int
    model: str


#: The built-in models of the catalogue run with MediaPipe's preprocessing (`selfie-general`,
#: `selfie-landscape`: those with `input` rather than a spec) by variant name (the catalogue
#: name without "selfie-").
VARIANTS: dict[str, SelfieVariant] = {
    info.name.removeprefix("selfie-"): SelfieVariant(
        info.name.removeprefix("selfie-"), info.filename, info.input_size[1], info.input_size[0],
        info.name,
    )
    for info in MODELS.values()
    if info.builtin and info.input_size is not None
}


#: OpenCV 4's fixed-point sampling: positions in 1/32 pixel (`INTER_BITS` = 5).
INTER_BITS = 5


def perspective_maps(matrix: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """`cv2.remap` maps that sample exactly as OpenCV 4's `warpPerspective(matrix)` does.

    MediaPipe 0.10.21 resizes its input with OpenCV 4's `warpPerspective`. OpenCV 5 samples
    differently (pixels move by up to 3 grey levels, the selfie mask by up to 0.2), while
    `remap` with fixed-point maps is the same in both: so we build the maps OpenCV 4 built
    inside `warpPerspective` (inverse matrix by LU, source positions in double precision rounded
    half-to-even to 1/32 pixel, the fraction as an index into the bilinear weight table) and let
    `remap` sample. `cv2.resize` and `warpAffine` round differently again (mask edges move by up
    to 0.13 for scales like 256/487).
    """
    width, height = size
    inverse = cv2.invert(np.asarray(matrix, np.float64), flags=cv2.DECOMP_LU)[1]
    x = np.arange(width, dtype=np.float64)[None, :]
    y = np.arange(height, dtype=np.float64)[:, None]
    w = inverse[2, 0] * x + (inverse[2, 1] * y + inverse[2, 2])
    scale = np.divide(1 << INTER_BITS, w, out=np.zeros_like(w), where=w != 0)
    limits = (float(np.iinfo(np.int32).min), float(np.iinfo(np.int32).max))
    fixed = []
    for row in (0, 1):
        position = (inverse[row, 0] * x + (inverse[row, 1] * y + inverse[row, 2])) * scale
        fixed.append(np.rint(np.clip(position, *limits)).astype(np.int64))
    fx, fy = fixed
    coarse = np.stack([fx >> INTER_BITS, fy >> INTER_BITS], axis=-1)
    coarse = np.clip(coarse, -32768, 32767).astype(np.int16)
    mask = (1 << INTER_BITS) - 1
    fraction = ((fy & mask) << INTER_BITS) + (fx & mask)
    return coarse, fraction.astype(np.uint16)


class MediaPipeSelfieSegmenter(Segmenter):
    """MediaPipe selfie segmentation (general 256x256 or landscape 144x256) on LiteRT."""

    def __init__(self, variant: str = "general", num_threads: int | None = None) -> None:
        if variant not in VARIANTS:
            raise ValueError(f"unknown selfie model {variant!r}; choose from {sorted(VARIANTS)}")
        self.variant = VARIANTS[variant]
        self.name = self.variant.model
        self.path = builtin_model_path(self.variant.filename)
        with quiet_native_info():
            self._interpreter = load_interpreter(
                self.path, num_threads or default_threads("fast")
            )
        self._input_index = self._interpreter.get_input_details()[0]["index"]
        self._output_index = self._interpreter.get_output_details()[0]["index"]
        self._remaps: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}

    @property
    def input_size(self) -> tuple[int, int]:
        """(width, height) of the model input."""
        return self.variant.width, self.variant.height

    def _maps(self, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
        """Fixed-point sampling maps of MediaPipe's projection, cached per frame size."""
        maps = self._remaps.get((width, height))
        if maps is None:
            w, h = self.variant.width, self.variant.height
            corners = np.float32([[0, height], [0, 0], [width, 0], [width, height]])
            matrix = cv2.getPerspectiveTransform(
                corners, np.float32([[0, h], [0, 0], [w, 0], [w, h]])
            )
            maps = perspective_maps(matrix, (w, h))
            self._remaps[(width, height)] = maps
        return maps

    def segment(self, frame: np.ndarray, order: ChannelOrder = "rgb") -> np.ndarray:
        check_frame(frame)
        height, width = frame.shape[:2]
        # Exactly MediaPipe's ImageToTensorCalculator: a perspective warp of the frame's corners,
        # sampled as OpenCV 4's warpPerspective samples (see `perspective_maps`).
        small = cv2.remap(
            frame, *self._maps(width, height), cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
        )
        if order == "bgr":
            small = cv2.cvtColor(small, cv2.COLOR_BGR2RGB)
        elif order == "yuv":  # converted at the model's size: a fraction of the frame's cost
            small = yuv_to_rgb(small)
        # Written straight into the interpreter's input buffer (no set_tensor copy); the view
        # must be gone before invoke, which refuses to run while one is held.
        tensor = self._interpreter.tensor(self._input_index)()
        cv2.LUT(small, BYTE_TO_UNIT, dst=tensor[0])  # x / 255 in float32, as a table
        del tensor
        self._interpreter.invoke()
        return self._interpreter.get_tensor(self._output_index)[0, :, :, 0]  # a copy already

    def close(self) -> None:
        self._interpreter = None


class AutoSelfieSegmenter(Segmenter):
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
