"""greenroom: real-time virtual backgrounds for photos, videos, cameras and the browser.

The data flows through the subpackages in order: `sources` -> `segmentation` -> `matte` ->
`compositing` -> `sinks`, driven by `pipeline`; `cli` and `web` are front ends.
"""

from greenroom.api import make_effect, replace_background
from greenroom.compositing import (
    Blur,
    ColorBackground,
    Effect,
    ImageBackground,
    MaskOnly,
    Transparent,
)
from greenroom.errors import GreenroomError, InputError, OutputError
from greenroom.pipeline import Processor
from greenroom.segmentation import load_segmenter

__version__ = "0.1.0"

__all__ = [
    "Blur",
    "ColorBackground",
    "Effect",
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
