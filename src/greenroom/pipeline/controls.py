"""Live controls: the hotkeys that change the effect while a camera stream runs.

Kept apart from the window that receives the keys, so the same controls can be driven by a web
page or a test, and so the logic is testable without a display.
"""

from __future__ import annotations

import time
from pathlib import Path

from greenroom.compositing import (
    DEFAULT_BLUR,
    Blur,
    ColorBackground,
    Effect,
    ImageBackground,
    MaskOnly,
    Passthrough,
)
from greenroom.errors import InputError
from greenroom.pipeline.mirror import Mirror
from greenroom.pipeline.processor import Processor
from greenroom.sources.images import IMAGE_SUFFIXES, read_image

#: Key -> what it does, in the order the help lists them (`h` in the preview, --help).
KEYS = (
    ("b", "blur"),
    ("+/-", "blur strength"),
    ("n/p", "next/previous background"),
    ("c", "colour"),
    ("o", "effect off"),
    ("m", "show the mask"),
    ("x", "mirror"),
    ("f", "statistics"),
    ("h", "this help"),
    ("q", "quit"),
)
HELP = "keys: " + ", ".join(f"{key} {what}" for key, what in KEYS)


def list_backgrounds(folder: Path | None) -> list[Path]:
    """The images in a backgrounds folder, in name order."""
    if folder is None:
        return []
    if not folder.is_dir():
        raise InputError(folder, "is not a folder of background images")
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


class LiveControls:
    """Maps keys to effect changes on a running `Processor`."""

    BLUR_STEP = 1.25

    def __init__(
        self,
        processor: Processor,
        backgrounds: list[Path] | None = None,
        color: tuple[int, int, int] = (0, 177, 64),
        mirror: Mirror | None = None,
    ) -> None:
        self.processor = processor
        self.mirror = mirror
        self.backgrounds = backgrounds or []
        self.color = color
        self.blur_strength = (
            processor.effect.strength if isinstance(processor.effect, Blur) else DEFAULT_BLUR
        )
        self.background_index = -1
        self.overlay = False
        self.help = False  # the key list, shown over the picture until `h` is pressed again
        self._before_mask: Effect | None = None
        self._message = ""
        self._message_until = 0.0

    @property
    def message(self) -> str:
        """The last change, shown for a couple of seconds after the key press."""
        return self._message if time.monotonic() < self._message_until else ""

    @message.setter
    def message(self, text: str) -> None:
        self._message = text
        self._message_until = time.monotonic() + 2.0

    def _set(self, effect: Effect, message: str) -> None:
        self._before_mask = None
        self.processor.effect = effect
        self.message = message

    def _background(self, step: int) -> None:
        if not self.backgrounds:
            self.message = "no backgrounds folder given (--backgrounds DIR)"
            return
        for _ in range(len(self.backgrounds)):
            self.background_index = (self.background_index + step) % len(self.backgrounds)
            path = self.backgrounds[self.background_index]
            try:
                self._set(ImageBackground(read_image(path)), f"background {path.name}")
                return
            except InputError as exc:
                self.message = str(exc)

    def handle_key(self, key: int) -> bool:
        """Apply one key press; False means the user asked to quit."""
        char = chr(key).lower() if 0 <= key < 256 else ""
        if char == "q" or key == 27:
            return False
        if char == "b":
            self._set(Blur(self.blur_strength), f"blur {self.blur_strength:.0f}")
        elif char in "+=-" and char:
            factor = self.BLUR_STEP if char in "+=" else 1 / self.BLUR_STEP
            self.blur_strength = min(100.0, max(1.0, self.blur_strength * factor))
            self._set(Blur(self.blur_strength), f"blur {self.blur_strength:.0f}")
        elif char == "n":
            self._background(+1)
        elif char == "p":
            self._background(-1)
        elif char == "c":
            self._set(ColorBackground(self.color), "colour")
        elif char == "o":
            self._set(Passthrough(), "effect off")
        elif char == "m":
            if self._before_mask is None:
                self._before_mask = self.processor.effect
                self.processor.effect = MaskOnly()
                self.message = "mask"
            else:
                self.processor.effect, self._before_mask = self._before_mask, None
                self.message = ""
        elif char == "f":
            self.overlay = not self.overlay
        elif char == "h":
            self.help = not self.help
        elif char == "x":
            if self.mirror is None:
                self.message = "mirroring is not available here"
            else:
                self.message = "mirror on" if self.mirror.toggle() else "mirror off"
        return True

    def help_lines(self) -> list[str]:
        """The hotkeys, one per line, for the window to draw while help is on."""
        return [f"{key:>4}  {what}" for key, what in KEYS] if self.help else []
