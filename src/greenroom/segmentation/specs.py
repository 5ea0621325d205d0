"""How a model wants its input and what its output means, declared in one place.

A `ModelSpec` is all the generic backends need to run a segmentation model: the input size,
the tensor layout, channel order, normalisation and resize method, and how to turn the output
tensor into a person probability. Every registry model has one (see `registry.py`); a user's own
file gets one from a sidecar TOML next to it (`spec_from_toml`).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np

from greenroom.errors import InputError
from greenroom.frames import yuv_to_rgb
from greenroom.segmentation.base import ChannelOrder

Layout = Literal["nhwc", "nchw"]
Resize = Literal["bilinear", "area"]
Decode = Literal["sigmoid", "probability", "softmax", "argmax"]

#: Named normalisations: (mean, std) in pixel units, applied as (pixel - mean) / std.
NORMALIZATIONS: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "unit": ((0.0, 0.0, 0.0), (255.0, 255.0, 255.0)),  # [0, 1]
    "signed": ((127.5, 127.5, 127.5), (127.5, 127.5, 127.5)),  # [-1, 1]
    "imagenet": ((123.675, 116.28, 103.53), (58.395, 57.12, 57.375)),  # torchvision, RGB
    "none": ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0)),  # 0..255 floats
}
DECODES: tuple[str, ...] = ("sigmoid", "probability", "softmax", "argmax")
_INTERPOLATION = {"bilinear": cv2.INTER_LINEAR, "area": cv2.INTER_AREA}


@dataclass(frozen=True)
class ModelSpec:
    """Input and output conventions of one segmentation model.

    - `width`, `height`: the input tensor's spatial size; frames are stretched to it (the mask
      is stretched back by `mask_to_frame`, so the person keeps their place).
    - `layout`: `nhwc` (TFLite, tf2onnx) or `nchw` (PyTorch exports), for input and output.
    - `channels`: the order the model expects, `rgb` or `bgr`.
    - `mean`, `std`: per channel *in the model's channel order*, in pixel units (0..255): the
      tensor is (pixel - mean) / std. See `NORMALIZATIONS` for the usual ones.
    - `resize`: `bilinear` or `area` (cv2.resize).
    - `decode`: how the output becomes a probability: `sigmoid` (logits, 1 channel or
      `person_channel`), `probability` (already in [0, 1]), `softmax` (over the channel axis,
      then `person_channel`: 1 for the 2-channel Meet/SINet models, 15 for PASCAL VOC's person),
      `argmax` (hard mask: person where `person_channel` is the largest class).
    - `output_index`: which of the model's outputs holds the mask.
    - `keep_aspect`: for models with a free input size (MODNet): instead of stretching every
      frame to `width` x `height`, the frame keeps its shape, its longer side becomes
      max(`width`, `height`), and both sides are rounded to a multiple of `multiple` (the
      network's total stride). A portrait stays a portrait and a 16:9 frame stays 16:9.
    """

    width: int
    height: int
    layout: Layout = "nhwc"
    channels: ChannelOrder = "rgb"
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (255.0, 255.0, 255.0)
    resize: Resize = "bilinear"
    decode: Decode = "probability"
    person_channel: int = 0
    output_index: int = 0
    keep_aspect: bool = False
    multiple: int = 1
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if self.width < 1 or self.height < 1:
            raise ValueError(f"input size must be positive, got {self.width}x{self.height}")
        if self.layout not in ("nhwc", "nchw"):
            raise ValueError(f"layout must be nhwc or nchw, got {self.layout!r}")
        if self.channels not in ("rgb", "bgr"):
            raise ValueError(f"channels must be rgb or bgr, got {self.channels!r}")
        if self.resize not in _INTERPOLATION:
            raise ValueError(f"resize must be bilinear or area, got {self.resize!r}")
        if self.decode not in DECODES:
            raise ValueError(f"decode must be one of {', '.join(DECODES)}, got {self.decode!r}")
        if len(self.mean) != 3 or len(self.std) != 3 or not all(s != 0 for s in self.std):
            raise ValueError(f"mean and std need 3 values, std non-zero: {self.mean} {self.std}")
        if self.person_channel < 0 or self.output_index < 0:
            raise ValueError("person_channel and output_index must be >= 0")
        if self.multiple < 1:
            raise ValueError(f"multiple must be >= 1, got {self.multiple}")

    def size_for(self, width: int, height: int) -> tuple[int, int]:
        """(width, height) of the input tensor for a frame of this size."""
        if not self.keep_aspect:
            return self.input_size
        scale = max(self.width, self.height) / max(width, height)
        step = self.multiple
        return (
            max(step, round(width * scale / step) * step),
            max(step, round(height * scale / step) * step),
        )

    @property
    def input_size(self) -> tuple[int, int]:
        """(width, height) of the model input."""
        return self.width, self.height

    def describe(self) -> str:
        """One line for `greenroom models info`."""
        norm = next(
            (name for name, (m, s) in NORMALIZATIONS.items() if m == self.mean and s == self.std),
            "mean [{}] std [{}]".format(
                ", ".join(f"{v:g}" for v in self.mean), ", ".join(f"{v:g}" for v in self.std)
            ),
        )
        out = self.decode
        if self.decode in ("softmax", "argmax") or self.person_channel:
            out += f" (person = channel {self.person_channel})"
        size = f"{self.width}x{self.height}"
        if self.keep_aspect:
            size = (f"longer side {max(self.width, self.height)} (aspect kept, sides multiples "
                    f"of {self.multiple})")
        return (
            f"{size} {self.layout.upper()} {self.channels.upper()}, "
            f"normalise {norm}, {self.resize} resize; output: {out}"
        )


class Preprocessor:
    """Frame -> input tensor for one spec, reusing its buffers across frames.

    The per-channel scale and offset are tiled along a whole row (width x 3 values), so NumPy
    runs one long inner loop per row: broadcasting the 3-value vectors directly made the inner
    loop 3 elements long and cost about 1 ms per 256x256 frame, more than the resize.
    """

    def __init__(self, spec: ModelSpec, dtype: np.dtype | type = np.float32) -> None:
        self.spec = spec
        std = np.asarray(spec.std, np.float32)
        self._scale = (1.0 / std).astype(np.float32)
        self._offset = (-np.asarray(spec.mean, np.float32) / std).astype(np.float32)
        self._shift = bool(np.any(self._offset != 0))
        self._interpolation = _INTERPOLATION[spec.resize]
        self._dtype = np.dtype(dtype)
        self._buffers(spec.width, spec.height)

    def _buffers(self, width: int, height: int) -> None:
        """The float buffer and the row-tiled scale and offset for one input size."""
        self._hwc = np.empty((height, width, 3), np.float32)
        self._scale_row = np.tile(self._scale, width)
        self._offset_row = np.tile(self._offset, width)

    def __call__(self, frame: np.ndarray, order: ChannelOrder = "rgb") -> np.ndarray:
        spec = self.spec
        width, height = spec.size_for(frame.shape[1], frame.shape[0])
        small = cv2.resize(frame, (width, height), interpolation=self._interpolation)
        if order == "yuv":  # converted at the model's size
            small, order = yuv_to_rgb(small), "rgb"
        if order != spec.channels:
            small = cv2.cvtColor(small, cv2.COLOR_RGB2BGR)  # the same swap either way
        if self._hwc.shape[:2] != (height, width):  # keep_aspect: a frame of another shape
            self._buffers(width, height)
        hwc = self._hwc
        rows = hwc.reshape(height, width * 3)
        np.multiply(small.reshape(height, width * 3), self._scale_row, out=rows,
                    casting="unsafe")
        if self._shift:
            np.add(rows, self._offset_row, out=rows)
        tensor = hwc.transpose(2, 0, 1) if spec.layout == "nchw" else hwc
        return np.ascontiguousarray(tensor[None], dtype=self._dtype)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # exp of a large positive number overflows to inf and 1/(1+inf) is a clean 0: no warning
    # is worth the clip, so keep numpy quiet instead.
    with np.errstate(over="ignore"):
        return (1.0 / (1.0 + np.exp(-x))).astype(np.float32, copy=False)


def decode_output(output: np.ndarray, spec: ModelSpec) -> np.ndarray:
    """The model's output tensor -> HxW float32 person probability in [0, 1]."""
    out = np.asarray(output, dtype=np.float32)
    if out.ndim == 4:  # batch, then HWC or CHW
        out = out[0]
        if spec.layout == "nchw":
            out = out.transpose(1, 2, 0)
    elif out.ndim in (2, 3):  # HxW or 1xHxW: one channel
        out = out.reshape(out.shape[-2:])[:, :, None]
    else:
        raise ValueError(f"cannot decode an output of shape {np.shape(output)}")
    channels = out.shape[2]
    channel = spec.person_channel
    if channel >= channels:
        raise ValueError(
            f"person_channel {channel} is out of range: the output has {channels} channel(s)"
        )
    if spec.decode == "sigmoid":
        mask = _sigmoid(out[:, :, channel])
    elif spec.decode == "probability":
        mask = out[:, :, channel]
    elif spec.decode == "softmax":
        if channels == 2:  # softmax over two = sigmoid of the difference, no exp of all
            mask = _sigmoid(out[:, :, channel] - out[:, :, 1 - channel])
        else:
            shifted = np.exp(out - out.max(axis=2, keepdims=True))
            mask = shifted[:, :, channel] / shifted.sum(axis=2)
    else:  # argmax
        mask = (out.argmax(axis=2) == channel).astype(np.float32)
    return np.clip(mask, 0.0, 1.0).astype(np.float32, copy=False)


# --- sidecar TOML for a user's own model file -------------------------------------------------

#: Keys a sidecar TOML may set, with what they mean (shown by `greenroom models info FILE`).
SIDECAR_KEYS: dict[str, str] = {
    "width": "input width in pixels (default: from the model's input shape)",
    "height": "input height in pixels (default: from the model's input shape)",
    "layout": '"nhwc" or "nchw" (default: guessed from the input shape)',
    "channels": '"rgb" (default) or "bgr"',
    "normalize": '"unit" [0,1] (default), "signed" [-1,1], "imagenet", or "none" (0..255)',
    "mean": "3 numbers in pixel units, per channel in the model's order (overrides normalize)",
    "std": "3 numbers in pixel units (overrides normalize)",
    "resize": '"bilinear" (default) or "area"',
    "output": '"sigmoid", "probability", "softmax" or "argmax" (default: probability for one '
    "output channel, softmax with person = channel 1 for two)",
    "person_channel": "index of the person channel or class (e.g. 15 for PASCAL VOC)",
    "output_index": "which model output holds the mask (default 0)",
    "name": "a display name",
    "downsample_ratio": "recurrent matting (RVM) models only: the model's downsample_ratio",
    "max_side": "recurrent matting (RVM) models only: longest input side (default 512)",
}


def read_sidecar(path: Path) -> dict[str, Any]:
    """The TOML next to a model file (same stem, `.toml`), or {} when there is none."""
    sidecar = path.with_suffix(".toml")
    if not sidecar.is_file():
        return {}
    try:
        with sidecar.open("rb") as handle:
            data = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InputError(sidecar, f"cannot read the model's sidecar TOML: {exc}") from None
    unknown = sorted(set(data) - set(SIDECAR_KEYS))
    if unknown:
        raise InputError(
            sidecar, f"unknown key(s) {', '.join(unknown)}; known: {', '.join(SIDECAR_KEYS)}"
        )
    return data


def spec_from_settings(
    settings: Mapping[str, Any],
    input_shape: tuple[int | str | None, ...] | None,
    output_shape: tuple[int | str | None, ...] | None,
    where: str | Path,
) -> ModelSpec:
    """Build a spec from sidecar settings, filling the gaps from the model's own shapes."""
    values: dict[str, Any] = {}
    layout = settings.get("layout")
    shape = tuple(input_shape or ())
    dims = [d if isinstance(d, int) and d > 0 else None for d in shape]
    if layout is None and len(dims) == 4:
        layout = "nchw" if dims[1] == 3 and dims[3] != 3 else "nhwc"
    layout = layout or "nhwc"
    if len(dims) == 4:
        height, width = (dims[2], dims[3]) if layout == "nchw" else (dims[1], dims[2])
    else:
        height = width = None
    width = settings.get("width", width)
    height = settings.get("height", height)
    if not width or not height:
        raise InputError(
            where, "the model's input size is not fixed; give width and height in its sidecar TOML"
        )
    mean, std = NORMALIZATIONS["unit"]
    normalize = settings.get("normalize")
    if normalize is not None:
        if normalize not in NORMALIZATIONS:
            raise InputError(
                where, f"normalize must be one of {', '.join(NORMALIZATIONS)}, got {normalize!r}"
            )
        mean, std = NORMALIZATIONS[normalize]
    out = tuple(output_shape or ())
    output_channels = None
    if len(out) == 4:
        channel_dim = out[1] if layout == "nchw" else out[3]
        output_channels = channel_dim if isinstance(channel_dim, int) else None
    elif len(out) == 3:
        output_channels = 1
    decode = settings.get("output")
    person_channel = settings.get("person_channel")
    if decode is None:
        decode = "softmax" if output_channels == 2 else "probability"
        if person_channel is None and output_channels == 2:
            person_channel = 1
    values.update(
        width=int(width),
        height=int(height),
        layout=layout,
        channels=settings.get("channels", "rgb"),
        mean=tuple(float(v) for v in settings.get("mean", mean)),
        std=tuple(float(v) for v in settings.get("std", std)),
        resize=settings.get("resize", "bilinear"),
        decode=decode,
        person_channel=int(person_channel or 0),
        output_index=int(settings.get("output_index", 0)),
        extra={k: settings[k] for k in ("downsample_ratio", "max_side") if k in settings},
    )
    try:
        return ModelSpec(**values)
    except (TypeError, ValueError) as exc:
        raise InputError(where, f"bad model spec: {exc}") from None

