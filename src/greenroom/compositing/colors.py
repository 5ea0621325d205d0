"""Colour names and codes as users write them (CSS names, #hex, rgb(...))."""

from __future__ import annotations

from PIL import ImageColor

from greenroom.errors import InputError


def parse_color(text: str) -> tuple[int, int, int]:
    """Return (r, g, b) for a CSS colour name, `#rgb`/`#rrggbb` or `rgb(r, g, b)`.

    A bare 6-digit hex code without '#' is accepted too, since shells make '#' awkward to type.
    """
    value = text.strip()
    if len(value) in (3, 6) and all(c in "0123456789abcdefABCDEF" for c in value):
        value = "#" + value
    try:
        rgb = ImageColor.getrgb(value)
    except ValueError:
        raise InputError(
            f"colour {text!r}",
            "unknown colour; use a CSS name such as 'green' or a hex code such as '#00b140'",
        ) from None
    return int(rgb[0]), int(rgb[1]), int(rgb[2])
