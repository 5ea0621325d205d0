"""Edge-aware upsampling of the model's mask: a fast colour guided filter.

The model sees the frame at 256x256 or 144x256, so its mask edge is blocky and blurred at full
resolution. A guided filter (He et al., 2010) re-draws that edge along the frame's own colour
edges: locally the matte becomes a linear function of the RGB values, fitted to the coarse mask.
As in Google Meet's pipeline, and He & Sun's "fast guided filter" (2015), the coefficients are
fitted on a coarse grid (1/8 of a 720p frame) and applied at a finer one (1/2), which keeps
the cost to ~2 ms for a 720p frame. A contrast band then turns the filtered value into the
final alpha: values below `low` become background, above `high` person, with a linear ramp
between that keeps soft hair edges.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Literal

import cv2
import numpy as np

from greenroom.compositing.resample import halve, levels_to, upscale
from greenroom.frames import YUV_TO_RGB_LINEAR, Box

GuideSpace = Literal["rgb", "yuv"]

#: How far beyond the band's ends a coarse cell's value range must lie to count as settled:
#: far above float32 rounding of the fine grid's arithmetic, so a settled pixel is exactly 0 or 1.
SETTLED_MARGIN = 1e-2


@dataclass(frozen=True)
class GuidedParams:
    """The few knobs that matter, with defaults tuned on EG1800 (see docs/quality.md).

    `radius` is the filter window's half-size as a fraction of the frame height; `eps` the
    regulariser (in [0,1]-intensity squared: smaller follows weaker edges); `low`/`high` the
    band of filtered values mapped to 0..1; `fine_height` the resolution the matte is formed
    at before the final bilinear upsample; `coarse_halvings` how much coarser the grid the
    coefficients are fitted on is (each halving quarters the fitting cost).
    """

    radius: float = 0.03
    eps: float = 1e-3
    low: float = 0.4
    high: float = 0.6
    fine_height: int = 360
    coarse_halvings: int = 2


class GuidedRefiner:
    """Refine a model-resolution mask into a frame-sized alpha matte along the frame's edges."""

    def __init__(self, params: GuidedParams | None = None) -> None:
        self.params = params or GuidedParams()

    def refine(self, frame: np.ndarray, mask: np.ndarray, space: GuideSpace = "rgb") -> np.ndarray:
        """RGB uint8 frame + float32 mask (any size) -> float32 alpha in [0, 1], frame-sized.

        With `space="yuv"` the frame is a limited-range BT.601 Y, U, V image (a yuv420p
        picture's `half_yuv`) and the result is the one its RGB would give, without converting
        it: the filter fits the mask as a linear function of the guide's colour, which is the
        same function in any linearly related colour space once the regulariser is carried over
        too (see `regulariser`). Only where the RGB would clip does it differ.
        """
        return self.refine_boxed(frame, mask, space)[0]

    def refine_boxed(self, frame: np.ndarray, mask: np.ndarray, space: GuideSpace = "rgb",
                     reduced: Callable[[int], list[np.ndarray]] | None = None,
                     ) -> tuple[np.ndarray, Box | None]:
        """`refine`, and the box (x0, y0, x1, y1) outside which the alpha is exactly 0 (None
        when there is no such box short of the whole frame).

        The linear model is only worked out on the fine grid inside the box around the
        person's outline; elsewhere its value is known from the coarse grid alone (see
        `_settled`), so the cost follows the person's size rather than the frame's: a small
        figure in a wide shot saves most, a close-up that fills the frame little or nothing.
        Inside the box the arithmetic is the same, so the alpha is the same as computed
        everywhere.

        `reduced(n)`, when given, is `frame` halved n times as its three planes, from
        reductions the caller keeps anyway (a yuv420p picture's `half_planes`): the coarse
        grid is then read from there instead of halving the frame again, with the same values.
        """
        p = self.params
        height, width = frame.shape[:2]
        fine_times = levels_to(height, p.fine_height)
        fine = halve(frame, fine_times)
        coarse = (cv2.split(halve(fine, p.coarse_halvings)) if reduced is None
                  else reduced(fine_times + p.coarse_halvings))
        ch, cw = coarse[0].shape
        radius = max(1, round(p.radius * ch))
        guide = [plane.astype(np.float32) * np.float32(1 / 255) for plane in coarse]
        target = cv2.resize(mask, (cw, ch), interpolation=cv2.INTER_LINEAR)
        a, b = self._coefficients(guide, target, radius, regulariser(p.eps, space))
        # The band (q - low) / (high - low) is linear too, so it is folded into a and b here,
        # on the coarse grid, instead of costing two passes over the fine one.
        scale = np.float32(1.0 / (p.high - p.low))
        a *= scale / np.float32(255)  # also takes the guide's 1/255: uint8 pixels used as is
        b = (b - np.float32(p.low)) * scale
        fh, fw = fine.shape[:2]
        box = _settled(a, b, (fw, fh))
        if box is None:  # the whole fine grid
            x0, y0, x1, y1 = 0, 0, fw, fh
            alpha = np.empty((fh, fw), np.float32)
        else:
            x0, y0, x1, y1 = box
            alpha = np.zeros((fh, fw), np.float32)
        if x1 > x0 and y1 > y0:
            # q = a . I + b on the fine grid. (a and b stay separate arrays: slicing them out of
            # one 4-channel image would cost a strided numpy copy, 1.7 ms at 640x360.)
            window = (x0, y0, x1, y1)
            a = upscale(a, (fw, fh), window=window)
            b = upscale(b, (fw, fh), window=window)
            products = cv2.multiply(a, fine[y0:y1, x0:x1], dtype=cv2.CV_32F)
            inside = cv2.transform(products, np.ones((1, 3), np.float32))
            inside += b
            cv2.threshold(inside, 1.0, 1.0, cv2.THRESH_TRUNC, dst=inside)  # clip to [0, 1]
            cv2.threshold(inside, 0.0, 0.0, cv2.THRESH_TOZERO, dst=inside)
            alpha[y0:y1, x0:x1] = inside
        if (fh, fw) != (height, width):
            alpha = cv2.resize(alpha, (width, height), interpolation=cv2.INTER_LINEAR)
            if box is not None:  # one fine pixel more each side: bilinear reads its neighbours
                sx, sy = width / fw, height / fh
                box = (max(0, int((x0 - 1) * sx)), max(0, int((y0 - 1) * sy)),
                       min(width, int(np.ceil((x1 + 1) * sx))),
                       min(height, int(np.ceil((y1 + 1) * sy))))
        return alpha, box

    @staticmethod
    def _coefficients(
        guide: list[np.ndarray], target: np.ndarray, radius: int, reg: tuple[float, ...]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per-pixel linear model target ~ a . guide + b, averaged over each window.

        `guide` is the three colour planes (float32). `reg` is the regulariser added to the
        guide's 3x3 covariance: its upper triangle (rr, rg, rb, gg, gb, bb), eps on the diagonal
        for an RGB guide."""
        size = (2 * radius + 1, 2 * radius + 1)

        def box(x: np.ndarray) -> np.ndarray:
            return cv2.boxFilter(x, -1, size, borderType=cv2.BORDER_REFLECT)

        # Every window mean on its own contiguous plane: at this size OpenCV boxes a plane in
        # ~20 us, while stacking planes into one multi-channel image (or slicing channels out
        # of one) costs more than the filtering and the arithmetic together.
        r, g, bl = guide
        p = target
        (mr, mg, mb, mp, mrp, mgp, mbp, srr, srg, srb, sgg, sgb, sbb) = (box(x) for x in (
            r, g, bl, p, r * p, g * p, bl * p, r * r, r * g, r * bl, g * g, g * bl, bl * bl
        ))
        cr, cg, cb = mrp - mr * mp, mgp - mg * mp, mbp - mb * mp
        err, erg, erb, egg, egb, ebb = (np.float32(value) for value in reg)
        vrr = srr - mr * mr + err
        vrg = srg - mr * mg + erg
        vrb = srb - mr * mb + erb
        vgg = sgg - mg * mg + egg
        vgb = sgb - mg * mb + egb
        vbb = sbb - mb * mb + ebb
        # Inverse of the symmetric 3x3 covariance, by cofactors, for every pixel at once.
        irr = vgg * vbb - vgb * vgb
        irg = vgb * vrb - vrg * vbb
        irb = vrg * vgb - vgg * vrb
        igg = vrr * vbb - vrb * vrb
        igb = vrb * vrg - vrr * vgb
        ibb = vrr * vgg - vrg * vrg
        det = vrr * irr + vrg * irg + vrb * irb
        inv_det = np.float32(1.0) / det
        ar = (irr * cr + irg * cg + irb * cb) * inv_det
        ag = (irg * cr + igg * cg + igb * cb) * inv_det
        ab = (irb * cr + igb * cg + ibb * cb) * inv_det
        b = mp - ar * mr - ag * mg - ab * mb
        return box(cv2.merge([ar, ag, ab])), box(b)


@cache  # a constant per (eps, space): not a 3x3 inverse every frame
def regulariser(eps: float, space: GuideSpace = "rgb") -> tuple[float, ...]:
    """The covariance regulariser, upper triangle (rr, rg, rb, gg, gb, bb), for a guide in
    `space` that gives the RGB filter's result.

    With RGB = M . YUV + offset, the RGB fit solves (M S M' + eps I) a = M c for the YUV
    covariances S and c, and its coefficients on the YUV values are M' a = (S + eps (M'M)^-1)^-1 c:
    the YUV fit regularised by eps (M'M)^-1 instead of eps I.
    """
    if space == "rgb":
        return (eps, 0.0, 0.0, eps, 0.0, eps)
    m = YUV_TO_RGB_LINEAR
    e = eps * np.linalg.inv(m.T @ m)
    return (e[0, 0], e[0, 1], e[0, 2], e[1, 1], e[1, 2], e[2, 2])


def _settled(a: np.ndarray, b: np.ndarray, size: tuple[int, int]) -> Box | None:
    """Where the fine grid's alpha is already known: the box outside which it is exactly 0,
    or None if there is none short of the whole grid.

    Over any uint8 colour I, q = a . I + b lies between b + 255 sum(min(a, 0)) and
    b + 255 sum(max(a, 0)); a coarse cell whose range is all below the band is background for
    every colour, all above it person. A fine pixel's a and b are bilinear mixes of its
    nearest coarse cells, so its q lies in the same range when those cells all agree: a cell
    counts as settled when it and its eight neighbours are. Away from the person's outline
    a ~ 0 and every cell is settled, so the box is the outline's bounding box (plus a fine
    pixel of margin).
    """
    spread = a * np.float32(255)
    total = np.ones((1, 3), np.float32)  # cv2.transform sums the channels (numpy's sum is slow)
    high = cv2.transform(cv2.max(spread, 0.0), total) + b
    low = cv2.transform(cv2.min(spread, 0.0), total) + b
    kernel = np.ones((3, 3), np.uint8)
    background = cv2.erode((high < -SETTLED_MARGIN).view(np.uint8), kernel,
                           borderType=cv2.BORDER_REPLICATE)
    person = cv2.erode((low > 1 + SETTLED_MARGIN).view(np.uint8), kernel,
                       borderType=cv2.BORDER_REPLICATE)
    open_cells = cv2.findNonZero(cv2.bitwise_xor(cv2.bitwise_or(background, person), 1))
    people = cv2.countNonZero(person)
    if open_cells is None:  # nothing left to work out: all background, or all person
        return (0, 0, 0, 0) if people == 0 else None
    x, y, w, h = cv2.boundingRect(open_cells)
    if people and cv2.countNonZero(person[y : y + h, x : x + w]) != people:
        return None  # settled person outside the box: the surround is not all 0
    ch, cw = b.shape
    sx, sy = size[0] / cw, size[1] / ch
    box = (max(0, int(x * sx) - 1), max(0, int(y * sy) - 1),
           min(size[0], int(np.ceil((x + w) * sx)) + 1),
           min(size[1], int(np.ceil((y + h) * sy)) + 1))
    return None if box == (0, 0, size[0], size[1]) else box
