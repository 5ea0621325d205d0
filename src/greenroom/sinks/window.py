"""The preview window, with hotkeys (see `pipeline.controls`).

OpenCV's HighGUI is enough for a preview and needs no extra toolkit. Without a display (an SSH
session, CI) opening a window would abort the process inside Qt, so we check first and say so.
"""

from __future__ import annotations

import os
import sys
import threading

import cv2

from greenroom.errors import OutputError
from greenroom.frames import FrameItem
from greenroom.pipeline.controls import LiveControls
from greenroom.pipeline.stats import PipelineStats
from greenroom.sinks.frames import to_rgb
from greenroom.sinks.overlay import draw_lines, stats_text


def display_available() -> bool:
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


class WindowSink:
    """Show processed frames; keys go to `controls`; closing the window or `q` sets `stop`."""

    def __init__(
        self,
        controls: LiveControls,
        stats: PipelineStats,
        stop: threading.Event,
        title: str = "greenroom",
    ) -> None:
        if not display_available():
            raise OutputError("preview window", "no display ($DISPLAY is not set); drop --preview")
        self.controls = controls
        self.stats = stats
        self.stop = stop
        self.title = title
        cv2.namedWindow(title, cv2.WINDOW_NORMAL)

    def write(self, item: FrameItem) -> None:
        assert item.output is not None
        image = to_rgb(item.output)
        lines = stats_text(self.stats) if self.controls.overlay else []
        if self.controls.message:
            lines.append(self.controls.message)
        if lines:
            image = draw_lines(image, lines)
        cv2.imshow(self.title, cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        key = cv2.waitKey(1)
        if key != -1 and not self.controls.handle_key(key & 0xFF):
            self.stop.set()
        if cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1:
            self.stop.set()

    def close(self) -> None:
        cv2.destroyWindow(self.title)
        cv2.waitKey(1)
