"""Segmentation models: a frame in, a soft person mask out (see `base.Segmenter`)."""

from __future__ import annotations

from greenroom.errors import InputError
from greenroom.segmentation.base import ChannelOrder, Segmenter, mask_to_frame
from greenroom.segmentation.mediapipe_selfie import (
    VARIANTS,
    AutoSelfieSegmenter,
    MediaPipeSelfieSegmenter,
)

#: Names accepted by `load_segmenter` and the CLI's `--model`.
MODEL_NAMES = ("auto", "selfie-general", "selfie-landscape")
_ALIASES = {"general": "selfie-general", "landscape": "selfie-landscape"}


def load_segmenter(name: str = "auto", num_threads: int | None = None) -> Segmenter:
    """Load a segmentation model by name; `auto` picks MediaPipe's model by the frame's shape."""
    key = _ALIASES.get(name, name)
    if key == "auto":
        return AutoSelfieSegmenter(num_threads)
    if key.startswith("selfie-") and key.removeprefix("selfie-") in VARIANTS:
        return MediaPipeSelfieSegmenter(key.removeprefix("selfie-"), num_threads)
    raise InputError(f"model {name!r}", f"unknown model; choose from {', '.join(MODEL_NAMES)}")


__all__ = [
    "MODEL_NAMES",
    "AutoSelfieSegmenter",
    "ChannelOrder",
    "MediaPipeSelfieSegmenter",
    "Segmenter",
    "load_segmenter",
    "mask_to_frame",
]
