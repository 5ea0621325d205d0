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

from greenroom.compositing.resample import halve


def _upscale(image: np.ndarray, width: int, height: int) -> np.ndarray:
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)


def _weighted_blur(pixels: np.ndarray, weight: np.ndarray, sigma: float) -> np.ndarray:
    """blur(pixels * weight) / blur(weight): the average colour of the weighted region nearby."""
    ksize = 2 * int(np.ceil(3 * sigma)) + 1
    weight3 = cv2.merge([weight, weight, weight])
    numerator = cv2.GaussianBlur(cv2.multiply(pixels, weight3), (ksize, ksize), sigma)
    denominator = cv2.GaussianBlur(weight, (ksize, ksize), sigma) + np.float32(1e-3)
    return cv2.divide(numerator, cv2.merge([denominator, denominator, denominator]))


def clean_edge_colors(frame: np.ndarray, alpha: np.ndarray, halvings: int = 2) -> np.ndarray:
    """The frame with the old background's colour removed from the person's soft edge.

    Pixels with alpha 0 or 1 are returned unchanged; the edge band gets the estimated
    foreground colour. uint8 RGB in and out. The blurred estimates are sampled (bilinearly)
    at the band's pixels only, so the cost follows the length of the outline, not the frame.
    """
    ys, xs = np.nonzero((alpha > 0.02) & (alpha < 0.98))
    if len(ys) == 0:
        return frame
    small = halve(frame, halvings).astype(np.float32)
    small_alpha = halve(alpha, halvings)
    sigma = max(1.0, small.shape[0] / 120)
    # A few blur-fusion rounds at low resolution, each re-blurring the previous estimates, pull
    # the foreground and background colours apart (one round leaves them partly mixed).
    a3 = cv2.merge([small_alpha, small_alpha, small_alpha])
    b3 = cv2.subtract(1.0, a3)
    fore, back = small, small
    for _ in range(3):
        foreground = _weighted_blur(fore, small_alpha, sigma)
        background = _weighted_blur(back, cv2.subtract(1.0, small_alpha), sigma)
        residual = small - a3 * foreground - b3 * background
        fore = foreground + a3 * residual
        back = background + b3 * residual
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
        return values.reshape(-1, 3)[:count]

    f, b = sample(foreground), sample(background)
    a = alpha[ys, xs][:, None]
    image = frame[ys, xs].astype(np.float32)
    estimate = f + a * (image - a * f - (1 - a) * b)
    out = frame.copy()
    out[ys, xs] = np.clip(estimate, 0, 255).astype(np.uint8)
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
