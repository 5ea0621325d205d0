"""Loading a model: a `ModelRequest` in, a `Segmenter` out.

`load` is the one way in. It decides what the request names (`auto`, a catalogue model, or a
user's own file) and hands the file to the runtime that runs it: MediaPipe's selfie models
(`mediapipe_selfie.py`), the spec-driven LiteRT and ONNX Runtime backends (`backends.py`), or
RVM-style recurrent matting (`recurrent.py`). The catalogue says what a model is
(`catalogue.py`), the store where its file is (`store.py`); this module only connects them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from greenroom.errors import InputError
from greenroom.extras import require_extra
from greenroom.segmentation.base import Segmenter, default_threads
from greenroom.segmentation.catalogue import MODELS, ModelInfo, resolve_name
from greenroom.segmentation.request import ModelRequest
from greenroom.segmentation.store import builtin_model_path, ensure_model

#: Names accepted by `load` and the CLI's `--model` (a model file's path works too).
MODEL_NAMES: tuple[str, ...] = ("auto", *MODELS)
MODEL_SUFFIXES = (".tflite", ".onnx")


def looks_like_path(name: str) -> bool:
    """A `--model` value meant as a file rather than a catalogue name."""
    return name.lower().endswith(MODEL_SUFFIXES) or os.sep in name or "/" in name


def load(
    request: ModelRequest, *, progress: Callable[[int, int | None], None] | None = None
) -> Segmenter:
    """Load the segmentation model `request` asks for (downloading a catalogue model once)."""
    from greenroom.segmentation.backends import require_cpu_only
    from greenroom.segmentation.mediapipe_selfie import AutoSelfieSegmenter

    name = request.name
    key = resolve_name(name)
    if key == "auto":
        require_cpu_only(request.providers, "auto (MediaPipe selfie segmentation)")
        return AutoSelfieSegmenter(request.num_threads)
    if key in MODELS:
        return load_entry(MODELS[key], request, progress=progress)
    if looks_like_path(name) or Path(name).expanduser().is_file():
        return load_file(request)
    raise InputError(
        f"model {name!r}",
        f"unknown model; choose from {', '.join(MODEL_NAMES)}, or give a .tflite/.onnx file",
    )


def load_entry(
    info: ModelInfo,
    request: ModelRequest,
    *,
    progress: Callable[[int, int | None], None] | None = None,
) -> Segmenter:
    """Load one catalogue entry with the request's threads, folder, providers and download."""
    from greenroom.segmentation.backends import (
        OnnxSegmenter,
        TFLiteSegmenter,
        require_cpu_only,
    )

    threads = request.num_threads or default_threads(info.speed)
    providers = request.providers
    if info.builtin and info.spec is None:
        from greenroom.segmentation.mediapipe_selfie import MediaPipeSelfieSegmenter

        require_cpu_only(providers, info.name)
        return MediaPipeSelfieSegmenter(info.name.removeprefix("selfie-"), threads)
    if info.backend == "onnx":  # say so before fetching a file that could not run
        require_extra("onnx", f"model {info.name}", ("onnxruntime",))
    if info.builtin:  # shipped in weights/ and run by its spec
        path = builtin_model_path(info.filename)
    else:
        path = ensure_model(info, request.models_dir, download=request.download,
                            progress=progress)
    if info.recurrent:
        from greenroom.segmentation.recurrent import RecurrentMattingSegmenter

        return RecurrentMattingSegmenter(path, threads, providers, name=info.name)
    assert info.spec is not None
    if info.backend == "onnx":
        return OnnxSegmenter(info.name, path, info.spec, threads, providers)
    require_cpu_only(providers, info.name)
    return TFLiteSegmenter(info.name, path, info.spec, threads)


def load_file(request: ModelRequest) -> Segmenter:
    """Load a user's own `.tflite`/`.onnx` file (`request.name`), described by `<stem>.toml`.

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

    path = Path(request.name).expanduser()
    threads, providers = request.num_threads, request.providers
    if path.suffix.lower() not in MODEL_SUFFIXES:
        raise InputError(path, "a model file must be .tflite or .onnx")
    if not path.is_file():
        raise InputError(path, "model file not found")
    settings = read_sidecar(path)
    name = str(settings.get("name") or path.stem)
    if path.suffix.lower() == ".onnx":
        session = onnx_session(path, threads, providers)
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
    return TFLiteSegmenter(name, path, spec, threads)
