"""Edge care when the person is put on a new background: colour clean-up and light wrapping.

* **Colour clean-up.** Pixels on the person's soft edge (hair, a blurry shoulder) are a mix of
  the person and the *old* background; pasted on a new background they show a fringe of the old
  one (a green rim from a green screen, a dark halo from a dark room). We estimate the person's
  own colour there with blur-fusion foreground estimation (Germer et al., "Fast Multi-Level
  Foreground Estimation", 2020, one level): F = F~ + a (I - a F~ - (1 - a) B~), where F~ and B~
  are alpha-weighted blurs of the person and the background. Only the edge band changes.
* **Light wrapping.** A real person in front of a bright scene picks up some of its light on
  their outline. Mixing a little of the blurred new background into the person's edge makes a
  replaced background look less pasted on (Meet does this).

Blurs run at a quarter of the resolution, like the background blur.
"""

from __future__ import annotations

import cv2
import numpy as np

from greenroom.compositing.resample import halve, levels_to


def _upscale(image: np.ndarray, width: int, height: int) -> np.ndarray:
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)


def channels_of(image: np.ndarray) -> int:
    return 1 if image.ndim == 2 else image.shape[2]


def spread(weight: np.ndarray, channels: int) -> np.ndarray:
    """A one-channel weight repeated for each channel of the pixels it weighs."""
    return weight if channels == 1 else cv2.merge([weight] * channels)


class _WeightedBlur:
    """blur(pixels * weight) / blur(weight): the average colour of the weighted region nearby.

    The weight stays the same over the blur-fusion rounds, so its blur (the denominator) is
    computed once. Pixels have `channels` channels: 3 for RGB, 1 for one plane of a yuv420p
    picture (the arithmetic is linear, so it is the same per plane).
    """

    def __init__(self, weight: np.ndarray, sigma: float, channels: int = 3) -> None:
        self.ksize = (2 * int(np.ceil(3 * sigma)) + 1,) * 2
        self.sigma = sigma
        self.weight3 = spread(weight, channels)
        denominator = cv2.GaussianBlur(weight, self.ksize, sigma) + np.float32(1e-3)
        self.denominator3 = spread(denominator, channels)

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        numerator = cv2.GaussianBlur(cv2.multiply(pixels, self.weight3), self.ksize, self.sigma)
        return cv2.divide(numerator, self.denominator3)


#: Height (pixels) the colour estimates are formed at, at least: they are smooth, and a coarser
#: grid costs less. On a green-screen composite of the sample portrait with its real matte,
#: 90-135 px (3 halvings at 720p and 1080p) gives a compositing error within 1% of 180-270 px
#: (2 halvings) in half the time: 3.1 against 5.5 ms at 720p.
WORKING_HEIGHT = 90


def clean_edge_colors(
    frame: np.ndarray, alpha: np.ndarray, halvings: int | None = None
) -> np.ndarray:
    """The frame with the old background's colour removed from the person's soft edge.

    Pixels with alpha 0 or 1 are returned unchanged; the edge band gets the estimated
    foreground colour. uint8 RGB in and out, or one plane of a yuv420p picture with the matte
    at that plane's size. The blurred estimates are sampled (bilinearly)
    at the band's pixels only, so the cost follows the length of the outline, not the frame.
    `halvings` sets the estimates' resolution (default: from `WORKING_HEIGHT`, at least 2).
    """
    if halvings is None:
        halvings = max(2, levels_to(frame.shape[0], WORKING_HEIGHT))
    points = cv2.findNonZero(cv2.inRange(alpha, 0.02, 0.98))  # the band, in row-major order
    if points is None or len(points) == 0:
        return frame
    points = points.reshape(-1, 2)  # OpenCV 4 gives (N, 1, 2), OpenCV 5 (N, 2)
    xs, ys = points[:, 0], points[:, 1]
    small = halve(frame, halvings).astype(np.float32)
    small_alpha = halve(alpha, halvings)
    sigma = max(1.0, small.shape[0] / 120)
    # A few blur-fusion rounds at low resolution, each re-blurring the previous estimates, pull
    # the foreground and background colours apart (one round leaves them partly mixed).
    channels = channels_of(frame)
    person = _WeightedBlur(small_alpha, sigma, channels)
    rest = _WeightedBlur(cv2.subtract(1.0, small_alpha), sigma, channels)
    a3, b3 = person.weight3, rest.weight3
    fore, back = small, small
    for _ in range(3):
        foreground, background = person(fore), rest(back)
        residual = small - cv2.multiply(a3, foreground) - cv2.multiply(b3, background)
        fore = cv2.add(foreground, cv2.multiply(a3, residual))
        back = cv2.add(background, cv2.multiply(b3, residual))
    # Band pixel centres in the small images' coordinates, laid out as a 2-D map for cv2.remap
    # (which takes at most 32767 columns), padded to whole rows.
    count = len(ys)
    columns = 1024
    rows = -(-count // columns)
    map_x = np.zeros(rows * columns, np.float32)
    map_y = np.zeros(rows * columns, np.float32)
    map_x[:count] = (xs + 0.5) * (small.shape[1] / frame.shape[1]) - 0.5
    map_y[:count] = (ys + 0.5) * (small.shape[0] / frame.shape[0]) - 0.5
    map_x, map_y = map_x.reshape(rows, columns), map_y.reshape(rows, columns)

    def sample(image: np.ndarray) -> np.ndarray:
        values = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        return values.reshape(-1, channels)[:count]

    f, b = sample(foreground), sample(background)
    # Flat indices: one gather/scatter per array instead of numpy's slower 2-D fancy indexing.
    flat = ys.astype(np.intp) * frame.shape[1] + xs
    a = np.take(alpha.reshape(-1), flat)[:, None]
    image = np.take(frame.reshape(-1, channels), flat, axis=0).astype(np.float32)
    # F = F~ + a (I - a F~ - (1 - a) B~), in place on the gathered pixels.
    estimate = image
    estimate -= a * f
    estimate -= (1 - a) * b
    estimate *= a
    estimate += f
    np.clip(estimate, 0, 255, out=estimate)
    out = frame.copy()
    out.reshape(-1, channels)[flat] = estimate.astype(np.uint8)
    return out


def light_wrap(
    composite: np.ndarray,
    background: np.ndarray,
    alpha: np.ndarray,
    strength: float = 0.3,
    halvings: int = 2,
) -> np.ndarray:
    """Mix blurred background light into the person's outline (just inside the edge)."""
    height, width = composite.shape[:2]
    small_alpha = halve(alpha, halvings)
    sigma = max(1.0, small_alpha.shape[0] / 60)
    ksize = 2 * int(np.ceil(3 * sigma)) + 1
    outside = cv2.GaussianBlur(cv2.subtract(1.0, small_alpha), (ksize, ksize), sigma)
    weight = _upscale(cv2.multiply(outside, small_alpha, scale=strength), width, height)
    glow = _upscale(cv2.GaussianBlur(halve(background, halvings), (ksize, ksize), sigma),
                    width, height)
    return cv2.blendLinear(glow, composite, weight, cv2.subtract(1.0, weight))
