"""The preview window, with hotkeys (see `pipeline.controls` and `pipeline.preview`).

The window is SDL2 through pygame (the `camera` extra), not OpenCV's HighGUI: the core installs the
headless OpenCV so that an environment never holds two OpenCV distributions, and SDL gives a plain
window with no debug toolbar, keyboard text that works the same on every platform, and a dummy
video driver in which tests drive the real window code without a display.

The window opens at the frame's size, scaled down to fit the screen, and can be resized; the
statistics text scales with the window. `h` shows the list of hotkeys (see `pipeline.controls`).
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any, Protocol

import cv2
import numpy as np

from greenroom.errors import OutputError
from greenroom.extras import require_extra
from greenroom.frames import Frame, Sink
from greenroom.sinks.frames import to_rgb

#: Share of the screen the window may take when it opens.
SCREEN_SHARE = 0.85
ESCAPE = 27


def display_available() -> bool:
    """False where opening a window cannot work (Linux without X11 or Wayland)."""
    if os.environ.get("SDL_VIDEODRIVER") in ("dummy", "offscreen"):
        return True
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def fit_size(frame: tuple[int, int], screen: tuple[int, int] | None) -> tuple[int, int]:
    """(width, height) of a window showing `frame` whole, at most SCREEN_SHARE of `screen`."""
    width, height = frame
    if not screen or min(screen) <= 0:
        return width, height
    scale = min(1.0, SCREEN_SHARE * screen[0] / width, SCREEN_SHARE * screen[1] / height)
    return max(1, round(width * scale)), max(1, round(height * scale))


class Panel(Protocol):
    """What the window shows over the picture and does with keys (`pipeline.preview`)."""

    def handle_key(self, key: int) -> bool:
        """Act on one key; False when it asks to quit."""
        ...

    def lines(self) -> list[str]:
        """Text to draw over the picture, top left (none: the bare picture)."""
        ...


class WindowSink(Sink):
    """Show processed frames; keys go to `panel`; closing the window or `q` sets `stop`.

    All SDL calls happen in the thread that writes frames: the window is created on the first
    frame, when its size is known, and events are polled after each frame.
    """

    def __init__(
        self,
        panel: Panel,
        stop: threading.Event,
        title: str = "greenroom",
    ) -> None:
        require_extra("camera", "the preview window", ("pygame",))
        if not display_available():
            raise OutputError("preview window", "no display ($DISPLAY is not set); drop --preview")
        self.panel = panel
        self.stop = stop
        self.title = title
        self._pygame: Any = None
        self._screen: Any = None
        self._fonts: dict[int, Any] = {}

    def _open(self, frame_size: tuple[int, int]) -> None:
        os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
        import pygame

        self._pygame = pygame
        pygame.display.init()
        pygame.font.init()
        desktops = pygame.display.get_desktop_sizes()
        size = fit_size(frame_size, desktops[0] if desktops else None)
        self._screen = pygame.display.set_mode(size, pygame.RESIZABLE)
        pygame.display.set_caption(self.title)

    def _font(self, size: int) -> Any:
        if size not in self._fonts:
            self._fonts[size] = self._pygame.font.Font(None, size)  # pygame's bundled font
        return self._fonts[size]

    def _draw_text(self, lines: list[str]) -> None:
        """White text on a translucent dark band, its size a fixed share of the window height."""
        pygame = self._pygame
        height = self._screen.get_height()
        font = self._font(max(16, height // 24))
        y = margin = max(4, height // 90)
        for line in lines:
            text = font.render(line, True, (255, 255, 255))
            band = pygame.Surface((text.get_width() + 2 * margin, text.get_height()))
            band.set_alpha(170)
            band.fill((0, 0, 0))
            self._screen.blit(band, (0, y))
            self._screen.blit(text, (margin, y))
            y += text.get_height() + margin // 2

    def _handle_events(self) -> None:
        pygame = self._pygame
        for event in pygame.event.get():
            if event.type == pygame.QUIT:
                self.stop.set()
            elif event.type == pygame.KEYDOWN:
                self.handle_key(event.unicode, event.key == pygame.K_ESCAPE)

    def handle_key(self, text: str, escape: bool = False) -> None:
        """One key press, as typed (so layouts and shift work): the panel acts on it."""
        quit_asked = len(text) == 1 and not self.panel.handle_key(ord(text))
        if escape or quit_asked:
            self.stop.set()

    def write(self, frame: Frame) -> None:
        image = to_rgb(frame.picture)
        if self._screen is None:
            self._open((image.shape[1], image.shape[0]))
        size = self._screen.get_size()
        if (image.shape[1], image.shape[0]) != size:
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        image = np.ascontiguousarray(image)
        surface = self._pygame.image.frombuffer(image.data, size, "RGB")
        self._screen.blit(surface, (0, 0))
        lines = self.panel.lines()
        if lines:
            self._draw_text(lines)
        self._pygame.display.flip()
        self._handle_events()

    def close(self) -> None:
        if self._pygame is not None:
            self._pygame.display.quit()
            self._pygame = self._screen = None
