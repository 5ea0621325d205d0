"""Background effects: what replaces the background once the person mask is known.

Every effect takes an RGB uint8 frame and a float32 alpha matte in [0, 1] of the same size
(1 = person) and returns a new image. Background effects build a background image and blend it with
the frame; `Transparent` and `MaskOnly` return the matte itself (as alpha, or as the image).
Hot paths stay in OpenCV: the blend is `cv2.blendLinear` (~1.6 ms at 720p where a numpy float blend
costs ~22 ms), and blur runs at reduced resolution.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

import cv2
import numpy as np

from greenroom.compositing import edges
from greenroom.compositing.resample import halve
from greenroom.frames import I420

#: Default blur strength: Gaussian sigma in pixels of a 720-pixel-tall frame.
DEFAULT_BLUR = 15.0


def alpha_to_uint8(alpha: np.ndarray) -> np.ndarray:
    """[0, 1] float matte -> 0..255 uint8, rounded (saturating) in one OpenCV pass."""
    return cv2.convertScaleAbs(alpha, alpha=255.0)


def blend(foreground: np.ndarray, background: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """foreground * alpha + background * (1 - alpha), rounded to uint8.

    blendLinear divides by (w1 + w2 + 1e-5), so alpha 1 returns the foreground and alpha 0 the
    background exactly (the error is far below half a grey level).
    """
    return cv2.blendLinear(foreground, background, alpha, 1.0 - alpha)


def cover_resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scale `image` to cover width x height without distortion, then crop the centre."""
    ih, iw = image.shape[:2]
    scale = max(width / iw, height / ih)
    sw, sh = max(width, round(iw * scale)), max(height, round(ih * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    scaled = cv2.resize(image, (sw, sh), interpolation=interpolation)
    x0, y0 = (sw - width) // 2, (sh - height) // 2
    return np.ascontiguousarray(scaled[y0 : y0 + height, x0 : x0 + width])


class Effect(ABC):
    """An effect applied to a frame given its alpha matte."""

    #: Channels of the result: 3 (RGB), 4 (RGBA) or 1 (grayscale matte).
    channels: int = 3

    #: Whether `apply_planes` works on the planes themselves (no whole-frame RGB round trip).
    planar: bool = False

    @abstractmethod
    def apply(self, frame: np.ndarray, alpha: np.ndarray) -> np.ndarray: ...

    def apply_planes(self, picture: I420, alpha: np.ndarray, alpha_uv: np.ndarray) -> I420:
        """The effect on a yuv420p picture; `alpha` is the matte at the picture's size,
        `alpha_uv` at its chroma planes' size (half width and height).

        By default through RGB (correct for any effect that keeps three channels); effects that
        set `planar` work on the planes.
        """
        return I420.from_rgb(self.apply(picture.rgb(), alpha))

    def reset(self) -> None:  # noqa: B027 - a no-op default, overridden by effects with state
        """Forget what was carried from frame to frame (a new file); most effects carry nothing."""

    def close(self) -> None:  # noqa: B027 - a no-op default, overridden by effects with files
        """Release what the effect holds open (a video background's file); most hold nothing."""


class BackgroundEffect(Effect):
    """An effect that puts the person over a new background.

    Subclasses that paste the person on a *different* background turn on `clean_edges` (the old
    background's colour is removed from the person's soft edge) and may offer `light_wrap`
    (a little of the new background's light on the outline); see `compositing.edges`.
    """

    clean_edges: bool = False
    light_wrap: float = 0.0
    planar = True

    @abstractmethod
    def background(self, frame: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        """The new background for this frame, HxWx3 uint8 RGB."""

    def background_planes(self, picture: I420, alpha: np.ndarray, alpha_uv: np.ndarray) -> I420:
        """The new background as a yuv420p picture (by default converted from `background`)."""
        return I420.from_rgb(self.background(picture.rgb(), alpha))

    def apply(self, frame: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        return self._over(frame, self.background(frame, alpha), alpha, light_halvings=2)

    def apply_planes(self, picture: I420, alpha: np.ndarray, alpha_uv: np.ndarray) -> I420:
        """Each plane composited on its own: every step (blend, edge colour clean-up, light
        wrap) is linear in the colour, so the planes need no RGB. U and V use the half-size
        matte, and blurs there run one halving less so that they cover the same area."""
        background = self.background_planes(picture, alpha, alpha_uv)
        out = I420.blank(picture.width, picture.height)
        for plane, new, target, matte, halvings in zip(
            picture.planes(), background.planes(), out.planes(), (alpha, alpha_uv, alpha_uv),
            (2, 1, 1), strict=True,
        ):
            target[...] = self._over(plane, new, matte, light_halvings=halvings)
        return out

    def _over(self, frame: np.ndarray, background: np.ndarray, alpha: np.ndarray,
              light_halvings: int) -> np.ndarray:
        """The person of `frame` over `background` (RGB, or one plane of a picture)."""
        person = edges.clean_edge_colors(frame, alpha) if self.clean_edges else frame
        out = blend(person, background, alpha)
        if self.light_wrap > 0:
            out = edges.light_wrap(out, background, alpha, self.light_wrap, light_halvings)
        return out


class Blur(BackgroundEffect):
    """Blur the background, as if the camera's focus were on the person.

    `strength` is the Gaussian sigma in pixels of a 720-pixel-tall frame and scales with the frame
    height, so a photo and its video look alike. The blur runs at 1/2 to 1/16 resolution (a wide
    Gaussian has no fine detail to lose: the result differs from a full-resolution blur by 0.3
    grey levels on average at the default strength) and, with `halo_free`, it is normalised by
    the background weight, so the person's own colours do not bleed into the blurred background
    as a glow around them.
    """

    #: Smallest sigma, in pixels of the reduced image, that the upscale reproduces faithfully.
    MIN_SMALL_SIGMA = 2.5

    def __init__(self, strength: float = DEFAULT_BLUR, halo_free: bool = True) -> None:
        if strength < 0:
            raise ValueError(f"blur strength must be >= 0, got {strength}")
        self.strength = float(strength)
        self.halo_free = halo_free

    def background(self, frame: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        height, width = frame.shape[:2]
        sigma = self.strength * height / 720.0
        if sigma < 0.5:
            return frame
        times = int(np.clip(np.floor(np.log2(max(sigma / self.MIN_SMALL_SIGMA, 1.0))), 0, 4))
        small = halve(frame, times)
        small_sigma = sigma / (1 << times)
        # 3 sigma each side, as OpenCV picks for uint8; for float it would pick 4 (slower).
        ksize = 2 * int(np.ceil(3 * small_sigma)) + 1
        if not self.halo_free:
            blurred = cv2.GaussianBlur(small, (ksize, ksize), small_sigma)
        else:
            # Deep inside the person no background is near and the ratio is 0/0; the small
            # constant `eps` hands over smoothly to the unblurred pixels there, which the person
            # covers anyway (alpha ~ 1), instead of dividing by ~0.
            eps = np.float32(1e-2)
            channels = 1 if frame.ndim == 2 else frame.shape[2]
            weight = cv2.subtract(1.0, halve(alpha, times))
            weight3 = weight if channels == 1 else cv2.merge([weight] * channels)
            pixels = small.astype(np.float32)
            numerator = cv2.GaussianBlur(cv2.multiply(pixels, weight3), (ksize, ksize), small_sigma)
            denominator = cv2.GaussianBlur(weight, (ksize, ksize), small_sigma) + eps
            numerator = cv2.scaleAdd(pixels, eps, numerator)
            denominator3 = denominator if channels == 1 else cv2.merge([denominator] * channels)
            blurred = cv2.convertScaleAbs(cv2.divide(numerator, denominator3))
        return cv2.resize(blurred, (width, height), interpolation=cv2.INTER_LINEAR)

    def background_planes(self, picture: I420, alpha: np.ndarray, alpha_uv: np.ndarray) -> I420:
        """Each plane blurred on its own: the strength follows each plane's height, so U and V
        (half height) get half the sigma in their own pixels, the same blur on the picture."""
        out = I420.blank(picture.width, picture.height)
        for plane, target, matte in zip(picture.planes(), out.planes(),
                                        (alpha, alpha_uv, alpha_uv), strict=True):
            target[...] = self.background(plane, matte)
        return out


class ImageBackground(BackgroundEffect):
    """Replace the background with a picture, scaled to cover the frame and cropped centred."""

    def __init__(
        self, image: np.ndarray, clean_edges: bool = True, light_wrap: float = 0.0
    ) -> None:
        self.clean_edges = clean_edges
        self.light_wrap = light_wrap
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"background must be an HxWx3 uint8 RGB image, got {image.shape}")
        self.image = image
        self._cache: dict[tuple[int, int], np.ndarray] = {}
        self._planes: dict[tuple[int, int], I420] = {}

    def background(self, frame: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        height, width = frame.shape[:2]
        key = (width, height)
        if key not in self._cache:
            self._cache = {key: cover_resize(self.image, width, height)}
        return self._cache[key]

    def background_planes(self, picture: I420, alpha: np.ndarray, alpha_uv: np.ndarray) -> I420:
        return _converted_once(self._planes, picture, lambda: self.background(picture.y, alpha))


class ColorBackground(BackgroundEffect):
    """Replace the background with one colour, e.g. a green screen for a later chroma key."""

    def __init__(
        self, rgb: tuple[int, int, int], clean_edges: bool = True, light_wrap: float = 0.0
    ) -> None:
        self.clean_edges = clean_edges
        self.light_wrap = light_wrap
        self.rgb = tuple(int(c) for c in rgb)
        self._cache: dict[tuple[int, int], np.ndarray] = {}
        self._planes: dict[tuple[int, int], I420] = {}

    def background(self, frame: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        height, width = frame.shape[:2]
        key = (width, height)
        if key not in self._cache:
            self._cache = {key: np.full((height, width, 3), self.rgb, np.uint8)}
        return self._cache[key]

    def background_planes(self, picture: I420, alpha: np.ndarray, alpha_uv: np.ndarray) -> I420:
        return _converted_once(self._planes, picture, lambda: self.background(picture.y, alpha))


def _converted_once(cache: dict[tuple[int, int], I420], picture: I420,
                    rgb: Callable[[], np.ndarray]) -> I420:
    """A fixed background in yuv420p, converted once per picture size and kept."""
    key = (picture.width, picture.height)
    if key not in cache:
        cache.clear()
        cache[key] = I420.from_rgb(rgb())
    return cache[key]


class Passthrough(Effect):
    """No effect: the frame as it came (the live preview's "off" switch)."""

    planar = True

    def apply(self, frame: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        return frame

    def apply_planes(self, picture: I420, alpha: np.ndarray, alpha_uv: np.ndarray) -> I420:
        return picture


class Transparent(Effect):
    """Remove the background: RGBA output whose alpha is the matte.

    With `clean_edges` (default) the soft edge's colours are the person's own, not a mix with
    the old background, so the cut-out looks right over any new background.
    """

    channels = 4

    def __init__(self, clean_edges: bool = True) -> None:
        self.clean_edges = clean_edges

    def apply(self, frame: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        person = edges.clean_edge_colors(frame, alpha) if self.clean_edges else frame
        return cv2.merge([*cv2.split(person), alpha_to_uint8(alpha)])


class MaskOnly(Effect):
    """The matte itself as an 8-bit image: 0 = background, 255 = person."""

    channels = 1

    def apply(self, frame: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        return alpha_to_uint8(alpha)
