"""`EffectSpec`: what effect was asked for, as plain data, checked in one place.

Every front end describes the effect it wants with one of these: the CLI options and the TOML
config (`cli.options`), a batch's settings (`jobs.settings`), the browser's messages
(`web.signalling`) and the preview's hotkeys (`pipeline.controls`). `build()` then makes the
`Effect`, so an effect means the same wherever it was chosen, and a wrong combination is refused
with the same one line everywhere.

A spec is small, frozen and picklable: it travels to batch workers and is part of a batch's
fingerprint. Pictures are named, not held: `background` is a file path (or a name that the
`pictures` function given to `build` knows, such as a web gallery picture), so nothing is read
until the effect is built.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np

from greenroom.compositing import effects
from greenroom.compositing.colors import parse_color
from greenroom.compositing.effects import DEFAULT_BLUR, Effect
from greenroom.errors import InvalidEffect

#: The fields that each choose an effect; one at most may be set (none means blur).
CHOICES = ("background", "blur", "color", "transparent", "mask", "off")
BLUR_STYLES = ("normal", "focus")

#: Turns a background name into its RGB uint8 pixels (a file path by default).
Pictures = Callable[[str], np.ndarray]


@dataclass(frozen=True)
class EffectSpec:
    """One effect request: at most one of the choices, plus how it is drawn.

    `blur` is the strength (Gaussian sigma at 720p) and is filled in with `DEFAULT_BLUR` when no
    effect is chosen at all; `color` is stored as (r, g, b), whatever way it was written;
    `light_wrap` (0..1) goes with a background or a colour; `blur_style="focus"` (a depth
    model's lens blur) only with blur; `off` is no effect at all (the preview's and the web
    page's switch).
    """

    blur: float | None = None
    background: str | None = None
    color: tuple[int, int, int] | None = None
    transparent: bool = False
    mask: bool = False
    off: bool = False
    light_wrap: float = 0.0
    blur_style: str = "normal"

    def __post_init__(self) -> None:
        chosen = [name for name in CHOICES if _is_chosen(getattr(self, name))]
        if len(chosen) > 1:
            raise InvalidEffect(f"choose one effect, not {' and '.join(chosen)}")
        if self.blur_style not in BLUR_STYLES:
            raise InvalidEffect(
                f"unknown blur style {self.blur_style!r}; choose {' or '.join(BLUR_STYLES)}"
            )
        if self.blur_style != "normal" and chosen and chosen != ["blur"]:
            raise InvalidEffect("--blur-style goes with --blur, not with another effect")
        if not _in_range(self.light_wrap, 0, 1):
            raise InvalidEffect(f"light wrap must be a number from 0 to 1, got {self.light_wrap}")
        if isinstance(self.blur, bool):  # the library's `blur=True`: the default strength
            object.__setattr__(self, "blur", DEFAULT_BLUR if self.blur else None)
        if not chosen or self.blur is not None:
            strength = DEFAULT_BLUR if self.blur is None else self.blur
            if not _in_range(strength, 0, math.inf):
                raise InvalidEffect(f"blur strength must be a number >= 0, got {strength}")
            object.__setattr__(self, "blur", float(strength))
        if self.background is not None:
            object.__setattr__(self, "background", str(self.background))
        if self.color is not None:
            object.__setattr__(self, "color", _rgb(self.color))

    @property
    def kind(self) -> str:
        """The chosen effect: one of `CHOICES`."""
        return next(name for name in CHOICES if _is_chosen(getattr(self, name)))

    @property
    def strength(self) -> float:
        """The blur strength this spec has, or would have if blur were chosen."""
        return DEFAULT_BLUR if self.blur is None else self.blur

    @property
    def channels(self) -> int:
        """Channels of the effect's results: 1 for mattes, 4 for cut-outs, 3 otherwise."""
        return 1 if self.mask else 4 if self.transparent else 3

    def with_effect(self, **choice: object) -> EffectSpec:
        """This spec with another effect chosen (`with_effect(color=(0, 0, 255))`).

        The other choices are cleared and `light_wrap` is kept; `blur_style` is kept only
        where it is given, since it belongs to one particular blur.
        """
        cleared: dict[str, object] = {name: _UNCHOSEN[name] for name in CHOICES}
        return replace(self, **{**cleared, "blur_style": "normal", **choice})  # type: ignore[arg-type]

    def build(
        self, pictures: Pictures | None = None, models_dir: str | Path | None = None
    ) -> Effect:
        """The effect. A background file is opened now, so a bad one fails before any work.

        `pictures` resolves `background` to pixels (default: read it as an image file; a name
        ending like a video loops as a video). `models_dir` is where the focus blur's depth
        model is downloaded once.
        """
        kind = self.kind
        if kind == "background":
            assert self.background is not None
            return self._background(self.background, pictures)
        if kind == "color":
            assert self.color is not None
            return effects.ColorBackground(self.color, light_wrap=self.light_wrap)
        if kind == "transparent":
            return effects.Transparent()
        if kind == "mask":
            return effects.MaskOnly()
        if kind == "off":
            return effects.Passthrough()
        if self.blur_style == "focus":
            from greenroom.aux_models import aux_model_path
            from greenroom.compositing.focus import DepthEstimator, FocusBlur

            depth = DepthEstimator(aux_model_path("tcmonodepth", models_dir))
            return FocusBlur(depth, self.strength)
        return effects.Blur(self.strength)

    def _background(self, name: str, pictures: Pictures | None) -> Effect:
        if pictures is not None:
            return effects.ImageBackground(pictures(name), light_wrap=self.light_wrap)
        from greenroom.compositing.video_background import VIDEO_SUFFIXES, VideoBackground

        if Path(name).suffix.lower() in VIDEO_SUFFIXES:
            return VideoBackground(name, light_wrap=self.light_wrap)
        from greenroom.sources.images import read_image

        return effects.ImageBackground(read_image(name), light_wrap=self.light_wrap)


#: Each choice's "not chosen" value (the field defaults).
_UNCHOSEN = {f.name: f.default for f in fields(EffectSpec)}


def _is_chosen(value: object) -> bool:
    return value is not None and value is not False


def _in_range(value: object, low: float, high: float) -> bool:
    """A real number (not a bool, not NaN) in [low, high]."""
    return (
        isinstance(value, int | float) and not isinstance(value, bool) and low <= value <= high
    )


def _rgb(color: object) -> tuple[int, int, int]:
    """A colour as written (CSS name, hex, or three 0..255 numbers) -> (r, g, b)."""
    if isinstance(color, str):
        return parse_color(color)
    if (
        isinstance(color, tuple | list)
        and len(color) == 3
        and all(isinstance(c, int | np.integer) and 0 <= c <= 255 for c in color)
    ):
        return int(color[0]), int(color[1]), int(color[2])
    raise InvalidEffect(
        f"colour must be a CSS name, a hex code or three 0..255 numbers, not {color!r}"
    )
