"""The preview window, driven for real in SDL's dummy video driver (no display needed)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from greenroom.compositing import Blur, ColorBackground
from greenroom.frames import Frame
from greenroom.pipeline import Processor
from greenroom.pipeline.controls import LiveControls
from greenroom.pipeline.preview import PreviewPanel
from greenroom.pipeline.stats import PipelineStats
from greenroom.sinks.window import WindowSink, fit_size

pygame = pytest.importorskip("pygame", reason="the preview window needs greenroom[camera]")


@pytest.fixture
def window(monkeypatch):
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    processor = Processor(Blur(10), model="selfie-general")
    stop = threading.Event()
    sink = WindowSink(PreviewPanel(LiveControls(processor), PipelineStats()), stop)
    yield sink, processor, stop
    sink.close()


def frame(width: int = 640, height: int = 360) -> Frame:
    image = np.zeros((height, width, 3), np.uint8)
    image[:, :, 1] = 200  # a plain green frame: any text drawn on it shows
    return Frame(0, image, output=image)


def press(text: str, key: int = 0) -> None:
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, unicode=text, key=key, mod=0))


def test_fit_size_keeps_the_aspect_and_fits_the_screen():
    assert fit_size((640, 360), (1920, 1080)) == (640, 360)  # small frames open at their size
    width, height = fit_size((3840, 2160), (1920, 1080))
    assert width <= 0.85 * 1920 and height <= 0.85 * 1080
    assert width / height == pytest.approx(16 / 9, rel=0.01)
    assert fit_size((1080, 1920), (1920, 1080))[1] <= 0.85 * 1080  # a portrait phone clip
    assert fit_size((640, 360), None) == (640, 360)


def test_window_opens_at_the_frame_size_and_shows_the_frame(window):
    sink, _, stop = window
    sink.write(frame())
    screen = pygame.display.get_surface()
    desktop = pygame.display.get_desktop_sizes()[0]
    assert screen.get_size() == fit_size((640, 360), desktop)
    shown = pygame.surfarray.array3d(screen)  # (width, height, 3)
    assert np.all(shown[shown.shape[0] // 2, shown.shape[1] // 2] == (0, 200, 0))
    assert not stop.is_set()


def test_keys_reach_the_controls_and_h_lists_the_hotkeys(window):
    sink, processor, stop = window
    sink.write(frame())
    plain = pygame.surfarray.array3d(pygame.display.get_surface()).copy()
    press("c")
    press("h")
    sink.write(frame())  # events are handled after the frame is shown
    assert isinstance(processor.effect, ColorBackground)
    assert sink.panel.controls.help
    sink.write(frame())
    with_help = pygame.surfarray.array3d(pygame.display.get_surface())
    changed = np.any(with_help != plain, axis=-1)
    assert changed[:, : plain.shape[1] // 2].mean() > 0.05  # text over the top half
    assert not changed[:, -10:].any()  # the bottom rows are still the frame
    assert any("quit" in line for line in sink.panel.controls.help_lines())
    press("h")
    press("q")
    sink.write(frame())
    assert not sink.panel.controls.help
    assert stop.is_set()


def test_closing_the_window_stops_the_run(window):
    sink, _, stop = window
    sink.write(frame())
    pygame.event.post(pygame.event.Event(pygame.QUIT))
    sink.write(frame())
    assert stop.is_set()


def test_big_frames_are_scaled_into_the_window(window):
    sink, _, _ = window
    pygame.display.init()
    desktop = pygame.display.get_desktop_sizes()[0]
    big = frame(int(desktop[0] * 1.5), int(desktop[1] * 1.5))
    sink.write(big)
    width, height = pygame.display.get_surface().get_size()
    assert width < big.image.shape[1] and height < big.image.shape[0]
