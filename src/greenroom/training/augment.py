"""Training views of a sample: the augmentations of the portrait-segmentation literature.

PortraitNet and SINet train with random scale and crop, flips, colour (brightness, contrast,
saturation, hue), blur and noise; MODNet and RVM composite people onto new backgrounds through
their mattes so the network learns the person, not the room. Each is switched on by name in
`Augment`, so the ablation in docs/training.md can turn them off one at a time.

Every random draw comes from the `numpy.random.Generator` passed in: a view is a pure function
of (sample, size, generator), which is what makes a resumed run repeat an uninterrupted one.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from greenroom.training.data import Sample

#: The augmentation names `--no-augment` accepts.
AUGMENTATIONS: tuple[str, ...] = ("flip", "scale", "color", "blur", "background")


@dataclass(frozen=True)
class Augment:
    """Which augmentations run, and how strongly."""

    flip: bool = True
    scale: bool = True
    color: bool = True
    blur: bool = True
    background: bool = True
    scale_range: tuple[float, float] = (0.7, 1.3)
    background_probability: float = 0.3

    @classmethod
    def without(cls, names: tuple[str, ...] | list[str]) -> Augment:
        unknown = sorted(set(names) - set(AUGMENTATIONS))
        if unknown:
            raise ValueError(f"unknown augmentation(s) {', '.join(unknown)}")
        return cls(**{name: False for name in names})


def crop_box(shape: tuple[int, int], aspect: float, zoom: float,
             rng: np.random.Generator | None) -> tuple[float, float, float, float]:
    """(x, y, w, h) of a window of the given aspect covering `1/zoom` of the image.

    zoom 1 is the largest window of that aspect that fits (centred without a generator); a
    zoom below 1 makes the window larger than the image, so the person appears smaller and
    the borders are padded by reflection.
    """
    h, w = shape
    cw = min(w, h * aspect) / zoom
    ch = cw / aspect
    if rng is None:
        return (w - cw) / 2, (h - ch) / 2, cw, ch
    x = rng.uniform(min(0.0, w - cw), max(0.0, w - cw))
    y = rng.uniform(min(0.0, h - ch), max(0.0, h - ch))
    return x, y, cw, ch


def warp(image: np.ndarray, box: tuple[float, float, float, float], size: tuple[int, int],
         interpolation: int) -> np.ndarray:
    """Crop `box` and resize it to `size` (w, h) in one affine warp, reflecting at the edges."""
    x, y, cw, ch = box
    sx, sy = size[0] / cw, size[1] / ch
    matrix = np.array([[sx, 0, -x * sx], [0, sy, -y * sy]], np.float32)
    return cv2.warpAffine(image, matrix, size, flags=interpolation,
                          borderMode=cv2.BORDER_REFLECT_101)


def jitter_color(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Brightness, contrast, saturation and hue, each drawn independently."""
    hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + rng.uniform(-8, 8)) % 180
    hsv[..., 1] *= rng.uniform(0.7, 1.3)
    hsv[..., 2] *= rng.uniform(0.7, 1.3)
    out = cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2RGB)
    contrast = rng.uniform(0.75, 1.25)
    mean = out.mean()
    return np.clip((out - mean) * contrast + mean, 0, 255).astype(np.uint8)


def synthetic_background(size: tuple[int, int], rng: np.random.Generator,
                         other: np.ndarray | None) -> np.ndarray:
    """A new background: a blurred other training image, or a noisy colour gradient."""
    w, h = size
    if other is not None and rng.random() < 0.5:
        back = cv2.resize(other, size, interpolation=cv2.INTER_AREA)
        return cv2.GaussianBlur(back, (0, 0), rng.uniform(0.5, 4.0))
    corners = rng.uniform(0, 255, (2, 2, 3)).astype(np.float32)
    back = cv2.resize(corners, size, interpolation=cv2.INTER_LINEAR)
    noise = cv2.resize(rng.normal(0, 25, (h // 8 + 1, w // 8 + 1, 3)).astype(np.float32), size)
    return np.clip(back + noise, 0, 255).astype(np.uint8)


def make_view(sample: Sample, size: tuple[int, int], rng: np.random.Generator,
              augment: Augment | None, other: np.ndarray | None = None,
              ) -> tuple[np.ndarray, np.ndarray]:
    """(image RGB uint8 HxWx3, mask float32 HxW in [0, 1]) of `size` (w, h).

    `augment=None` gives the plain validation view: the whole image stretched to `size`.
    `other` is another sample's image, a source of real-looking backgrounds.
    """
    # The window keeps the image's own aspect and is then stretched to `size`, exactly as
    # inference stretches a whole frame to the model's input (specs.Preprocessor).
    aspect = sample.image.shape[1] / sample.image.shape[0]
    if augment is None:
        box = crop_box(sample.image.shape[:2], aspect, 1.0, None)
    else:
        zoom = rng.uniform(*augment.scale_range) if augment.scale else 1.0
        box = crop_box(sample.image.shape[:2], aspect, zoom, rng)
    image = warp(sample.image, box, size, cv2.INTER_LINEAR)
    mask = warp(sample.mask, box, size, cv2.INTER_LINEAR).astype(np.float32) / 255.0
    if augment is None:
        return image, mask
    if augment.flip and rng.random() < 0.5:
        image, mask = image[:, ::-1], mask[:, ::-1]
    if augment.background and rng.random() < augment.background_probability:
        back = synthetic_background(size, rng, other)
        alpha = mask[..., None]
        image = (image * alpha + back * (1 - alpha)).astype(np.uint8)
    if augment.color:
        image = jitter_color(np.ascontiguousarray(image), rng)
    if augment.blur and rng.random() < 0.25:
        image = cv2.GaussianBlur(np.ascontiguousarray(image), (0, 0), rng.uniform(0.4, 1.6))
    return np.ascontiguousarray(image), np.ascontiguousarray(mask)
