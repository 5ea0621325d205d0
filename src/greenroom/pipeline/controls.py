"""Live controls: the hotkeys that change the effect while a camera stream runs.

Kept apart from the window that receives the keys, so the same controls can be driven by a web
page or a test, and so the logic is testable without a display.
"""

from __future__ import annotations

import time
from pathlib import Path

from greenroom.compositing import DEFAULT_BLUR, Blur, Effect, EffectSpec
from greenroom.errors import InputError
from greenroom.pipeline.mirror import Mirror
from greenroom.pipeline.processor import Processor
from greenroom.sources.images import IMAGE_SUFFIXES

#: Key -> what it does, in the order the help lists them (`h` in the preview, --help).
KEYS = (
    ("b", "blur"),
    ("+/-", "blur strength"),
    ("n/p", "next/previous background"),
    ("c", "colour"),
    ("o", "effect off"),
    ("m", "show the mask"),
    ("x", "mirror"),
    ("a", "auto-framing"),
    ("l", "low light"),
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
    """Maps keys to effect changes on a running `Processor`.

    Each effect key makes a new `EffectSpec` from the current one (`with_effect`) and builds it,
    so a hotkey's effect is the one the same choice gives on the command line or the web page.
    """

    BLUR_STEP = 1.25

    def __init__(
        self,
        processor: Processor,
        backgrounds: list[Path] | None = None,
        color: tuple[int, int, int] | None = None,
        mirror: Mirror | None = None,
        spec: EffectSpec | None = None,
    ) -> None:
        """`spec` is the effect the stream started with (its light wrap carries over to the
        effects the keys choose); by default the processor's blur strength, else the default.
        `color` is what `c` shows: by default the spec's colour, else a green screen's.
        """
        self.processor = processor
        self.mirror = mirror
        self.backgrounds = backgrounds or []
        self.spec = spec or EffectSpec(
            blur=processor.effect.strength if isinstance(processor.effect, Blur) else DEFAULT_BLUR
        )
        self.color = color or self.spec.color or (0, 177, 64)
        self.blur_strength = self.spec.strength
        self.background_index = -1
        self._low_light = 1.0  # the strength `l` turns back on
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

    def _choose(self, message: str, **choice: object) -> None:
        """Build the current spec with this effect chosen instead; a bad one raises InputError."""
        spec = self.spec.with_effect(**choice)
        self.processor.effect = spec.build()
        self.spec, self._before_mask = spec, None
        self.message = message

    def _background(self, step: int) -> None:
        if not self.backgrounds:
            self.message = "no backgrounds folder given (--backgrounds DIR)"
            return
        for _ in range(len(self.backgrounds)):
            self.background_index = (self.background_index + step) % len(self.backgrounds)
            path = self.backgrounds[self.background_index]
            try:
                self._choose(f"background {path.name}", background=str(path))
                return
            except InputError as exc:
                self.message = str(exc)

    def handle_key(self, key: int) -> bool:
        """Apply one key press; False means the user asked to quit."""
        char = chr(key).lower() if 0 <= key < 256 else ""
        if char == "q" or key == 27:
            return False
        if char == "b":
            self._choose(f"blur {self.blur_strength:.0f}", blur=self.blur_strength)
        elif char in "+=-" and char:
            factor = self.BLUR_STEP if char in "+=" else 1 / self.BLUR_STEP
            self.blur_strength = min(100.0, max(1.0, self.blur_strength * factor))
            self._choose(f"blur {self.blur_strength:.0f}", blur=self.blur_strength)
        elif char == "n":
            self._background(+1)
        elif char == "p":
            self._background(-1)
        elif char == "c":
            self._choose("colour", color=self.color)
        elif char == "o":
            self._choose("effect off", off=True)
        elif char == "m":
            self._toggle_mask()
        elif char == "f":
            self.overlay = not self.overlay
        elif char == "h":
            self.help = not self.help
        elif char == "x":
            if self.mirror is None:
                self.message = "mirroring is not available here"
            else:
                self.message = "mirror on" if self.mirror.toggle() else "mirror off"
        elif char == "a":
            framer = self.processor.framer
            if framer is None:
                self.message = "auto-framing is not available here"
            else:
                framer.enabled = not framer.enabled
                self.message = "auto-framing on" if framer.enabled else "auto-framing off"
        elif char == "l":
            self._toggle_low_light()
        return True

    def _toggle_mask(self) -> None:
        """`m` shows the matte; pressed again, the effect before it comes back as it was."""
        if self._before_mask is None:
            before = self.processor.effect
            self.processor.effect = self.spec.with_effect(mask=True).build()
            self._before_mask = before
            self.message = "mask"
        else:
            self.processor.effect, self._before_mask = self._before_mask, None
            self.message = ""

    def _toggle_low_light(self) -> None:
        enhancer = self.processor.enhancer
        if enhancer is None:
            self.message = "low light: start with --low-light"
            return
        if enhancer.strength > 0:
            self._low_light, enhancer.strength = enhancer.strength, 0.0
            self.message = "low light off"
        else:
            enhancer.strength = self._low_light
            self.message = f"low light {enhancer.strength:.1f}"

    def help_lines(self) -> list[str]:
        """The hotkeys, one per line, for the window to draw while help is on."""
        return [f"{key:>4}  {what}" for key, what in KEYS] if self.help else []
