"""The camera's basics: mirroring and the hotkey list (the window itself: test_window.py)."""

from __future__ import annotations

import numpy as np

from greenroom.compositing import Blur
from greenroom.frames import Frame
from greenroom.pipeline.controls import HELP, KEYS, LiveControls
from greenroom.pipeline.mirror import Mirror


class FakeProcessor:
    effect = Blur(10)


def frame_items(count: int) -> list[Frame]:
    image = np.zeros((4, 6, 3), np.uint8)
    image[:, 0] = 255  # the left column is white: mirrored, it is the right one
    return [Frame(i, image.copy()) for i in range(count)]


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
