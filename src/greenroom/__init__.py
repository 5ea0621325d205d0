"""greenroom: real-time virtual backgrounds for photos, videos, cameras and the browser.

The data flows through the subpackages in order: `sources` -> `segmentation` -> `matte` ->
`compositing` -> `sinks`, driven by `pipeline`; `cli` and `web` are front ends.

The names below are imported on first use (PEP 562), so `import greenroom` and
`greenroom --help` do not pay for OpenCV, PyAV and the model runtimes until they are needed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: Public name -> the module that defines it.
_EXPORTS = {
    "make_effect": "greenroom.api",
    "replace_background": "greenroom.api",
    "Blur": "greenroom.compositing",
    "ColorBackground": "greenroom.compositing",
    "Effect": "greenroom.compositing",
    "EffectSpec": "greenroom.compositing",
    "ImageBackground": "greenroom.compositing",
    "MaskOnly": "greenroom.compositing",
    "Transparent": "greenroom.compositing",
    "GreenroomError": "greenroom.errors",
    "InputError": "greenroom.errors",
    "OutputError": "greenroom.errors",
    "Processor": "greenroom.pipeline.processor",
    "load_segmenter": "greenroom.segmentation",
}

__all__ = [
    "Blur",
    "ColorBackground",
    "Effect",
    "EffectSpec",
    "GreenroomError",
    "ImageBackground",
    "InputError",
    "MaskOnly",
    "OutputError",
    "Processor",
    "Transparent",
    "load_segmenter",
    "make_effect",
    "replace_background",
    "__version__",
]

if TYPE_CHECKING:
    from greenroom.api import make_effect, replace_background
    from greenroom.compositing import (
        Blur,
        ColorBackground,
        Effect,
        EffectSpec,
        ImageBackground,
        MaskOnly,
        Transparent,
    )
    from greenroom.errors import GreenroomError, InputError, OutputError
    from greenroom.pipeline.processor import Processor
    from greenroom.segmentation import load_segmenter


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'greenroom' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
