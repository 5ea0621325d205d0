"""Effect and model options shared by every command that processes frames."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from greenroom.api import make_effect
from greenroom.compositing import DEFAULT_BLUR, Effect
from greenroom.errors import GreenroomError
from greenroom.segmentation import MODEL_NAMES


def effect_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add --blur/--background/--color/--transparent/--mask/--model/--threads to a command."""
    decorators = [
        click.option(
            "--blur",
            "blur",
            type=click.FloatRange(min=0),
            is_flag=False,
            flag_value=DEFAULT_BLUR,
            default=None,
            metavar="[STRENGTH]",
            help=f"Blur the background (the default effect). STRENGTH is the Gaussian sigma in "
            f"pixels of a 720p frame, scaled to the frame height; default {DEFAULT_BLUR:g}.",
        ),
        click.option(
            "--background",
            "background",
            type=click.Path(dir_okay=False),
            help="Replace the background with this image, or a video clip that loops (scaled "
            "to cover, cropped centred).",
        ),
        click.option(
            "--color",
            "color",
            metavar="COLOR",
            help="Replace the background with a colour: a CSS name (green) or hex (#00b140).",
        ),
        click.option(
            "--light-wrap",
            "light_wrap",
            type=click.FloatRange(0, 1),
            default=0.0,
            metavar="STRENGTH",
            help="With --background/--color: let the new background's light spill onto your "
            "outline (0..1, e.g. 0.3), so you look less pasted on.",
        ),
        click.option(
            "--transparent",
            is_flag=True,
            help="Remove the background: RGBA output with the matte as alpha.",
        ),
        click.option(
            "--mask",
            is_flag=True,
            help="Write the matte itself: 8-bit grayscale, 0 = background, 255 = person.",
        ),
        click.option(
            "--model",
            default="auto",
            show_default=True,
            type=click.Choice(MODEL_NAMES),
            help="Segmentation model; 'auto' picks MediaPipe's landscape model for wide frames "
            "and the general one otherwise.",
        ),
        click.option(
            "--refine/--no-refine",
            default=True,
            show_default=True,
            help="Redraw the mask edge along the picture's edges (guided filter); off gives "
            "the model's plain upscaled mask.",
        ),
        click.option(
            "--threads",
            type=click.IntRange(min=1),
            default=None,
            help="Inference threads (default: 2, or 1 on a single core).",
        ),
    ]
    for decorator in reversed(decorators):
        command = decorator(command)
    return command


def effect_from_options(
    blur: float | None,
    background: str | None,
    color: str | None,
    transparent: bool,
    mask: bool,
    light_wrap: float = 0.0,
) -> Effect:
    """Build the effect; the background is opened here so a bad one fails before any work."""
    try:
        return make_effect(
            background=background,
            blur=blur,
            color=color,
            transparent=transparent,
            mask=mask,
            light_wrap=light_wrap,
        )
    except GreenroomError:
        raise
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
