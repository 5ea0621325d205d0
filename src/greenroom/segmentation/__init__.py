"""Segmentation models: a frame in, a soft person mask out (see `base.Segmenter`).

A model is asked for with a `ModelRequest` (request.py) and loaded by `load` (loader.py): `auto`
(the default: MediaPipe's landscape or general model by the frame's shape), any name of the
model catalogue (`catalogue.toml`, read by catalogue.py), or the path of a user's own `.tflite`
or `.onnx` file, described by a sidecar TOML next to it (`specs.SIDECAR_KEYS`). Model files
live in the file store (store.py). `load_segmenter` and `load_model_file` are the same with
loose arguments.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from greenroom.segmentation import registry
from greenroom.segmentation.base import ChannelOrder, Segmenter, mask_to_frame
from greenroom.segmentation.loader import (
    MODEL_NAMES,
    MODEL_SUFFIXES,
    load,
    load_file,
    looks_like_path,
)
from greenroom.segmentation.mediapipe_selfie import (
    VARIANTS,
    AutoSelfieSegmenter,
    MediaPipeSelfieSegmenter,
)
from greenroom.segmentation.request import ModelRequest


def load_model_file(
    path: str | os.PathLike[str],
    num_threads: int | None = None,
    providers: str | Sequence[str] | None = None,
) -> Segmenter:
    """Load a user's own `.tflite`/`.onnx` file (see `loader.load_file`)."""
    return load_file(ModelRequest(path, num_threads, providers=providers))  # type: ignore[arg-type]


def load_segmenter(
    name: str = "auto",
    num_threads: int | None = None,
    models_dir: str | os.PathLike[str] | None = None,
    providers: str | Sequence[str] | None = None,
) -> Segmenter:
    """Load a segmentation model: `auto`, a catalogue name, or a path to a model file.

    `models_dir`: where catalogue models are found or downloaded to (default:
    `$GREENROOM_MODELS`, then the platform cache folder). `providers`: ONNX Runtime execution
    providers for `.onnx` models, e.g. `"cuda"` or `["tensorrt", "cuda"]` (default: CPU).
    The same as `load(ModelRequest(name, num_threads, models_dir, providers))`.
    """
    return load(ModelRequest(name, num_threads, models_dir, providers))  # type: ignore[arg-type]


__all__ = [
    "MODEL_NAMES",
    "MODEL_SUFFIXES",
    "VARIANTS",
    "AutoSelfieSegmenter",
    "ChannelOrder",
    "MediaPipeSelfieSegmenter",
    "ModelRequest",
    "Segmenter",
    "load",
    "load_model_file",
    "load_segmenter",
    "looks_like_path",
    "mask_to_frame",
    "registry",
]
