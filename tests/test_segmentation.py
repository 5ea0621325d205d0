"""The default model on real photos: right answer, and exactly MediaPipe's answer."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from greenroom.errors import InputError
from greenroom.segmentation import (
    AutoSelfieSegmenter,
    MediaPipeSelfieSegmenter,
    load_segmenter,
    mask_to_frame,
    registry,
)
from greenroom.segmentation.download import sha256_of
from greenroom.segmentation.mediapipe_selfie import VARIANTS, builtin_model_path

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


REFERENCE = Path(__file__).parent / "data" / "mediapipe_reference.npz"


@pytest.mark.parametrize("frame_name", ["portrait", "wide"])
@pytest.mark.parametrize("variant", ["general", "landscape"])
def test_matches_mediapipe_0_10_21(frame_name, variant):
    """Same model file, same preprocessing: MediaPipe's own graph gave the same mask.

    The reference masks were made once with mediapipe 0.10.21's `solutions.selfie_segmentation`
    by `tests/data/make_mediapipe_reference.py`; the frames have odd sizes, one taller and one
    wider than the model input, to exercise the aspect-ratio squeeze and the sampling grid.
    """
    reference = np.load(REFERENCE)
    frame = reference[f"frame_{frame_name}"]
    expected = reference[f"mask_{frame_name}_{variant}"].astype(np.float32) / 65535.0
    ours = MediaPipeSelfieSegmenter(variant).segment(frame)
    full = mask_to_frame(ours, (frame.shape[1], frame.shape[0]))
    assert full.shape == expected.shape
    # The masks are not trivial (a person and a background), so agreement means something.
    assert expected.max() > 0.99 and expected.min() < 0.01
    assert np.abs(full - expected).max() < 1e-3


def test_shipped_model_files_are_mediapipes():
    """The files inside the package are byte for byte the catalogue's: MediaPipe's two from the
    mediapipe 0.10.21 wheel, and greenroom's fine-tuned one."""
    for variant in VARIANTS.values():
        info = registry.MODELS[variant.model]
        path = builtin_model_path(variant.filename)
        assert path.stat().st_size == info.size
        assert sha256_of(path) == info.sha256


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
