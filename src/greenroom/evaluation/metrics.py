"""Accuracy and stability metrics for soft person masks.

Every metric compares a *predicted soft mask* (the model's per-pixel person
probability) with a *ground-truth mask* of the same ``H x W`` size. The
conventions below are shared by all functions, so that a number computed here
means the same thing everywhere in greenroom:

Inputs
    ``pred_soft`` must be a floating-point array with values in ``[0, 1]`` or a
    boolean array. Integer predictions are refused: a ``uint8`` mask could be a
    0/1 mask, a 0/255 mask or a soft 0..255 mask, and guessing wrong would
    silently change MAE by a factor of 255. Convert explicitly
    (``pred.astype(np.float32) / 255``). Values slightly outside ``[0, 1]`` (up to
    ``RANGE_SLACK``) are clipped, because cubic/Lanczos upsampling of a soft mask
    rings a little past the ends; anything further out (0..255 floats, logits,
    NaN) is a scale bug and raises ``ValueError``.

    ``gt`` may be boolean, an integer encoding (0/1 or 0/255; a pixel is person
    when it is above half of the array's maximum, which also copes with
    palette PNGs converted to grey, e.g. 0/38), or floating point in ``[0, 1]``
    (person when ``>= 0.5``).

    Either array may carry a trailing singleton channel (``H x W x 1``), which is
    dropped. After that both must have the same ``H x W`` shape, otherwise a
    ``ValueError`` naming both shapes is raised: resizing silently would hide
    a pipeline bug and favour one side of the comparison.

Binarisation
    A prediction pixel counts as person when ``pred_soft >= threshold``.

Empty-set conventions (DAVIS style)
    IoU of two empty sets is 1.0 (nothing to find, nothing wrongly found); the
    boundary F-score is 1.0 when neither mask has a boundary and 0.0 when only
    one of them has one.

Everything is vectorised with NumPy/OpenCV; per-frame cost is a handful of
full-image passes plus two distance transforms for the boundary F-score.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import cv2
import numpy as np

__all__ = [
    "RANGE_SLACK",
    "MetricAccumulator",
    "background_iou",
    "boundary_f",
    "mae",
    "miou_2class",
    "person_iou",
    "temporal_instability",
]

#: How far outside ``[0, 1]`` a soft prediction may stray before it is treated as a
#: scale error rather than interpolation ringing (which is then clipped away).
RANGE_SLACK = 0.25

# Distances from cv2.distanceTransform(DIST_MASK_PRECISE) are float32; the small
# epsilon keeps a pixel at exactly ``tolerance`` px (e.g. 2.0 or sqrt(5)) matched
# despite float rounding.
_DIST_EPS = 1e-3

# 4-neighbourhood kernel: a foreground pixel is a boundary pixel when one of its
# 4-neighbours is background. This gives a thin (8-connected, 1 px wide) contour,
# where the 3x3 square kernel would thicken diagonal edges.
_CROSS = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))


# --------------------------------------------------------------------------- #
# input normalisation
# --------------------------------------------------------------------------- #
def _drop_channel(a: np.ndarray) -> np.ndarray:
    if a.ndim == 3 and a.shape[2] == 1:
        return a[:, :, 0]
    return a


def _check_pair(pred: Any, gt: Any) -> tuple[np.ndarray, np.ndarray]:
    """Return 2-D views of ``pred`` and ``gt``, raising ValueError on shape problems."""
    p = np.asarray(pred)
    g = np.asarray(gt)
    p2, g2 = _drop_channel(p), _drop_channel(g)
    if p2.shape != g2.shape:
        raise ValueError(
            f"pred and gt must have the same HxW shape, got pred {p.shape} and gt {g.shape}"
        )
    if p2.ndim != 2:
        raise ValueError(f"masks must be 2-D (HxW or HxWx1), got shape {p.shape}")
    if p2.size == 0:
        raise ValueError(f"masks must not be empty arrays, got shape {p.shape}")
    return p2, g2


def _soft(pred: np.ndarray, name: str = "pred_soft") -> np.ndarray:
    """Validate a soft mask and return it as float32 in ``[0, 1]``."""
    if pred.dtype == np.bool_:
        return pred.astype(np.float32)
    if not np.issubdtype(pred.dtype, np.floating):
        raise TypeError(
            f"{name} must be float in [0, 1] or bool, got dtype {pred.dtype}; "
            "integer masks are ambiguous (0/1, 0/255 or soft 0..255), convert explicitly, "
            "e.g. pred.astype(np.float32) / 255"
        )
    lo, hi = float(pred.min()), float(pred.max())
    # Written so that NaN (which fails every comparison) also raises.
    if not (lo >= -RANGE_SLACK and hi <= 1.0 + RANGE_SLACK):
        raise ValueError(
            f"{name} values must lie in [0, 1] (found min {lo:g}, max {hi:g}); "
            "is it on a 0..255 scale, or raw logits?"
        )
    out = pred.astype(np.float32, copy=False)
    if lo < 0.0 or hi > 1.0:
        out = np.clip(out, 0.0, 1.0)
    return out


def _binary(gt: np.ndarray, name: str = "gt") -> np.ndarray:
    """Turn a bool / 0-1 / 0-255 / float ground-truth mask into a bool mask."""
    if gt.dtype == np.bool_:
        return gt
    if np.issubdtype(gt.dtype, np.integer):
        # Half of the array's own maximum: 0/1 -> > 0.5, 0/255 -> > 127.5. An empty
        # mask (max 0) gives "> 0" -> all background, as it should.
        return gt > (float(gt.max()) / 2.0)
    if np.issubdtype(gt.dtype, np.floating):
        lo, hi = float(gt.min()), float(gt.max())
        if not (lo >= 0.0 and hi <= 1.0):
            raise ValueError(
                f"floating-point {name} must lie in [0, 1] (found min {lo:g}, max {hi:g})"
            )
        return gt >= 0.5
    raise TypeError(f"unsupported {name} dtype {gt.dtype}")


def _prepare(
    pred_soft: Any, gt: Any, threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (soft float32 prediction, binarised prediction, binarised gt)."""
    p, g = _check_pair(pred_soft, gt)
    soft = _soft(p)
    return soft, soft >= threshold, _binary(g)


# --------------------------------------------------------------------------- #
# region metrics
# --------------------------------------------------------------------------- #
def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = int(np.count_nonzero(a | b))
    if union == 0:
        return 1.0  # both empty: perfect agreement (DAVIS convention)
    return int(np.count_nonzero(a & b)) / union


def person_iou(pred_soft: np.ndarray, gt: np.ndarray, threshold: float = 0.5) -> float:
    """Intersection-over-union of the person class.

    ``pred_soft`` is binarised with ``pred_soft >= threshold``. When neither mask
    contains any person pixel the IoU is defined as 1.0: there was nothing to
    segment and nothing was hallucinated, so the frame is scored as correct
    instead of being NaN (which would poison a dataset mean) or 0.0 (which would
    punish a correct empty prediction).
    """
    _, pb, gb = _prepare(pred_soft, gt, threshold)
    return _iou(pb, gb)


def background_iou(pred_soft: np.ndarray, gt: np.ndarray, threshold: float = 0.5) -> float:
    """IoU of the background class (the complements of the person masks).

    Same conventions as :func:`person_iou`; a frame that is person everywhere in
    both masks has no background and scores 1.0.
    """
    _, pb, gb = _prepare(pred_soft, gt, threshold)
    return _iou(~pb, ~gb)


def _miou(pb: np.ndarray, gb: np.ndarray) -> float:
    return 0.5 * (_iou(pb, gb) + _iou(~pb, ~gb))


def miou_2class(pred_soft: np.ndarray, gt: np.ndarray, threshold: float = 0.5) -> float:
    """Mean of person IoU and background IoU for one image.

    This is the "mIoU" reported on EG1800 by portrait-segmentation papers
    (PortraitNet, SINet, ...): both classes are weighted equally per image and
    the per-image values are then averaged over the dataset (see
    :class:`MetricAccumulator`). Because the background is usually large and
    easy, this number is markedly higher than :func:`person_iou`.
    """
    _, pb, gb = _prepare(pred_soft, gt, threshold)
    return _miou(pb, gb)


# --------------------------------------------------------------------------- #
# boundary F-score
# --------------------------------------------------------------------------- #
def _boundary(mask: np.ndarray) -> np.ndarray:
    """1-pixel inner boundary of a bool mask.

    A person pixel is on the boundary when one of its 4-neighbours is background.
    cv2.erode pads with the maximum value, so the image frame itself is *not* a
    boundary: a person cut off by the bottom edge of the picture has no contour
    there, as in DAVIS's ``seg2bmap``.
    """
    m = np.ascontiguousarray(mask).view(np.uint8)
    eroded = cv2.erode(m, _CROSS)
    return mask & (eroded == 0)


def _boundary_f(pb: np.ndarray, gb: np.ndarray, tolerance: float) -> float:
    pred_b = _boundary(pb)
    gt_b = _boundary(gb)
    n_pred = int(np.count_nonzero(pred_b))
    n_gt = int(np.count_nonzero(gt_b))
    if n_pred == 0 and n_gt == 0:
        return 1.0
    if n_pred == 0 or n_gt == 0:
        return 0.0
    # distanceTransform gives, for every non-zero pixel, the Euclidean distance to
    # the nearest zero pixel; feeding it the complement of a boundary map yields
    # the distance to that boundary. DIST_MASK_PRECISE makes the tolerance an
    # exact disk rather than OpenCV's approximate chamfer distance.
    dist_to_gt = cv2.distanceTransform((~gt_b).view(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    dist_to_pred = cv2.distanceTransform(
        (~pred_b).view(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE
    )
    limit = tolerance + _DIST_EPS
    precision = int(np.count_nonzero(dist_to_gt[pred_b] <= limit)) / n_pred
    recall = int(np.count_nonzero(dist_to_pred[gt_b] <= limit)) / n_gt
    if precision + recall == 0.0:
        return 0.0
    return 2.0 * precision * recall / (precision + recall)


def _check_tolerance(tolerance: float) -> float:
    t = float(tolerance)
    if not (t >= 0.0 and np.isfinite(t)):
        raise ValueError(f"tolerance must be a finite number of pixels >= 0, got {tolerance!r}")
    return t


def boundary_f(
    pred_soft: np.ndarray, gt: np.ndarray, tolerance: float = 3, threshold: float = 0.5
) -> float:
    """Boundary F-score (the DAVIS "F" contour-accuracy measure).

    Both masks are binarised, their 1-pixel boundaries extracted (see
    ``_boundary``: the image frame does not count as a boundary), and

    * precision = fraction of predicted boundary pixels lying within
      ``tolerance`` px (Euclidean, inclusive) of a ground-truth boundary pixel,
    * recall = fraction of ground-truth boundary pixels within ``tolerance`` px of
      a predicted boundary pixel,
    * F = 2PR / (P + R), and 0.0 when P + R = 0.

    The tolerance forgives the 1-2 px of annotation jitter that every hand-drawn
    mask has, so that the score reflects visible edge errors (halo, missing
    hair, bleeding into the background) rather than label noise. It is a fixed
    pixel count here because greenroom compares models at one resolution; note
    that DAVIS's own evaluation uses 0.008 x the image diagonal (about 8 px at
    854x480), so numbers are not comparable with DAVIS leaderboards.

    Conventions: both boundaries empty -> 1.0 (e.g. both masks empty); exactly one
    empty -> 0.0. F only judges contours: an empty prediction against a
    full-frame ground truth also has two empty boundaries and scores 1.0, so
    always read F next to IoU.
    """
    t = _check_tolerance(tolerance)
    _, pb, gb = _prepare(pred_soft, gt, threshold)
    return _boundary_f(pb, gb, t)


# --------------------------------------------------------------------------- #
# soft-mask metrics
# --------------------------------------------------------------------------- #
def _mae(soft: np.ndarray, gb: np.ndarray) -> float:
    # float64 accumulator: a float32 sum over millions of pixels loses digits.
    return float(np.abs(soft - gb.astype(np.float32)).mean(dtype=np.float64))


def mae(pred_soft: np.ndarray, gt: np.ndarray) -> float:
    """Mean absolute error between the soft prediction in [0, 1] and the GT in {0, 1}.

    Unlike IoU and F, MAE uses the soft values directly, so it rewards calibrated
    confidence: a 0.9 on a person pixel costs 0.1, a 0.5 costs 0.5. This is what
    matters for compositing, where the soft mask is used as the alpha.
    """
    p, g = _check_pair(pred_soft, gt)
    return _mae(_soft(p), _binary(g))


def _as_unit(mask: Any, index: int) -> np.ndarray:
    """Frame ``index`` of a sequence as float32 in [0, 1]: soft if float, {0, 1} otherwise."""
    a = _drop_channel(np.asarray(mask))
    if a.ndim != 2 or a.size == 0:
        raise ValueError(f"frame {index}: masks must be non-empty HxW arrays, got {a.shape}")
    if np.issubdtype(a.dtype, np.floating):
        return _soft(a, name=f"frame {index}")
    # bool or an integer 0/1 / 0/255 encoding: by the module-wide convention, integer
    # arrays are binary ground-truth encodings.
    return _binary(a, name=f"frame {index}").astype(np.float32)


def temporal_instability(masks: Iterable[np.ndarray]) -> float:
    """Mean over consecutive frame pairs of the mean absolute change ``|m_t - m_{t-1}|``.

    Measures flicker: how much the mask changes from one frame to the next.
    Real motion changes the mask too, so the number is only meaningful relative
    to the same quantity on the ground truth of the same sequence; the caller
    computes both and reports ``pred - gt`` as the excess instability (it can be
    negative for an over-smoothed, lagging prediction).

    ``masks`` may be any iterable, including a generator: only the previous
    frame is kept. Float frames are soft masks in [0, 1]; bool and integer
    (0/1 or 0/255) frames are treated as binary masks, so ground truth can be
    passed as loaded. All frames must share one HxW shape.

    Raises ValueError for fewer than two frames: there is no pair to average,
    and silently returning 0.0 would report a perfectly stable result.
    """
    prev: np.ndarray | None = None
    total = 0.0
    pairs = 0
    for i, m in enumerate(masks):
        cur = _as_unit(m, i)
        if prev is not None:
            if cur.shape != prev.shape:
                raise ValueError(
                    f"all frames must have the same shape: frame {i - 1} is {prev.shape}, "
                    f"frame {i} is {cur.shape}"
                )
            total += float(np.abs(cur - prev).mean(dtype=np.float64))
            pairs += 1
        prev = cur
    if pairs == 0:
        raise ValueError("temporal_instability needs at least two frames")
    return total / pairs


# --------------------------------------------------------------------------- #
# accumulator
# --------------------------------------------------------------------------- #
class MetricAccumulator:
    """Running means of the per-frame metrics over a dataset or a video.

    Feed ``(pred_soft, gt)`` pairs one at a time with :meth:`add`, then read
    :meth:`summary`. Only running sums are kept, plus, when ``sequence=True``,
    the previous frame's prediction and ground truth for the temporal term, so
    memory does not grow with the number of frames.

    Dataset means are *per-frame* (macro) averages, the convention of EG1800 and
    DAVIS: every image counts equally whatever its size or person area.

    Args:
        threshold: binarisation threshold for the prediction (``pred >= threshold``).
        boundary_tolerance: pixel tolerance of the boundary F-score.
        sequence: treat consecutive frames as a video and compute temporal
            instability. Leave False for independent images (e.g. EG1800), whose
            consecutive "frames" are unrelated and often differently sized.
    """

    def __init__(
        self,
        threshold: float = 0.5,
        boundary_tolerance: float = 3,
        sequence: bool = False,
    ) -> None:
        self.threshold = float(threshold)
        self.boundary_tolerance = _check_tolerance(boundary_tolerance)
        self.sequence = bool(sequence)
        self._n = 0
        self._sum_iou = 0.0
        self._sum_miou = 0.0
        self._sum_f = 0.0
        self._sum_mae = 0.0
        self._n_timed = 0
        self._sum_seconds = 0.0
        self._prev_pred: np.ndarray | None = None
        self._prev_gt: np.ndarray | None = None
        self._pairs = 0
        self._sum_ti_pred = 0.0
        self._sum_ti_gt = 0.0

    def __len__(self) -> int:
        return self._n

    def reset_sequence(self) -> None:
        """Start a new video: the next frame is not compared with the last one.

        Use this to pool several sequences into one accumulator without scoring
        the cut between them as flicker.
        """
        self._prev_pred = None
        self._prev_gt = None

    def add(
        self, pred_soft: np.ndarray, gt: np.ndarray, seconds: float | None = None
    ) -> dict[str, float]:
        """Score one frame, add it to the running means and return its metrics.

        Args:
            pred_soft: soft prediction (float in [0, 1] or bool), HxW.
            gt: ground truth (bool, 0/1, 0/255 or float in [0, 1]), same HxW.
            seconds: optional wall-clock time spent producing ``pred_soft``.

        Returns:
            The frame's ``person_iou``, ``miou_2class``, ``boundary_f`` and ``mae``,
            handy for logging the worst frames.
        """
        soft, pb, gb = _prepare(pred_soft, gt, self.threshold)
        frame = {
            "person_iou": _iou(pb, gb),
            "miou_2class": _miou(pb, gb),
            "boundary_f": _boundary_f(pb, gb, self.boundary_tolerance),
            "mae": _mae(soft, gb),
        }
        gt_unit = gb.astype(np.float32)
        if self.sequence:
            if self._prev_pred is not None and self._prev_gt is not None:
                if soft.shape != self._prev_pred.shape:
                    raise ValueError(
                        f"frame {self._n} has shape {soft.shape} but the previous frame had "
                        f"{self._prev_pred.shape}; call reset_sequence() between videos"
                    )
                self._sum_ti_pred += float(np.abs(soft - self._prev_pred).mean(dtype=np.float64))
                self._sum_ti_gt += float(np.abs(gt_unit - self._prev_gt).mean(dtype=np.float64))
                self._pairs += 1
            # Copy when ``soft`` is still the caller's buffer (float32 input), which
            # the caller may overwrite with the next frame.
            if np.may_share_memory(soft, np.asarray(pred_soft)):
                soft = soft.copy()
            self._prev_pred = soft
            self._prev_gt = gt_unit

        self._n += 1
        self._sum_iou += frame["person_iou"]
        self._sum_miou += frame["miou_2class"]
        self._sum_f += frame["boundary_f"]
        self._sum_mae += frame["mae"]
        if seconds is not None:
            s = float(seconds)
            if not (s >= 0.0 and np.isfinite(s)):
                raise ValueError(f"seconds must be a finite number >= 0, got {seconds!r}")
            self._sum_seconds += s
            self._n_timed += 1
        return frame

    def summary(self) -> dict[str, float | int | None]:
        """Return the means so far.

        Keys are always present so that tables and JSON reports have a fixed
        schema; a value is None when it cannot be computed (no frames yet, no
        timings given, fewer than two frames of a sequence, or ``sequence=False``).

        * ``frames``: number of frames added; ``timed_frames``: how many had timings.
        * ``person_iou``, ``miou_2class``, ``boundary_f``, ``mae``: per-frame means.
        * ``temporal_instability_pred`` / ``_gt``: mean |m_t - m_{t-1}| over
          consecutive pairs; ``temporal_instability_excess`` = pred - gt.
        * ``ms_per_frame``: mean of the given ``seconds``, in milliseconds, over
          the frames that had one.
        """
        n = self._n

        def mean(total: float, count: int) -> float | None:
            return total / count if count else None

        ti_pred = mean(self._sum_ti_pred, self._pairs)
        ti_gt = mean(self._sum_ti_gt, self._pairs)
        ms = mean(self._sum_seconds * 1000.0, self._n_timed)
        return {
            "frames": n,
            "person_iou": mean(self._sum_iou, n),
            "miou_2class": mean(self._sum_miou, n),
            "boundary_f": mean(self._sum_f, n),
            "mae": mean(self._sum_mae, n),
            "temporal_instability_pred": ti_pred,
            "temporal_instability_gt": ti_gt,
            "temporal_instability_excess": (
                ti_pred - ti_gt if ti_pred is not None and ti_gt is not None else None
            ),
            "timed_frames": self._n_timed,
            "ms_per_frame": ms,
        }
