"""Background effects: what replaces the background once the person mask is known.

Every effect takes an RGB uint8 frame and a float32 alpha matte in [0, 1] of the same size
(1 = person) and returns a new image. Background effects build a background image and blend it with
the frame; `Transparent` and `MaskOnly` return the matte itself (as alpha, or as the image).
Hot paths stay in OpenCV: the blend is `cv2.blendLinear` (~1.6 ms at 720p where a numpy float blend
costs ~22 ms), and blur runs at reduced resolution.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import cv2
import numpy as np

from greenroom.compositing import edges
from greenroom.compositing.resample import halve, upscale
from greenroom.frames import I420, Box

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


def blend8(foreground: np.ndarray, background: np.ndarray, alpha8: np.ndarray,
           out: np.ndarray | None = None) -> np.ndarray:
    """`blend` with a uint8 matte (0..255), in integer arithmetic: for one plane of a yuv420p
    picture, where it needs a quarter of the float version's memory traffic. Within one level
    of `blend`."""
    person = cv2.multiply(foreground, alpha8, scale=1 / 255)
    rest = cv2.multiply(background, cv2.bitwise_not(alpha8), scale=1 / 255)
    return cv2.add(person, rest, dst=out)


class PlaneMatte:
    """The matte of a yuv420p picture, at each plane's size, made when first asked for.

    It is formed at the chroma planes' size (`uv`, half width and height: where the guided
    filter works anyway) or at the picture's (`full`, small frames). Blending takes uint8
    (`blend_weights`, from `y8` and `uv8`), the edge work float (`y`, `uv`). `box` (x0, y0,
    x1, y1, in `uv`'s pixels) says the matte is 0 outside it, all background there: the Y
    matte is then only brought up, and the planes only blended, inside it (`box_of`).
    """

    def __init__(self, size: tuple[int, int], uv: np.ndarray | None = None,
                 full: np.ndarray | None = None, box: Box | None = None) -> None:
        if (uv is None) == (full is None):
            raise ValueError("give the matte at one size: uv or full")
        if box is not None and uv is None:
            raise ValueError("a box goes with a matte formed at the chroma planes' size")
        self.size = size  # (width, height) of the picture
        self._uv, self._y = uv, full
        self.box = box
        self._uv8: np.ndarray | None = None
        self._y8: np.ndarray | None = None

    def box_of(self, luma: bool) -> Box | None:
        """Where the Y (`luma`) or a chroma plane needs blending; None for all of it. The Y box
        is the chroma box doubled and one chroma pixel wider each side, as far as the
        bilinear enlargement reads."""
        if self.box is None or not luma:
            return self.box
        x0, y0, x1, y1 = self.box
        width, height = self.size
        return (max(0, 2 * x0 - 2), max(0, 2 * y0 - 2), min(width, 2 * x1 + 2),
                min(height, 2 * y1 + 2))

    @property
    def uv(self) -> np.ndarray:
        if self._uv is None:
            assert self._y is not None
            half = (self.size[0] // 2, self.size[1] // 2)
            self._uv = cv2.resize(self._y, half, interpolation=cv2.INTER_AREA)
        return self._uv

    @property
    def y(self) -> np.ndarray:
        if self._y is None:
            self._y = cv2.resize(self.uv, self.size, interpolation=cv2.INTER_LINEAR)
        return self._y

    @property
    def uv8(self) -> np.ndarray:
        if self._uv8 is None:
            if self.box is None:
                self._uv8 = alpha_to_uint8(self.uv)
            else:  # 0 outside the box: only the inside is converted
                x0, y0, x1, y1 = self.box
                self._uv8 = np.zeros(self.uv.shape, np.uint8)
                self._uv8[y0:y1, x0:x1] = alpha_to_uint8(self.uv[y0:y1, x0:x1])
        return self._uv8

    @property
    def y8(self) -> np.ndarray:
        if self._y8 is None:
            if self._y is not None:
                self._y8 = alpha_to_uint8(self._y)
            else:  # brought up in uint8: a quarter of the memory of a float matte
                self._y8 = upscale(self.uv8, self.size)
        return self._y8

    def blend_weights(self, luma: bool) -> tuple[np.ndarray, Box | None]:
        """The uint8 matte a blend of the Y (`luma`) or a chroma plane reads: inside
        `box_of(luma)` only, with that box (None: the whole plane). The Y matte is then
        brought up inside the box alone, never made (and zeroed) at the whole frame's size."""
        box = self.box_of(luma)
        if box is None:
            return (self.y8 if luma else self.uv8), None
        x0, y0, x1, y1 = box
        if not luma:
            return self.uv8[y0:y1, x0:x1], box
        if self._y8 is not None or self._y is not None:
            return self.y8[y0:y1, x0:x1], box
        return upscale(self.uv8, self.size, window=box), box


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

    def apply_planes(self, picture: I420, matte: PlaneMatte) -> I420:
        """The effect on a yuv420p picture with its matte at each plane's size.

        By default through RGB (correct for any effect that keeps three channels); effects that
        set `planar` work on the planes.
        """
        return I420.from_rgb(self.apply(picture.rgb(), matte.y))

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
    #: Whether `background_planes` makes a new picture each call (not one kept between frames),
    #: so that the composite can be written into it instead of into a copy. Handing back the
    #: frame itself (a blur too faint to take) is allowed: that one is never written.
    fresh_background: bool = False

    @abstractmethod
    def background(self, frame: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        """The new background for this frame, HxWx3 uint8 RGB."""

    def background_planes(self, picture: I420, matte: PlaneMatte) -> I420:
        """The new background as a yuv420p picture (by default converted from `background`)."""
        return I420.from_rgb(self.background(picture.rgb(), matte.y))

    def apply(self, frame: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        background = self.background(frame, alpha)
        person = edges.clean_edge_colors(frame, alpha) if self.clean_edges else frame
        out = blend(person, background, alpha)
        if self.light_wrap > 0:
            out = edges.light_wrap(out, background, alpha, self.light_wrap)
        return out

    def apply_planes(self, picture: I420, matte: PlaneMatte) -> I420:
        """Each plane composited on its own: every step (blend, edge colour clean-up, light
        wrap) is linear in the colour, so the planes need no RGB. U and V use the half-size
        matte, and blurs there run one halving less so that they cover the same area."""
        background = self.background_planes(picture, matte)
        # Never into the frame itself; nor with light wrap, which reads the background after
        # blending.
        in_place = self.fresh_background and background is not picture and not self.light_wrap
        out = background if in_place else I420.blank(picture.width, picture.height)
        for index, (plane, new, target) in enumerate(
            zip(picture.planes(), background.planes(), out.planes(), strict=True)
        ):
            luma = index == 0
            alpha = (matte.y if luma else matte.uv) if self.clean_edges or self.light_wrap else None
            person = edges.clean_edge_colors(plane, alpha) if self.clean_edges else plane
            weights, box = matte.blend_weights(luma)
            if box is None:
                blend8(person, new, weights, out=target)
            else:  # all background outside the box
                x0, y0, x1, y1 = box
                inside = np.s_[y0:y1, x0:x1]
                if not in_place:
                    target[...] = new
                blend8(person[inside], new[inside], weights, out=target[inside])
            if self.light_wrap > 0:
                target[...] = edges.light_wrap(target, new, alpha, self.light_wrap,
                                               2 if luma else 1)
        return out


class Blur(BackgroundEffect):
    """Blur the background, as if the camera's focus were on the person.

    `strength` is the Gaussian sigma in pixels of a 720-pixel-tall frame and scales with the frame
    height, so a photo and its video look alike. The blur runs at 1/2 to 1/16 resolution: a wide
    Gaussian has no fine detail to lose (at the default strength, on the DAVIS dancer at 720p,
    the composite differs from one with a full-resolution blur by 0.5 grey levels on average,
    PSNR 47.5 dB). With `halo_free`, it is normalised by the background weight, so the person's
    own colours do not bleed into the blurred background as a glow around them.
    """

    fresh_background = True
    #: Smallest sigma, in pixels of the reduced image, that the upscale reproduces faithfully.
    MIN_SMALL_SIGMA = 1.8
    #: Halvings done before the background weight is applied; further ones average the weighted
    #: pixels, so a block straddling the person's outline keeps only its background colours.
    #: Up to here a 4x4 block of the frame may still mix some of the person into the background.
    PLAIN_HALVINGS = 2

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
        times = self._halvings(sigma)
        plain = min(times, self.PLAIN_HALVINGS)
        blurred = self._blur_small(halve(frame, plain), halve(alpha, plain), times - plain,
                                   sigma / (1 << times))
        return upscale(blurred, (width, height))

    def _halvings(self, sigma: float) -> int:
        """How often to halve before blurring with `sigma` (in full-size pixels)."""
        return min(4, math.floor(math.log2(max(sigma / self.MIN_SMALL_SIGMA, 1.0))))

    def _blur_small(self, small: np.ndarray, alpha: np.ndarray, more: int,
                    sigma: float) -> np.ndarray:
        """The reduced picture (any channels), with `alpha` at the same size, halved `more`
        times and blurred with `sigma` (in pixels of that size)."""
        planes = cv2.split(small) if edges.channels_of(small) > 1 else [small]
        blurred = self._blur_planes(planes, alpha, more, sigma)
        return cv2.merge(blurred) if len(blurred) > 1 else blurred[0]

    def _blur_planes(self, planes: list[np.ndarray], alpha: np.ndarray, more: int,
                     sigma: float, reduced: list[np.ndarray] | None = None) -> list[np.ndarray]:
        """`_blur_small` on the picture's planes (uint8, one size), plane by plane where the
        work is per pixel: the planes of a yuv420p picture are never merged into one image
        only to be split again, which cost more than the arithmetic at these sizes.

        `reduced`, when given, is `planes` halved `more` times already (a yuv420p picture's
        cached reductions, which the matte's coarse grid has read anyway): the same values,
        not computed again."""
        # 3 sigma each side, as OpenCV picks for uint8; for float it would pick 4 (slower).
        ksize = (2 * int(np.ceil(3 * sigma)) + 1,) * 2
        if not self.halo_free:
            small = cv2.merge(planes) if len(planes) > 1 else planes[0]
            blurred = cv2.GaussianBlur(halve(small, more), ksize, sigma)
            return list(cv2.split(blurred)) if len(planes) > 1 else [blurred]
        weight = cv2.subtract(1.0, alpha)
        # The weighted pixels and their weight as one image (4 channels for RGB or YUV, which
        # OpenCV's area halving and Gaussian take on fast paths that 3 channels miss), merged
        # from single planes: merging a three-channel image with a one-channel one takes
        # OpenCV's generic channel mixing, which cost more than the blur itself (0.7 ms at
        # 320x180).
        both = cv2.merge([cv2.multiply(plane, weight, dtype=cv2.CV_32F) for plane in planes]
                         + [weight])
        if more:  # average the weighted pixels and their weights, block by block
            both = halve(both, more)
        *weighted, weight = cv2.split(cv2.GaussianBlur(both, ksize, sigma))
        # Deep inside the person no background is near and the ratio is 0/0; the small
        # constant `eps` hands over smoothly to the unblurred pixels there, which the person
        # covers anyway (alpha ~ 1), instead of dividing by ~0.
        eps = np.float32(1e-2)
        denominator = weight + eps
        if reduced is None:
            reduced = [halve(plane, more) for plane in planes]
        return [
            cv2.convertScaleAbs(cv2.divide(
                cv2.scaleAdd(plane.astype(np.float32), eps, blurred), denominator))
            for plane, blurred in zip(reduced, weighted, strict=True)
        ]

    def background_planes(self, picture: I420, matte: PlaneMatte) -> I420:
        """The three planes blurred together: reduced to one size (Y halved once more than U
        and V, which are half size already), blurred as one image of their weighted values and
        the weights of the half-size matte, and brought back to each plane's size. The strength
        is the same on the picture as the RGB path's. A blur too faint to be taken at reduced
        size is taken on each plane at its own size, as the RGB path does."""
        sigma = self.strength * picture.height / 720.0
        times = self._halvings(sigma)
        if sigma < 0.5:
            return picture
        out = I420.blank(picture.width, picture.height)
        if times == 0:
            for plane, target, alpha in zip(picture.planes(), out.planes(),
                                            (matte.y, matte.uv, matte.uv), strict=True):
                target[...] = self.background(plane, alpha)
            return out
        plain = min(times, self.PLAIN_HALVINGS)
        small = picture.half_planes(plain - 1)
        blurred = self._blur_planes(small, halve(matte.uv, plain - 1), times - plain,
                                    sigma / (1 << times), picture.half_planes(times - 1))
        for plane, target in zip(blurred, out.planes(), strict=True):
            upscale(plane, target.shape[::-1], dst=target)
        return out


class FixedBackground(BackgroundEffect):
    """A background that does not change from frame to frame: made once per frame size, in RGB
    and in yuv420p, and kept."""

    def __init__(self, clean_edges: bool, light_wrap: float) -> None:
        self.clean_edges = clean_edges
        self.light_wrap = light_wrap
        self._rgb: tuple[tuple[int, int], np.ndarray] | None = None
        self._planes: tuple[tuple[int, int], I420] | None = None

    @abstractmethod
    def make(self, width: int, height: int) -> np.ndarray:
        """The background at this size, HxWx3 uint8 RGB."""

    def background(self, frame: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        key = (frame.shape[1], frame.shape[0])
        if self._rgb is None or self._rgb[0] != key:
            self._rgb = (key, self.make(*key))
        return self._rgb[1]

    def background_planes(self, picture: I420, matte: PlaneMatte) -> I420:
        key = (picture.width, picture.height)
        if self._planes is None or self._planes[0] != key:
            self._planes = (key, I420.from_rgb(self.make(*key)))
        return self._planes[1]


class ImageBackground(FixedBackground):
    """Replace the background with a picture, scaled to cover the frame and cropped centred."""

    def __init__(
        self, image: np.ndarray, clean_edges: bool = True, light_wrap: float = 0.0
    ) -> None:
        super().__init__(clean_edges, light_wrap)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"background must be an HxWx3 uint8 RGB image, got {image.shape}")
        self.image = image

    def make(self, width: int, height: int) -> np.ndarray:
        return cover_resize(self.image, width, height)


class ColorBackground(FixedBackground):
    """Replace the background with one colour, e.g. a green screen for a later chroma key."""

    def __init__(
        self, rgb: tuple[int, int, int], clean_edges: bool = True, light_wrap: float = 0.0
    ) -> None:
        super().__init__(clean_edges, light_wrap)
        self.rgb = tuple(int(c) for c in rgb)

    def make(self, width: int, height: int) -> np.ndarray:
        return np.full((height, width, 3), self.rgb, np.uint8)


class Passthrough(Effect):
    """No effect: the frame as it came (the live preview's "off" switch)."""

    planar = True

    def apply(self, frame: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        return frame

    def apply_planes(self, picture: I420, matte: PlaneMatte) -> I420:
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
