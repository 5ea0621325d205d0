"""The default model on real photos: right answer, and exactly MediaPipe's answer."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from greenroom.errors import InputError
from greenroom.segmentation import (
    AutoSelfieSegmenter,
    MediaPipeSelfieSegmenter,
    load_segmenter,
    mask_to_frame,
)

# Regions of the 512x512 astronaut photo, (y0, y1, x0, x1): her face and her orange suit, and
# the top-right corner (flag/wall background) and the top-left corner (US flag).
FACE = (50, 140, 200, 270)
TORSO = (280, 420, 120, 300)
BACKGROUND_TOP_RIGHT = (0, 120, 400, 512)
BACKGROUND_TOP_LEFT = (0, 60, 0, 90)


def region(mask: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    y0, y1, x0, x1 = box
    return mask[y0:y1, x0:x1]


@pytest.mark.parametrize("variant", ["general", "landscape"])
def test_person_is_one_and_background_is_zero(astronaut_rgb, variant):
    segmenter = MediaPipeSelfieSegmenter(variant)
    small = segmenter.segment(astronaut_rgb)
    assert small.dtype == np.float32
    assert small.shape == (segmenter.variant.height, segmenter.variant.width)
    assert small.min() >= 0.0 and small.max() <= 1.0
    mask = mask_to_frame(small, (512, 512))
    assert np.mean(region(mask, FACE) > 0.5) > 0.95
    assert np.mean(region(mask, TORSO) > 0.5) > 0.95
    assert np.mean(region(mask, BACKGROUND_TOP_RIGHT) < 0.5) > 0.95
    assert np.mean(region(mask, BACKGROUND_TOP_LEFT) < 0.5) > 0.95


@pytest.mark.parametrize(("model_selection", "variant"), [(0, "general"), (1, "landscape")])
def test_matches_mediapipe_solution(astronaut_rgb, model_selection, variant):
    """Same model file, same preprocessing: MediaPipe's own graph gives the same mask."""
    solutions = pytest.importorskip("mediapipe.python.solutions.selfie_segmentation")
    # A non-square, odd-sized crop exercises the aspect-ratio squeeze and the sampling grid.
    frame = np.ascontiguousarray(astronaut_rgb[13:500, 7:451])
    with solutions.SelfieSegmentation(model_selection=model_selection) as reference:
        expected = reference.process(frame).segmentation_mask
    ours = MediaPipeSelfieSegmenter(variant).segment(frame)
    full = mask_to_frame(ours, (frame.shape[1], frame.shape[0]))
    assert full.shape == expected.shape
    assert np.abs(full - expected).max() < 1e-3


def test_bgr_input_gives_the_same_mask(astronaut_rgb, general_segmenter):
    rgb = general_segmenter.segment(astronaut_rgb)
    bgr = general_segmenter.segment(cv2.cvtColor(astronaut_rgb, cv2.COLOR_RGB2BGR), order="bgr")
    np.testing.assert_array_equal(rgb, bgr)


def test_channel_order_matters(astronaut_rgb, general_segmenter):
    """Feeding BGR as RGB must change the answer, or the order flag would be untested."""
    rgb = general_segmenter.segment(astronaut_rgb)
    swapped = general_segmenter.segment(astronaut_rgb[:, :, ::-1].copy())
    assert np.abs(rgb - swapped).max() > 0.01


def test_auto_picks_landscape_for_wide_frames(astronaut_rgb):
    auto = AutoSelfieSegmenter()
    wide = cv2.resize(astronaut_rgb, (640, 360))
    assert auto.segment(wide).shape == (144, 256)
    assert auto.segment(astronaut_rgb).shape == (256, 256)
    assert auto.choose(1280, 720) == "landscape"
    assert auto.choose(640, 480) == "general"
    assert auto.choose(600, 800) == "general"


def test_load_segmenter_names():
    assert load_segmenter("general").name == "selfie-general"
    assert load_segmenter("selfie-landscape").name == "selfie-landscape"
    with pytest.raises(InputError, match="unknown model"):
        load_segmenter("nonexistent")


@pytest.mark.parametrize(
    "frame",
    [
        np.zeros((10, 10), np.uint8),
        np.zeros((10, 10, 4), np.uint8),
        np.zeros((10, 10, 3), np.float32),
        np.zeros((0, 10, 3), np.uint8),
    ],
)
def test_bad_frames_are_rejected(general_segmenter, frame):
    with pytest.raises(ValueError, match="frame"):
        general_segmenter.segment(frame)


def test_tiny_and_huge_aspect_frames_work(general_segmenter):
    """A 1-pixel-high strip must not crash the resampling."""
    for shape in [(1, 300, 3), (300, 1, 3), (2, 2, 3)]:
        mask = general_segmenter.segment(np.full(shape, 128, np.uint8))
        assert mask.shape == (256, 256)
        assert np.isfinite(mask).all()
