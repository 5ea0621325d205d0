"""The one-call library API for the common case.

`replace_background(image, blur=...)` loads the default model, applies one effect and returns an
image of the same kind it was given. For many frames, build a `Processor` once instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import overload

import numpy as np
from PIL import Image

from greenroom.compositing import Effect, EffectSpec
from greenroom.pipeline import Processor
from greenroom.sources.images import as_rgb_array

ImageLike = np.ndarray | Image.Image | str | Path


def make_effect(
    *,
    background: ImageLike | None = None,
    blur: float | bool | None = None,
    color: str | tuple[int, int, int] | None = None,
    transparent: bool = False,
    mask: bool = False,
    light_wrap: float = 0.0,
    blur_style: str = "normal",
    models_dir: str | Path | None = None,
) -> Effect:
    """Build the one effect these options ask for; blur when none is named.

    A `background` path that ends like a video (.mp4, .webm, ...) plays as a looping video.
    `light_wrap` (0..1) lets a replaced background's light spill onto the person's outline.
    `blur=True` means the default strength; `blur_style="focus"` blurs more the farther the
    background is (a depth model, downloaded once into `models_dir`). Naming two effects at
    once is an error rather than a silent choice, because the user's intent is unclear.
    The options are checked by `EffectSpec`, as the command line's and the web page's are.
    """
    pictures = None
    if background is not None and not isinstance(background, str | Path):
        pixels = as_rgb_array(background)  # an array or PIL image: nothing to open by name
        background, pictures = "picture", lambda _: pixels
    spec = EffectSpec(
        blur=blur,
        background=None if background is None else str(background),
        color=color,
        transparent=transparent,
        mask=mask,
        light_wrap=light_wrap,
        blur_style=blur_style,
    )
    return spec.build(pictures, models_dir=models_dir)


@overload
def replace_background(image: Image.Image, **options: object) -> Image.Image: ...
@overload
def replace_background(image: np.ndarray | str | Path, **options: object) -> np.ndarray: ...


def replace_background(
    image: ImageLike,
    *,
    background: ImageLike | None = None,
    blur: float | bool | None = None,
    color: str | tuple[int, int, int] | None = None,
    transparent: bool = False,
    mask: bool = False,
    model: str = "auto",
) -> np.ndarray | Image.Image:
    """Blur, replace or remove the background of one photo.

    `image` is an RGB array, a PIL image or a path. Returns a PIL image for a PIL input and an
    array otherwise: RGB, RGBA with `transparent=True`, or the 8-bit matte with `mask=True`.
    """
    effect = make_effect(
        background=background, blur=blur, color=color, transparent=transparent, mask=mask
    )
    frame = as_rgb_array(image)
    with Processor(effect, model=model) as processor:
        result = processor.process(frame)
    return Image.fromarray(result) if isinstance(image, Image.Image) else result
