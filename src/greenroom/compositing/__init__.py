"""Compositing: turning a frame and its person matte into the output image."""

from greenroom.compositing.colors import parse_color
from greenroom.compositing.effects import (
    DEFAULT_BLUR,
    BackgroundEffect,
    Blur,
    ColorBackground,
    Effect,
    ImageBackground,
    MaskOnly,
    Passthrough,
    Transparent,
    alpha_to_uint8,
    blend,
    cover_resize,
)
from greenroom.compositing.spec import EffectSpec

__all__ = [
    "DEFAULT_BLUR",
    "BackgroundEffect",
    "Blur",
    "ColorBackground",
    "Effect",
    "EffectSpec",
    "ImageBackground",
    "MaskOnly",
    "Passthrough",
    "Transparent",
    "alpha_to_uint8",
    "blend",
    "cover_resize",
    "parse_color",
]
