"""Each effect's invariants, on the real sample photo and on hand-made mattes."""

from __future__ import annotations

import numpy as np
import pytest

from greenroom.compositing import (
    Blur,
    ColorBackground,
    ImageBackground,
    MaskOnly,
    Transparent,
    alpha_to_uint8,
    blend,
    cover_resize,
    parse_color,
)
from greenroom.errors import InputError
from greenroom.samples import rocket


@pytest.fixture(scope="module")
def frame(astronaut_rgb) -> np.ndarray:
    return astronaut_rgb


def ones(frame: np.ndarray) -> np.ndarray:
    return np.ones(frame.shape[:2], np.float32)


def zeros(frame: np.ndarray) -> np.ndarray:
    return np.zeros(frame.shape[:2], np.float32)


BACKGROUND_EFFECTS = [
    lambda: Blur(15),
    lambda: Blur(15, halo_free=False),
    lambda: ImageBackground(rocket()),
    lambda: ColorBackground((0, 177, 64)),
]


@pytest.mark.parametrize("make", BACKGROUND_EFFECTS)
def test_all_person_returns_the_frame(frame, make):
    np.testing.assert_array_equal(make().apply(frame, ones(frame)), frame)


@pytest.mark.parametrize("make", BACKGROUND_EFFECTS)
def test_all_background_returns_the_background(frame, make):
    effect = make()
    alpha = zeros(frame)
    np.testing.assert_array_equal(effect.apply(frame, alpha), effect.background(frame, alpha))


def test_color_background_is_the_colour(frame):
    out = ColorBackground((0, 177, 64)).apply(frame, zeros(frame))
    assert out.shape == frame.shape
    assert (out.reshape(-1, 3) == (0, 177, 64)).all()


def test_half_alpha_is_the_average(frame):
    background = np.zeros_like(frame)
    out = blend(frame, background, np.full(frame.shape[:2], 0.5, np.float32))
    assert np.abs(out.astype(int) - frame.astype(int) / 2).max() <= 1


def test_person_region_kept_background_replaced_with_real_matte(frame, general_segmenter):
    """With the model's matte, the face keeps its pixels and the corner becomes the colour."""
    from greenroom.segmentation import mask_to_frame

    alpha = mask_to_frame(general_segmenter.segment(frame), (512, 512))
    out = ColorBackground((255, 0, 255)).apply(frame, alpha)
    face = (slice(50, 140), slice(200, 270))
    corner = (slice(0, 100), slice(420, 512))
    assert np.abs(out[face].astype(int) - frame[face]).mean() < 3
    assert np.abs(out[corner].astype(int) - (255, 0, 255)).mean() < 3


def test_blur_removes_detail_and_keeps_brightness(frame):
    blurred = Blur(15).background(frame, zeros(frame))
    assert blurred.shape == frame.shape and blurred.dtype == np.uint8
    gradient = np.abs(np.diff(blurred.astype(int), axis=1)).mean()
    assert gradient < 0.25 * np.abs(np.diff(frame.astype(int), axis=1)).mean()
    assert abs(blurred.mean() - frame.mean()) < 3


def test_stronger_blur_is_smoother(frame):
    def roughness(strength: float) -> float:
        return float(np.abs(np.diff(Blur(strength).background(frame, zeros(frame)).astype(int),
                                    axis=1)).mean())

    assert roughness(30) < roughness(8) < roughness(2)


def test_blur_strength_zero_is_identity(frame):
    np.testing.assert_array_equal(Blur(0).apply(frame, zeros(frame)), frame)


def test_halo_free_blur_keeps_the_person_out_of_the_background():
    """A white person on black: plain blur glows grey around them, halo-free stays black."""
    frame = np.zeros((360, 640, 3), np.uint8)
    alpha = np.zeros((360, 640), np.float32)
    frame[80:280, 260:380] = 255
    alpha[80:280, 260:380] = 1.0
    ring = (slice(100, 260), slice(382, 400))  # background 2-20 px right of the person
    plain = Blur(15, halo_free=False).background(frame, alpha)
    clean = Blur(15, halo_free=True).background(frame, alpha)
    assert plain[ring].mean() > 20
    assert clean[ring].mean() < 2


@pytest.mark.parametrize("height", [720, 1080])
def test_halo_free_blur_keeps_the_person_out_wherever_the_outline_falls(height):
    """The same at video sizes, with the outline between the reduced image's pixels: the
    blocks that straddle it are averaged by background weight, so the person's white barely
    reaches the background (an unweighted average of 8x8 blocks at 1080p glowed at 11.6)."""
    scale = height / 360
    frame = np.zeros((height, height * 16 // 9, 3), np.uint8)
    alpha = np.zeros(frame.shape[:2], np.float32)
    person = np.s_[int(80 * scale):int(280 * scale), int(260 * scale) + 1:int(380 * scale) + 1]
    frame[person], alpha[person] = 255, 1.0
    right = int(380 * scale) + 1
    ring = np.s_[int(100 * scale):int(260 * scale), right + 2:right + 20]
    assert Blur(15, halo_free=False).background(frame, alpha)[ring].mean() > 20
    assert Blur(15).background(frame, alpha)[ring].mean() < 7


def test_reduced_blur_looks_like_a_full_resolution_blur(general_segmenter):
    """The blur runs at 1/8 size on a 720p frame; composited over the real matte it differs
    from a full-resolution blur by under a grey level on average (at 1/16 it would not)."""
    from greenroom.samples import astronaut
    from greenroom.segmentation import mask_to_frame

    frame = cover_resize(astronaut(), 1280, 720)
    alpha = mask_to_frame(general_segmenter.segment(frame), (1280, 720))

    class FullResolution(Blur):
        MIN_SMALL_SIGMA = 1e9  # never reduced

    reference = FullResolution(15).apply(frame, alpha).astype(np.float64)
    ours = Blur(15)
    assert ours._halvings(15.0) == 3
    error = ours.apply(frame, alpha) - reference
    assert np.abs(error).mean() < 1.0
    assert 10 * np.log10(255**2 / np.mean(error**2)) > 40
    cruder = Blur(15)
    cruder.MIN_SMALL_SIGMA = 0.9  # 1/16 size: too coarse, and the test says so
    assert np.abs(cruder.apply(frame, alpha) - reference).mean() > np.abs(error).mean()


def test_cover_resize_fills_without_distortion():
    # A wide image whose columns encode x: covering a square must crop the sides, not squash.
    wide = np.zeros((100, 400, 3), np.uint8)
    wide[:, :, 0] = np.linspace(0, 255, 400, dtype=np.uint8)[None, :]
    wide[:, 195:205] = (0, 255, 0)  # a centred stripe
    out = cover_resize(wide, 200, 200)
    assert out.shape == (200, 200, 3)
    stripe = np.where(out[100, :, 1] > 128)[0]
    assert stripe.min() >= 88 and stripe.max() <= 112  # 10 px wide, scaled x2, still centred
    assert 18 <= len(stripe) <= 22


def test_image_background_covers_any_frame_size(frame):
    effect = ImageBackground(rocket())
    for shape in [(720, 1280, 3), (800, 600, 3), (50, 500, 3)]:
        canvas = np.zeros(shape, np.uint8)
        assert effect.background(canvas, zeros(canvas)).shape == shape


def test_transparent_has_the_matte_as_alpha(frame):
    alpha = np.tile(np.linspace(0, 1, 512, dtype=np.float32), (512, 1))
    out = Transparent(clean_edges=False).apply(frame, alpha)
    assert out.shape == (512, 512, 4)
    np.testing.assert_array_equal(out[:, :, :3], frame)
    np.testing.assert_array_equal(out[:, :, 3], np.round(alpha * 255).astype(np.uint8))
    cleaned = Transparent().apply(frame, alpha)
    np.testing.assert_array_equal(cleaned[:, :, 3], out[:, :, 3])
    # Only the soft band changes colour; fully opaque and fully clear pixels keep theirs.
    np.testing.assert_array_equal(cleaned[:, -1, :3], frame[:, -1])
    assert not np.array_equal(cleaned[:, 100:400, :3], frame[:, 100:400])


def test_edge_cleanup_removes_the_old_background_from_the_edge():
    """A red person on a green screen with a soft edge: the edge pixels are red-green mixes.
    After clean-up they are mostly the person's red, so no green rim shows on a new background.
    """
    from greenroom.compositing.edges import clean_edge_colors

    person, screen = np.array([200, 30, 30]), np.array([0, 200, 0])
    alpha = np.zeros((120, 200), np.float32)
    alpha[:, 100:] = 1.0
    alpha[:, 90:100] = np.linspace(0.1, 0.9, 10, dtype=np.float32)
    mixed = alpha[:, :, None] * person + (1 - alpha[:, :, None]) * screen
    frame = np.round(mixed).astype(np.uint8)
    cleaned = clean_edge_colors(frame, alpha)
    edge = (slice(None), slice(92, 100))
    before, after = frame[edge][..., 1].mean(), cleaned[edge][..., 1].mean()
    assert before > 90  # plenty of green in the edge
    assert after < 0.5 * before  # mostly the person's own colour (green 30)
    assert cleaned[edge][..., 0].mean() > frame[edge][..., 0].mean() + 40  # and more of its red
    np.testing.assert_array_equal(cleaned[:, :80], frame[:, :80])
    np.testing.assert_array_equal(cleaned[:, 110:], frame[:, 110:])


def test_edge_cleanup_brings_a_real_edge_closer_to_the_person(astronaut_rgb):
    """The sample portrait composited on a green screen with its own (refined) matte, at 720p:
    after clean-up, the edge pixels pasted on a new background are closer to the truth."""
    from greenroom.compositing import cover_resize
    from greenroom.compositing.edges import clean_edge_colors
    from greenroom.pipeline import Processor

    person = cover_resize(astronaut_rgb, 1280, 720)
    with Processor() as processor:
        alpha = processor.matte(person)
    a = alpha[:, :, None]
    screen = np.zeros_like(person)
    screen[:] = (0, 177, 64)
    frame = np.round(a * person + (1 - a) * screen).astype(np.uint8)
    band = (alpha > 0.02) & (alpha < 0.98)
    assert band.sum() > 10_000

    def pasted_error(image: np.ndarray) -> float:  # what shows on a new background
        difference = np.abs(image[band] - person[band].astype(float))
        return float((alpha[band][:, None] * difference).mean())

    before, after = pasted_error(frame), pasted_error(clean_edge_colors(frame, alpha))
    assert after < 0.88 * before, (before, after)  # measured: 15.7 -> 12.8


def test_light_wrap_brightens_only_the_outline():
    from greenroom.compositing.edges import light_wrap

    composite = np.zeros((180, 320, 3), np.uint8)
    background = np.full((180, 320, 3), 255, np.uint8)
    alpha = np.zeros((180, 320), np.float32)
    alpha[40:140, 100:220] = 1.0
    out = light_wrap(composite, background, alpha, strength=0.5)
    assert out[90, 102].mean() > 20  # just inside the edge: some background light
    assert out[90, 160].mean() < 3  # the middle of the person: none
    np.testing.assert_array_equal(out[:30], composite[:30])  # background untouched


def test_mask_only_is_the_8bit_matte(frame):
    alpha = np.zeros((512, 512), np.float32)
    alpha[100:200] = 1.0
    alpha[300:310] = 0.5
    out = MaskOnly().apply(frame, alpha)
    assert out.dtype == np.uint8 and out.shape == (512, 512)
    assert (out[100:200] == 255).all() and (out[:100] == 0).all()
    assert (np.abs(out[300:310].astype(int) - 128) <= 1).all()
    np.testing.assert_array_equal(alpha_to_uint8(alpha), out)


@pytest.mark.parametrize(
    ("text", "rgb"),
    [
        ("green", (0, 128, 0)),
        ("#00b140", (0, 177, 64)),
        ("00b140", (0, 177, 64)),
        ("#fff", (255, 255, 255)),
        ("rgb(1, 2, 3)", (1, 2, 3)),
        ("RoyalBlue", (65, 105, 225)),
    ],
)
def test_parse_color(text, rgb):
    assert parse_color(text) == rgb


@pytest.mark.parametrize("text", ["blurple", "#12345", "", "rgb(1,2)"])
def test_unknown_colours_are_rejected(text):
    with pytest.raises(InputError, match="unknown colour"):
        parse_color(text)
