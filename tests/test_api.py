"""The library API: one call for the common case, a Processor for many frames."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import greenroom
from greenroom.samples import sample_path


def test_replace_background_returns_the_input_kind(astronaut_rgb):
    as_array = greenroom.replace_background(astronaut_rgb, blur=10)
    assert isinstance(as_array, np.ndarray) and as_array.shape == (512, 512, 3)
    as_pil = greenroom.replace_background(Image.fromarray(astronaut_rgb), blur=10)
    assert isinstance(as_pil, Image.Image) and as_pil.size == (512, 512)
    np.testing.assert_array_equal(np.asarray(as_pil), as_array)
    from_path = greenroom.replace_background(sample_path("astronaut.jpg"), blur=10)
    np.testing.assert_array_equal(from_path, as_array)


def test_each_effect_by_keyword(astronaut_rgb):
    rocket = sample_path("rocket.jpg")
    assert greenroom.replace_background(astronaut_rgb, background=rocket).shape == (512, 512, 3)
    green = greenroom.replace_background(astronaut_rgb, color="lime")
    assert tuple(green[10, 500]) == (0, 255, 0)
    assert greenroom.replace_background(astronaut_rgb, transparent=True).shape == (512, 512, 4)
    assert greenroom.replace_background(astronaut_rgb, mask=True).shape == (512, 512)


def test_default_effect_is_blur(astronaut_rgb):
    default = greenroom.replace_background(astronaut_rgb)
    np.testing.assert_array_equal(default, greenroom.replace_background(astronaut_rgb, blur=True))
    assert not np.array_equal(default, astronaut_rgb)


def test_conflicting_effects_are_an_error(astronaut_rgb):
    with pytest.raises(ValueError, match="choose one effect"):
        greenroom.replace_background(astronaut_rgb, blur=5, color="red")


def test_processor_reuses_the_model_across_frames(astronaut_rgb):
    with greenroom.Processor(greenroom.ColorBackground((0, 0, 255))) as processor:
        first = processor.process(astronaut_rgb)
        segmenter = processor.segmenter
        matte = processor.matte(astronaut_rgb) > 0.5
        mirrored = processor.matte(np.ascontiguousarray(astronaut_rgb[:, ::-1]))[:, ::-1] > 0.5
        assert processor.segmenter is segmenter
    np.testing.assert_array_equal(first[10, 500], (0, 0, 255))
    # A mirrored photo gives (nearly) the mirrored matte: the model is not exactly symmetric.
    iou = np.logical_and(matte, mirrored).sum() / np.logical_or(matte, mirrored).sum()
    assert iou > 0.95


def test_grayscale_and_rgba_inputs_are_accepted(astronaut_rgb):
    gray = astronaut_rgb.mean(axis=2).astype(np.uint8)
    assert greenroom.replace_background(gray, mask=True).shape == (512, 512)
    rgba = np.dstack([astronaut_rgb, np.full((512, 512), 255, np.uint8)])
    assert greenroom.replace_background(rgba, blur=5).shape == (512, 512, 3)
