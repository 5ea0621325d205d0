"""Generic backends: run any model file described by a `ModelSpec` behind the `Segmenter` API.

- `.tflite` files run on LiteRT (`ai_edge_litert`), whose default XNNPACK delegate also runs
  MediaPipe's custom `Convolution2DTransposeBias` op (the Meet models need it).
- `.onnx` files run on ONNX Runtime, on the CPU unless other execution providers are asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from greenroom.errors import GreenroomError
from greenroom.extras import require_extra
from greenroom.segmentation.base import ChannelOrder, Segmenter, check_frame, default_threads
from greenroom.segmentation.litert import load_interpreter
from greenroom.segmentation.native_log import quiet_native_info
from greenroom.segmentation.specs import ModelSpec, Preprocessor, decode_output

#: Short provider names accepted by `--provider` -> ONNX Runtime execution providers.
PROVIDERS: dict[str, str] = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
    "directml": "DmlExecutionProvider",
    "openvino": "OpenVINOExecutionProvider",
}
#: Which pip package brings each provider, for the error message.
_PROVIDER_PACKAGES = {
    "cuda": "onnxruntime-gpu",
    "tensorrt": "onnxruntime-gpu (with TensorRT installed)",
    "coreml": "onnxruntime (macOS build)",
    "directml": "onnxruntime-directml",
    "openvino": "onnxruntime-openvino",
}


def normalize_providers(providers: str | Sequence[str] | None) -> list[str] | None:
    """Short or full provider names (comma-separated or a list) -> short names; None = CPU."""
    if providers is None:
        return None
    items = providers.split(",") if isinstance(providers, str) else list(providers)
    full_to_short = {full.lower(): short for short, full in PROVIDERS.items()}
    names = []
    for item in items:
        key = item.strip().lower()
        if not key:
            continue
        key = full_to_short.get(key, key)
        if key not in PROVIDERS:
            raise GreenroomError(
                f"unknown execution provider {item.strip()!r}; choose from {', '.join(PROVIDERS)}"
            )
        if key not in names:
            names.append(key)
    return names or None


def onnx_providers(providers: str | Sequence[str] | None) -> list[str]:
    """ONNX Runtime provider list for the request, CPU last as the fallback.

    A provider that was asked for but is not available in the installed onnxruntime is an
    error (one line saying what to install), never a silent fall back to the CPU.
    """
    require_extra("onnx", "ONNX models", ("onnxruntime",))
    import onnxruntime

    wanted = normalize_providers(providers) or ["cpu"]
    available = set(onnxruntime.get_available_providers())
    chosen = []
    for short in wanted:
        full = PROVIDERS[short]
        if full not in available:
            package = _PROVIDER_PACKAGES.get(short, "a matching onnxruntime build")
            raise GreenroomError(
                f"execution provider {short!r} ({full}) is not available in this onnxruntime "
                f"(available: {', '.join(sorted(available))}); install {package}"
            )
        chosen.append(full)
    if PROVIDERS["cpu"] not in chosen:
        chosen.append(PROVIDERS["cpu"])
    return chosen


def require_cpu_only(providers: str | Sequence[str] | None, what: str) -> None:
    """TFLite models run on LiteRT's CPU delegate: asking for a GPU provider is an error."""
    others = [p for p in normalize_providers(providers) or [] if p != "cpu"]
    if others:
        raise GreenroomError(
            f"execution provider {others[0]!r} applies to ONNX models only; {what} is a TFLite "
            "model and runs on the CPU (choose an .onnx model, or leave out --provider)"
        )


class SpecSegmenter(Segmenter):
    """Shared `segment` for the backends: preprocess by spec, run, decode by spec."""

    name: str
    spec: ModelSpec
    path: Path

    def __init__(self, name: str, path: Path, spec: ModelSpec) -> None:
        self.name = name
        self.path = Path(path)
        self.spec = spec
        self._preprocess = Preprocessor(spec)

    @property
    def input_size(self) -> tuple[int, int]:
        """(width, height) of the model input."""
        return self.spec.input_size

    def _check_output_index(self, outputs: int) -> None:
        """A spec (or sidecar) naming an output the file does not have is the user's error."""
        if self.spec.output_index >= outputs:
            raise GreenroomError(
                f"{self.path}: output_index {self.spec.output_index} but the model has "
                f"{outputs} output(s)"
            )

    def _run(self, tensor: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def segment(self, frame: np.ndarray, order: ChannelOrder = "rgb") -> np.ndarray:
        check_frame(frame)
        return decode_output(self._run(self._preprocess(frame, order)), self.spec)


class TFLiteSegmenter(SpecSegmenter):
    """A `.tflite` model on LiteRT."""

    def __init__(
        self, name: str, path: str | Path, spec: ModelSpec, num_threads: int | None = None
    ) -> None:
        super().__init__(name, Path(path), spec)
        try:
            with quiet_native_info():
                self._interpreter = load_interpreter(
                    self.path, num_threads or default_threads()
                )
        except (ValueError, RuntimeError) as exc:
            raise GreenroomError(f"{self.path}: LiteRT cannot load this model: {exc}") from None
        inputs = self._interpreter.get_input_details()
        outputs = self._interpreter.get_output_details()
        self._check_output_index(len(outputs))
        self._input_index = inputs[0]["index"]
        self._output_index = outputs[spec.output_index]["index"]
        expected = tuple(int(d) for d in inputs[0]["shape"])
        given = (1, spec.height, spec.width, 3) if spec.layout == "nhwc" else (
            1, 3, spec.height, spec.width
        )
        if expected != given:
            raise GreenroomError(
                f"{self.path}: the model's input is {list(expected)} but its spec says "
                f"{list(given)}"
            )

    @staticmethod
    def shapes(path: str | Path, output_index: int = 0) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """(input shape, output shape) of a file, to fill a user model's spec."""
        from ai_edge_litert.interpreter import Interpreter

        with quiet_native_info():
            interpreter = Interpreter(model_path=str(path))
        outputs = interpreter.get_output_details()
        output = outputs[min(output_index, len(outputs) - 1)]
        return (
            tuple(int(d) for d in interpreter.get_input_details()[0]["shape"]),
            tuple(int(d) for d in output["shape"]),
        )

    def _run(self, tensor: np.ndarray) -> np.ndarray:
        self._interpreter.set_tensor(self._input_index, tensor)
        self._interpreter.invoke()
        return self._interpreter.get_tensor(self._output_index)

    def close(self) -> None:
        self._interpreter = None


def onnx_session(
    path: str | Path,
    num_threads: int | None = None,
    providers: str | Sequence[str] | None = None,
) -> Any:
    """An ONNX Runtime session with quiet logging and our thread count."""
    require_extra("onnx", f"the ONNX model {Path(path).name}", ("onnxruntime",))
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = num_threads or default_threads()
    options.inter_op_num_threads = 1
    # Warnings such as "initializer appears in graph inputs" (old exporters) are noise to users.
    options.log_severity_level = 3
    chosen = onnx_providers(providers)
    try:
        return onnxruntime.InferenceSession(str(path), sess_options=options, providers=chosen)
    except Exception as exc:  # onnxruntime raises its own exception classes
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise GreenroomError(f"{path}: ONNX Runtime cannot load this model: {message}") from None


class OnnxSegmenter(SpecSegmenter):
    """An `.onnx` model on ONNX Runtime."""

    def __init__(
        self,
        name: str,
        path: str | Path,
        spec: ModelSpec,
        num_threads: int | None = None,
        providers: str | Sequence[str] | None = None,
        *,
        session: Any = None,
    ) -> None:
        super().__init__(name, Path(path), spec)
        self._session = session or onnx_session(self.path, num_threads, providers)
        inputs = self._session.get_inputs()
        outputs = self._session.get_outputs()
        self._check_output_index(len(outputs))
        self._input_name = inputs[0].name
        self._output_name = outputs[spec.output_index].name
        given = [1, spec.height, spec.width, 3] if spec.layout == "nhwc" else [
            1, 3, spec.height, spec.width
        ]
        shape = list(inputs[0].shape)
        fixed = len(shape) == 4 and all(isinstance(d, int) and d > 0 for d in shape)
        if fixed and shape != given:
            raise GreenroomError(
                f"{self.path}: the model's input is {shape} but its spec says {given}"
            )
        if inputs[0].type == "tensor(float16)":
            self._preprocess = Preprocessor(spec, np.float16)

    @property
    def providers(self) -> list[str]:
        """The execution providers the session really uses."""
        return list(self._session.get_providers())

    def _run(self, tensor: np.ndarray) -> np.ndarray:
        return self._session.run([self._output_name], {self._input_name: tensor})[0]

    def close(self) -> None:
        self._session = None
