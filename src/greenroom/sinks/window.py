"""The preview window, with hotkeys (see `pipeline.controls`).

OpenCV's HighGUI is enough for a preview and needs no extra toolkit. The window is opened
without OpenCV's debugging toolbar and status bar (`WINDOW_GUI_NORMAL`), keeps the picture's
shape when resized (`WINDOW_KEEPRATIO`), and opens at the frame's size, shrunk to fit the screen.
Without a display (an SSH session, CI) opening a window would abort the process inside Qt, so
we check first and say so.
"""

from __future__ import annotations

import os
import sys
import threading

import cv2
import numpy as np

from greenroom.errors import OutputError
from greenroom.frames import FrameItem
from greenroom.pipeline.controls import LiveControls
from greenroom.pipeline.stats import PipelineStats
from greenroom.sinks.frames import to_rgb
from greenroom.sinks.overlay import draw_lines, stats_text, text_scale

#: Window flags: no toolbar or status bar, aspect ratio kept.
WINDOW_FLAGS = cv2.WINDOW_GUI_NORMAL | cv2.WINDOW_KEEPRATIO
#: The share of the screen a window may take at most, leaving room for panels and title bars.
SCREEN_SHARE = 0.85
#: Assumed when the screen size cannot be read.
FALLBACK_SCREEN = (1920, 1080)


def display_available() -> bool:
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def screen_size() -> tuple[int, int]:
    """(width, height) of the screen, from Tk when it is installed, else a common size."""
    try:
        import tkinter

        root = tkinter.Tk()
        try:
            root.withdraw()
            return int(root.winfo_screenwidth()), int(root.winfo_screenheight())
        finally:
            root.destroy()
    except Exception:  # no Tk, or Tk cannot reach the display: any guess beats failing
        return FALLBACK_SCREEN


def fit_to_screen(width: int, height: int, screen: tuple[int, int]) -> tuple[int, int]:
    """The frame's size, shrunk (never enlarged) to fit `SCREEN_SHARE` of the screen."""
    limit_w, limit_h = screen[0] * SCREEN_SHARE, screen[1] * SCREEN_SHARE
    scale = min(1.0, limit_w / width, limit_h / height)
    return max(1, round(width * scale)), max(1, round(height * scale))


class WindowSink:
    """Show processed frames; keys go to `controls`; closing the window or `q` sets `stop`."""

    def __init__(
        self,
        controls: LiveControls,
        stats: PipelineStats,
        stop: threading.Event,
        title: str = "greenroom",
        screen: tuple[int, int] | None = None,
    ) -> None:
        if not display_available():
            raise OutputError("preview window", "no display ($DISPLAY is not set); drop --preview")
        self.controls = controls
        self.stats = stats
        self.stop = stop
        self.title = title
        self.screen = screen or screen_size()
        self.shown: tuple[int, int] | None = None  # the window's size, set at the first frame
        cv2.namedWindow(title, WINDOW_FLAGS)

    def _shown_height(self, width: int, height: int) -> int:
        """The window's picture height: sized to the first frame, then as the user resized it."""
        if self.shown is None:
            self.shown = fit_to_screen(width, height, self.screen)
            cv2.resizeWindow(self.title, *self.shown)
        else:
            rect = cv2.getWindowImageRect(self.title)
            if rect[2] > 0 and rect[3] > 0:
                self.shown = (rect[2], rect[3])
        # With the aspect ratio kept, the picture's height on screen follows the narrower fit.
        return round(height * min(self.shown[0] / width, self.shown[1] / height))

    def compose(self, image: np.ndarray, shown_height: int) -> np.ndarray:
        """The picture with the statistics, the last change and the key list drawn on it."""
        lines = stats_text(self.stats) if self.controls.overlay else []
        if self.controls.message:
            lines.append(self.controls.message)
        lines += self.controls.help_lines()
        if not lines:
            return image
        return draw_lines(image, lines, text_scale(image.shape[0], shown_height))

    def write(self, item: FrameItem) -> None:
        assert item.output is not None
        image = to_rgb(item.output)
        shown = self._shown_height(image.shape[1], image.shape[0])
        image = self.compose(image, shown)
        cv2.imshow(self.title, cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        key = cv2.waitKey(1)
        if key != -1 and not self.controls.handle_key(key & 0xFF):
            self.stop.set()
        if cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1:
            self.stop.set()

    def close(self) -> None:
        cv2.destroyWindow(self.title)
        cv2.waitKey(1)
