"""The camera's basics: mirroring, the preview window's size, text and key list.

There is no display here, so the window's logic is tested with OpenCV's window calls replaced
by a recorder; what is drawn is checked on the pictures themselves.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time

import cv2
import numpy as np
import pytest

from greenroom.compositing import Blur
from greenroom.frames import FrameItem
from greenroom.pipeline.controls import HELP, KEYS, LiveControls
from greenroom.pipeline.mirror import Mirror
from greenroom.pipeline.stats import PipelineStats
from greenroom.sinks import window
from greenroom.sinks.overlay import LINE_PIXELS, draw_lines, text_scale
from greenroom.sinks.window import WINDOW_FLAGS, WindowSink, fit_to_screen


class FakeProcessor:
    effect = Blur(10)


def frame_items(count: int) -> list[FrameItem]:
    image = np.zeros((4, 6, 3), np.uint8)
    image[:, 0] = 255  # the left column is white: mirrored, it is the right one
    return [FrameItem(i, image.copy()) for i in range(count)]


def test_mirror_flips_left_to_right_and_toggles_live():
    mirror = Mirror(True)
    frames = mirror.frames(frame_items(3))
    first = next(frames)
    assert first.image[:, -1].min() == 255 and first.image[:, 0].max() == 0
    controls = LiveControls(FakeProcessor(), mirror=mirror)
    controls.handle_key(ord("x"))
    assert controls.message == "mirror off"
    second = next(frames)
    assert second.image[:, 0].min() == 255  # as captured
    controls.handle_key(ord("x"))
    assert next(frames).image[:, -1].min() == 255


def test_h_lists_every_hotkey():
    controls = LiveControls(FakeProcessor())
    assert controls.help_lines() == []
    controls.handle_key(ord("h"))
    lines = controls.help_lines()
    assert len(lines) == len(KEYS) and any("mirror" in line for line in lines)
    assert "h this help" in HELP and "x mirror" in HELP
    controls.handle_key(ord("h"))
    assert controls.help_lines() == []


@pytest.mark.parametrize(
    ("frame", "screen", "expected"),
    [
        ((1280, 720), (1920, 1080), (1280, 720)),  # fits: the frame's own size, not 400x300
        ((3840, 2160), (1920, 1080), (1632, 918)),  # 4K on a 1080p screen: 85% of it
        ((720, 1280), (1920, 1080), (516, 918)),  # portrait: height-bound
        ((320, 240), (1920, 1080), (320, 240)),  # never enlarged
    ],
)
def test_window_fits_the_frame_to_the_screen(frame, screen, expected):
    assert fit_to_screen(*frame, screen) == expected


GRAY = 100  # the test frames' colour: the text band is black, the letters white


def ink_rows(image: np.ndarray) -> int:
    """How many rows carry text or its band (anything but the frame's gray)."""
    return int((image != GRAY).any(axis=(1, 2)).sum())


def test_text_is_the_same_size_on_screen_whatever_the_frame():
    for height, shown in [(720, 720), (2160, 918), (240, 240)]:
        frame = np.full((height, height * 16 // 9, 3), GRAY, np.uint8)
        drawn = draw_lines(frame, ["30.0 fps  latency 20 ms"], text_scale(height, shown))
        rows_on_screen = ink_rows(drawn) * shown / height
        assert rows_on_screen == pytest.approx(LINE_PIXELS, abs=2)


class Recorder:
    """Stands in for OpenCV's window functions; remembers what the sink asked for."""

    def __init__(self, key: int = -1, rect: tuple[int, int, int, int] | None = None) -> None:
        self.calls: list[tuple] = []
        self.key = key
        self.rect = rect
        self.shown: list[np.ndarray] = []

    def install(self, monkeypatch) -> None:
        monkeypatch.setattr(window, "display_available", lambda: True)
        monkeypatch.setattr(cv2, "namedWindow", lambda *a: self.calls.append(("named", *a)))
        monkeypatch.setattr(cv2, "resizeWindow", lambda *a: self.calls.append(("resize", *a)))
        monkeypatch.setattr(cv2, "imshow", lambda title, image: self.shown.append(image))
        monkeypatch.setattr(cv2, "waitKey", lambda delay: self.key)
        monkeypatch.setattr(cv2, "getWindowProperty", lambda *a: 1.0)
        monkeypatch.setattr(cv2, "getWindowImageRect", lambda title: self.rect or (0, 0, 0, 0))


def test_window_opens_clean_and_sized_and_shows_the_key_list(monkeypatch):
    recorder = Recorder(key=ord("h"))
    recorder.install(monkeypatch)
    controls = LiveControls(FakeProcessor())
    sink = WindowSink(controls, PipelineStats(), threading.Event(), screen=(1920, 1080))
    assert recorder.calls[0] == ("named", "greenroom", WINDOW_FLAGS)
    assert WINDOW_FLAGS & cv2.WINDOW_GUI_NORMAL == cv2.WINDOW_GUI_NORMAL  # no debug toolbar
    item = FrameItem(0, np.full((2160, 3840, 3), GRAY, np.uint8))
    item.output = item.image
    sink.write(item)  # the key `h` arrives with this frame
    assert ("resize", "greenroom", 1632, 918) in recorder.calls
    assert controls.help
    recorder.key = -1
    sink.write(item)
    assert ink_rows(recorder.shown[-1]) * 918 / 2160 == pytest.approx(
        LINE_PIXELS * len(KEYS), rel=0.1)  # every key listed, legible at the window's size


WINDOW_SCRIPT = """
import threading, numpy as np, cv2
from greenroom.compositing import Blur
from greenroom.frames import FrameItem
from greenroom.pipeline.controls import LiveControls
from greenroom.pipeline.stats import PipelineStats
from greenroom.sinks.window import WindowSink, screen_size

class Processor:
    effect = Blur(10)

sink = WindowSink(LiveControls(Processor()), PipelineStats(), threading.Event())
item = FrameItem(0, np.full((2160, 3840, 3), 100, np.uint8))
item.output = item.image
for _ in range(5):
    sink.write(item)
print(*screen_size(), *cv2.getWindowImageRect("greenroom")[2:])
sink.close()
"""


def test_a_real_window_on_a_virtual_screen(tmp_path):
    """Under Xvfb (skipped without it): the window really opens at the fitted size."""
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        pytest.skip("Xvfb is not installed (apt-get install xvfb)")
    display = f":{90 + os.getpid() % 500}"
    server = subprocess.Popen([xvfb, display, "-screen", "0", "1920x1080x24", "-nolisten", "tcp"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.0)
        result = subprocess.run([sys.executable, "-c", WINDOW_SCRIPT], capture_output=True,
                                text=True, timeout=120, env={**os.environ, "DISPLAY": display})
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert result.returncode == 0, result.stderr
    numbers = [int(x) for x in result.stdout.split()]
    assert numbers == [1920, 1080, 1632, 918]  # screen read, 4K frame shown at 85% of it
