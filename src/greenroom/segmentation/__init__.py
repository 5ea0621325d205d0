"""Segmentation models: a frame in, a soft person mask out (see `base.Segmenter`).

`load_segmenter` takes `auto` (the default: MediaPipe's landscape or general model by the frame's
shape), any name of the model zoo (`registry.MODELS`), or the path of a user's own `.tflite` or
`.onnx` file, described by a sidecar TOML next to it (`specs.SIDECAR_KEYS`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from greenroom.errors import InputError
from greenroom.segmentation import registry
from greenroom.segmentation.base import ChannelOrder, Segmenter, mask_to_frame
from greenroom.segmentation.mediapipe_selfie import (
    VARIANTS,
    AutoSelfieSegmenter,
    MediaPipeSelfieSegmenter,
)

#: Names accepted by `load_segmenter` and the CLI's `--model` (a model file's path works too).
MODEL_NAMES: tuple[str, ...] = ("auto", *registry.MODELS)
MODEL_SUFFIXES = (".tflite", ".onnx")

def looks_like_path(name: str) -> bool:
    """A `--model` value meant as a file rather than a registry name."""
    return name.lower().endswith(MODEL_SUFFIXES) or os.sep in name or "/" in name


def load_model_file(
    path: str | os.PathLike[str],
    num_threads: int | None = None,
    providers: str | Sequence[str] | None = None,
) -> Segmenter:
    """Load a user's own `.tflite`/`.onnx` file, described by `<same stem>.toml` if present.

    Without a sidecar the input size and layout come from the model's input shape, the input is
    RGB in [0, 1], and the output is read as a probability (one channel) or softmaxed with
    person = channel 1 (two channels). An ONNX file with RVM's signature (src, r1i..r4i,
    downsample_ratio -> pha, r1o..r4o) becomes a recurrent matting segmenter.
    """
    from greenroom.segmentation.backends import (
        OnnxSegmenter,
        TFLiteSegmenter,
        onnx_session,
        require_cpu_only,
    )
    from greenroom.segmentation.recurrent import (
        RecurrentMattingSegmenter,
        is_recurrent_signature,
    )
    from greenroom.segmentation.specs import read_sidecar, spec_from_settings

    path = Path(path).expanduser()
    if path.suffix.lower() not in MODEL_SUFFIXES:
        raise InputError(path, "a model file must be .tflite or .onnx")
    if not path.is_file():
        raise InputError(path, "model file not found")
    settings = read_sidecar(path)
    name = str(settings.get("name") or path.stem)
    if path.suffix.lower() == ".onnx":
        session = onnx_session(path, num_threads, providers)
        inputs, outputs = session.get_inputs(), session.get_outputs()
        if is_recurrent_signature([i.name for i in inputs], [o.name for o in outputs]):
            return RecurrentMattingSegmenter(
                path,
                name=name,
                max_side=int(settings.get("max_side", 512)),
                downsample_ratio=settings.get("downsample_ratio"),
                session=session,
            )
        index = min(int(settings.get("output_index", 0)), len(outputs) - 1)
        spec = spec_from_settings(
            settings, tuple(inputs[0].shape), tuple(outputs[index].shape), path
        )
        return OnnxSegmenter(name, path, spec, session=session)
    require_cpu_only(providers, str(path))
    in_shape, out_shape = TFLiteSegmenter.shapes(path, int(settings.get("output_index", 0)))
    spec = spec_from_settings(settings, in_shape, out_shape, path)
    return TFLiteSegmenter(name, path, spec, num_threads)


def load_segmenter(
    name: str = "auto",
    num_threads: int | None = None,
    models_dir: str | os.PathLike[str] | None = None,
    providers: str | Sequence[str] | None = None,
) -> Segmenter:
    """Load a segmentation model: `auto`, a registry name, or a path to a model file.

    `models_dir`: where registry models are found or downloaded to (default:
    `$GREENROOM_MODELS`, then the platform cache folder). `providers`: ONNX Runtime execution
    providers for `.onnx` models, e.g. `"cuda"` or `["tensorrt", "cuda"]` (default: CPU).
    """
    from greenroom.segmentation.backends import require_cpu_only

    key = registry.resolve_name(name)
    if key == "auto":
        require_cpu_only(providers, "auto (MediaPipe selfie segmentation)")
        return AutoSelfieSegmenter(num_threads)
    if key in registry.MODELS:
        return registry.load(
            registry.MODELS[key], num_threads, directory=models_dir, providers=providers
        )
    if looks_like_path(name) or Path(name).expanduser().is_file():
        return load_model_file(name, num_threads, providers)
    raise InputError(
        f"model {name!r}",
        f"unknown model; choose from {', '.join(MODEL_NAMES)}, or give a .tflite/.onnx file",
    )


__all__ = [
    "MODEL_NAMES",
    "VARIANTS",
    "AutoSelfieSegmenter",
    "ChannelOrder",
    "MediaPipeSelfieSegmenter",
    "Segmenter",
    "load_model_file",
    "load_segmenter",
    "mask_to_frame",
]
