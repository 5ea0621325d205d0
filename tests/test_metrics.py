"""Tests for greenroom.evaluation (metrics + dataset pairing).

Expected values are worked out by hand in the comments; none is computed with
the code under test.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from greenroom.evaluation.datasets import (
    iter_dataset_pairs,
    iter_image_mask_pairs,
    load_mask,
)
from greenroom.evaluation.metrics import (
    MetricAccumulator,
    background_iou,
    boundary_f,
    mae,
    miou_2class,
    person_iou,
    temporal_instability,
)

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
EG1800 = SHARED_DATA / "eg1800-dev"
DAVIS_SEQ = SHARED_DATA / "davis-dance-twirl"


def _square(shape: tuple[int, int], r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
    """Bool mask with rows r0..r1-1 and cols c0..c1-1 set."""
    m = np.zeros(shape, dtype=bool)
    m[r0:r1, c0:c1] = True
    return m


# Two 10x10 squares on a 20x20 canvas, the second shifted right by 4 columns:
#   |A| = |B| = 100, |A & B| = 10 rows x 6 cols = 60, |A | B| = 140.
GT_A = _square((20, 20), 2, 12, 2, 12)
PRED_B = _square((20, 20), 2, 12, 6, 16)
# Soft version of B: 0.8 inside, 0.2 outside -> binarises to B at 0.5.
PRED_B_SOFT = np.where(PRED_B, 0.8, 0.2).astype(np.float32)


# --------------------------------------------------------------------------- #
# IoU / mIoU
# --------------------------------------------------------------------------- #
def test_person_iou_known_overlap() -> None:
    # 60 / 140 = 3/7
    assert person_iou(PRED_B_SOFT, GT_A) == pytest.approx(3 / 7, abs=1e-12)


def test_background_iou_known_overlap() -> None:
    # Canvas 400 px. Background intersection = 400 - |A | B| = 260,
    # background union = 400 - |A & B| = 340 -> 260/340 = 13/17.
    assert background_iou(PRED_B_SOFT, GT_A) == pytest.approx(13 / 17, abs=1e-12)


def test_miou_2class_is_mean_of_both_classes() -> None:
    assert miou_2class(PRED_B_SOFT, GT_A) == pytest.approx((3 / 7 + 13 / 17) / 2, abs=1e-12)


def test_threshold_is_inclusive_and_configurable() -> None:
    gt = np.array([[1, 1, 0, 0]], dtype=np.uint8)
    pred = np.array([[0.5, 0.7, 0.6, 0.1]], dtype=np.float32)
    # threshold 0.5: person = {0.5, 0.7, 0.6} -> inter 2, union 3
    assert person_iou(pred, gt) == pytest.approx(2 / 3)
    # threshold 0.65: person = {0.7} -> inter 1, union 2
    assert person_iou(pred, gt, threshold=0.65) == pytest.approx(1 / 2)


def test_iou_empty_conventions() -> None:
    empty = np.zeros((8, 8), dtype=bool)
    full = np.ones((8, 8), dtype=bool)
    soft_empty = np.zeros((8, 8), dtype=np.float32)
    # Both empty: person IoU 1, background identical -> 1, mIoU 1.
    assert person_iou(soft_empty, empty) == 1.0
    assert background_iou(soft_empty, empty) == 1.0
    assert miou_2class(soft_empty, empty) == 1.0
    # Empty prediction, non-empty GT: person IoU 0.
    assert person_iou(soft_empty, _square((8, 8), 0, 2, 0, 2)) == 0.0
    # Full-frame person in both: no background anywhere -> background IoU 1.
    assert background_iou(full.astype(np.float32), full) == 1.0
    # Full-frame prediction vs empty GT: 0 for both classes.
    assert miou_2class(full.astype(np.float32), empty) == 0.0


# --------------------------------------------------------------------------- #
# boundary F
# --------------------------------------------------------------------------- #
# 20x20 squares on a 40x40 canvas; the prediction is shifted right by 2 px.
GT_SQ = _square((40, 40), 10, 30, 10, 30)
PRED_SQ = _square((40, 40), 10, 30, 12, 32).astype(np.float32)


def test_boundary_f_shift_within_tolerance_is_perfect() -> None:
    # Every boundary pixel of either square is at most 2 px from the other's.
    assert boundary_f(PRED_SQ, GT_SQ, tolerance=3) == 1.0
    assert boundary_f(PRED_SQ, GT_SQ, tolerance=2) == 1.0


def test_boundary_f_shift_beyond_tolerance_exact_value() -> None:
    # Each 20x20 ring has 4*20 - 4 = 76 boundary pixels. At tolerance 1 the pred
    # ring (cols 12..31) matches: top row cols 12..30 (19), bottom row 19, left
    # column rows 11 and 28 only (1 px from the GT top/bottom rows; rows 12..27
    # are 2 px from GT col 10) = 2, right column (col 31, 2 px from col 29) = 0.
    # -> P = 40/76, and R = 40/76 by symmetry, so F = 40/76 = 10/19.
    f = boundary_f(PRED_SQ, GT_SQ, tolerance=1)
    assert f == pytest.approx(10 / 19, abs=1e-12)
    assert f < 1.0


def test_boundary_f_is_not_iou() -> None:
    # Same masks: region overlap 20x18 / 20x22 = 360/440 = 9/11, boundary F = 1.
    assert person_iou(PRED_SQ, GT_SQ) == pytest.approx(9 / 11)
    assert boundary_f(PRED_SQ, GT_SQ, tolerance=3) == 1.0


def test_image_frame_is_not_a_boundary() -> None:
    # Top half of a 20x20 frame vs the top half shifted down by one row. The only
    # contours are the horizontal lines at rows 9 and 10 (1 px apart). If the
    # image frame counted as boundary, the shared left/right/top frame edges would
    # match at tolerance 0 and F would be > 0.
    gt = _square((20, 20), 0, 10, 0, 20)
    pred = _square((20, 20), 0, 11, 0, 20).astype(np.float32)
    assert boundary_f(pred, gt, tolerance=1) == 1.0
    assert boundary_f(pred, gt, tolerance=0) == 0.0


def test_boundary_is_one_pixel_thin_on_diagonals() -> None:
    # Internal helper, tested directly because "1-pixel boundary" is a documented
    # property the F-score relies on. Diamond |r| + |c| <= 3 (centre (5, 5)): with a
    # 4-neighbour test the boundary is exactly the ring |r| + |c| == 3, 4 * 3 = 12 px.
    # An 8-neighbour test would also mark (+-1, +-1), thickening diagonal edges.
    from greenroom.evaluation.metrics import _boundary

    rr, cc = np.mgrid[-5:6, -5:6]
    dist = np.abs(rr) + np.abs(cc)
    b = _boundary(dist <= 3)
    np.testing.assert_array_equal(b, dist == 3)
    assert int(b.sum()) == 12


def test_boundary_f_empty_conventions() -> None:
    empty = np.zeros((16, 16), dtype=bool)
    square = _square((16, 16), 4, 12, 4, 12)
    # Both boundaries empty -> 1.0
    assert boundary_f(np.zeros((16, 16), np.float32), empty) == 1.0
    # Prediction has a contour, GT none -> 0.0 (and the converse)
    assert boundary_f(square.astype(np.float32), empty) == 0.0
    assert boundary_f(np.zeros((16, 16), np.float32), square) == 0.0
    # Full-frame prediction has no contour (frame is not a boundary) -> 0.0
    assert boundary_f(np.ones((16, 16), np.float32), square) == 0.0


def test_boundary_f_rejects_negative_tolerance() -> None:
    with pytest.raises(ValueError, match="tolerance"):
        boundary_f(PRED_SQ, GT_SQ, tolerance=-1)


# --------------------------------------------------------------------------- #
# MAE
# --------------------------------------------------------------------------- #
def test_mae_known_soft_mask() -> None:
    pred = np.array([[0.9, 0.2], [0.5, 0.0]], dtype=np.float32)
    gt = np.array([[1, 0], [1, 0]], dtype=np.uint8)
    # |0.9-1| + |0.2-0| + |0.5-1| + |0-0| = 0.1 + 0.2 + 0.5 + 0 = 0.8; / 4 = 0.2
    assert mae(pred, gt) == pytest.approx(0.2, abs=1e-7)


def test_mae_clips_small_overshoot_but_rejects_wrong_scale() -> None:
    gt = np.array([[1, 0]], dtype=bool)
    # Interpolation ringing (1.1, -0.05) is clipped to 1 and 0 -> MAE 0.
    assert mae(np.array([[1.1, -0.05]], dtype=np.float32), gt) == 0.0
    with pytest.raises(ValueError, match="0..255"):
        mae(np.array([[255.0, 0.0]], dtype=np.float32), gt)
    with pytest.raises(ValueError):
        mae(np.array([[np.nan, 0.0]], dtype=np.float32), gt)


def test_integer_prediction_is_refused() -> None:
    with pytest.raises(TypeError, match="ambiguous"):
        mae(np.array([[255, 0]], dtype=np.uint8), np.array([[1, 0]], dtype=bool))


# --------------------------------------------------------------------------- #
# GT encodings and shapes
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    "metric",
    [person_iou, background_iou, miou_2class, boundary_f, mae],
    ids=lambda f: f.__name__,
)
def test_gt_encodings_give_identical_results(metric) -> None:
    rng = np.random.default_rng(0)
    pred = rng.random((40, 40)).astype(np.float32)
    pred = cv2.GaussianBlur(pred, (7, 7), 0)  # blobs, so boundaries are non-trivial
    gt_bool = _square((40, 40), 5, 30, 8, 25)
    gt_01 = gt_bool.astype(np.uint8)
    gt_0255 = gt_01 * 255
    expected = metric(pred, gt_bool)
    assert metric(pred, gt_01) == expected
    assert metric(pred, gt_0255) == expected
    assert metric(pred, gt_0255[:, :, None]) == expected  # HxWx1 is accepted


def test_encodings_actually_matter() -> None:
    # Guard against a normaliser that ignores GT entirely: an inverted GT must
    # change the score.
    assert person_iou(PRED_B_SOFT, ~GT_A) != person_iou(PRED_B_SOFT, GT_A)


@pytest.mark.parametrize(
    "metric",
    [person_iou, background_iou, miou_2class, boundary_f, mae],
    ids=lambda f: f.__name__,
)
def test_shape_mismatch_names_both_shapes(metric) -> None:
    pred = np.zeros((10, 12), dtype=np.float32)
    gt = np.zeros((12, 10), dtype=bool)
    with pytest.raises(ValueError, match=r"\(10, 12\).*\(12, 10\)"):
        metric(pred, gt)


# --------------------------------------------------------------------------- #
# temporal instability
# --------------------------------------------------------------------------- #
def test_temporal_instability_known_sequence() -> None:
    f0 = np.zeros((2, 2), np.float32)
    f1 = np.full((2, 2), 0.5, np.float32)
    f2 = np.array([[1.0, 1.0], [0.5, 0.5]], np.float32)
    # |f1-f0| mean = 0.5; |f2-f1| = [[.5,.5],[0,0]] mean = 0.25; mean of pairs 0.375
    assert temporal_instability([f0, f1, f2]) == pytest.approx(0.375)
    # Works on a generator (only the previous frame is kept).
    assert temporal_instability(f for f in (f0, f1, f2)) == pytest.approx(0.375)


def test_temporal_instability_binary_encodings_agree() -> None:
    a = _square((4, 4), 0, 2, 0, 4)  # 8 px
    b = _square((4, 4), 0, 3, 0, 4)  # 12 px -> 4 px change / 16 = 0.25
    c = _square((4, 4), 0, 3, 0, 4)  # no change -> 0
    expected = (0.25 + 0.0) / 2
    assert temporal_instability([a, b, c]) == pytest.approx(expected)
    u8 = [m.astype(np.uint8) * 255 for m in (a, b, c)]
    assert temporal_instability(u8) == pytest.approx(expected)
    assert temporal_instability([m.astype(np.uint8) for m in (a, b, c)]) == pytest.approx(expected)


def test_temporal_instability_errors() -> None:
    with pytest.raises(ValueError, match="two frames"):
        temporal_instability([np.zeros((3, 3), np.float32)])
    with pytest.raises(ValueError, match=r"\(3, 3\).*\(4, 4\)"):
        temporal_instability([np.zeros((3, 3), np.float32), np.zeros((4, 4), np.float32)])


# --------------------------------------------------------------------------- #
# accumulator
# --------------------------------------------------------------------------- #
def test_accumulator_means_and_timing() -> None:
    acc = MetricAccumulator()
    frame = acc.add(PRED_B_SOFT, GT_A, seconds=0.010)
    assert frame["person_iou"] == pytest.approx(3 / 7)
    # Second frame: perfect prediction (IoU 1, mIoU 1, F 1, MAE 0), timed 30 ms.
    acc.add(GT_A.astype(np.float32), GT_A, seconds=0.030)
    # Third frame untimed.
    acc.add(GT_A.astype(np.float32), GT_A)
    s = acc.summary()
    assert s["frames"] == 3 and len(acc) == 3
    assert s["person_iou"] == pytest.approx((3 / 7 + 1 + 1) / 3)
    assert s["miou_2class"] == pytest.approx(((3 / 7 + 13 / 17) / 2 + 1 + 1) / 3)
    # MAE of frame 1: inside A&B 0.2 (60 px), A only 0.8 (40), B only 0.8 (40),
    # neither 0.2 (260): (12 + 32 + 32 + 52) / 400 = 0.32
    assert s["mae"] == pytest.approx((0.32 + 0 + 0) / 3, abs=1e-7)
    assert 0.0 <= s["boundary_f"] < 1.0
    # (10 + 30) / 2 timed frames
    assert s["timed_frames"] == 2
    assert s["ms_per_frame"] == pytest.approx(20.0)
    # Not a sequence: no temporal terms.
    assert s["temporal_instability_pred"] is None
    assert s["temporal_instability_excess"] is None


def test_accumulator_empty_summary() -> None:
    s = MetricAccumulator().summary()
    assert s["frames"] == 0
    assert s["person_iou"] is None and s["ms_per_frame"] is None


def test_accumulator_sequence_temporal_terms() -> None:
    gt0 = _square((4, 4), 0, 2, 0, 4)
    gt1 = _square((4, 4), 0, 3, 0, 4)  # GT changes 4 px of 16 -> 0.25
    p0 = np.where(gt0, 0.9, 0.1).astype(np.float32)
    p1 = np.where(gt0, 0.5, 0.1).astype(np.float32)  # 8 px change by 0.4 -> 0.2
    acc = MetricAccumulator(sequence=True)
    acc.add(p0, gt0)
    acc.add(p1, gt1)
    s = acc.summary()
    assert s["temporal_instability_pred"] == pytest.approx(0.2)
    assert s["temporal_instability_gt"] == pytest.approx(0.25)
    assert s["temporal_instability_excess"] == pytest.approx(-0.05)
    # Must agree with the standalone function.
    assert s["temporal_instability_pred"] == pytest.approx(temporal_instability([p0, p1]))


def test_accumulator_keeps_own_copy_of_previous_frame() -> None:
    # The caller reuses one buffer; the accumulator must not see the overwrite.
    buf = np.zeros((4, 4), np.float32)
    gt = np.zeros((4, 4), bool)
    acc = MetricAccumulator(sequence=True)
    acc.add(buf, gt)
    buf[:] = 0.5
    acc.add(buf, gt)
    assert acc.summary()["temporal_instability_pred"] == pytest.approx(0.5)


def test_accumulator_sequence_shape_change_and_reset() -> None:
    acc = MetricAccumulator(sequence=True)
    acc.add(np.zeros((4, 4), np.float32), np.zeros((4, 4), bool))
    with pytest.raises(ValueError, match="reset_sequence"):
        acc.add(np.zeros((5, 5), np.float32), np.zeros((5, 5), bool))
    acc.reset_sequence()
    acc.add(np.ones((5, 5), np.float32), np.ones((5, 5), bool))
    # The cut between the two videos is not counted: no pair yet.
    assert acc.summary()["temporal_instability_pred"] is None


# --------------------------------------------------------------------------- #
# datasets (synthetic folders)
# --------------------------------------------------------------------------- #
def _write(path: Path, arr: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), arr)


def test_iter_pairs_matches_stems_sorted(tmp_path: Path) -> None:
    img = np.zeros((4, 4, 3), np.uint8)
    m = np.zeros((4, 4), np.uint8)
    for name in ["b.png", "a.jpg", "frame10.jpg", "frame2.JPEG", "only_image.jpg"]:
        _write(tmp_path / "images" / name, img)
    for name in ["a.png", "b.png", "frame10.png", "frame2.png", "only_mask.png"]:
        _write(tmp_path / "masks" / name, m)
    (tmp_path / "images" / "notes.txt").write_text("ignored")
    pairs = list(iter_image_mask_pairs(tmp_path / "images", tmp_path / "masks"))
    # natural order: frame2 before frame10; unmatched names skipped
    assert [p.name for p in pairs] == ["a", "b", "frame2", "frame10"]
    name, image_path, mask_path = pairs[2]
    assert image_path == tmp_path / "images" / "frame2.JPEG"
    assert mask_path == tmp_path / "masks" / "frame2.png"
    assert [p.name for p in iter_dataset_pairs(tmp_path, limit=2)] == ["a", "b"]


def test_iter_pairs_errors(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    with pytest.raises(FileNotFoundError, match="masks"):
        iter_image_mask_pairs(tmp_path / "images", tmp_path / "masks")
    _write(tmp_path / "images" / "x.jpg", np.zeros((4, 4, 3), np.uint8))
    _write(tmp_path / "masks" / "y.png", np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match="no image/mask pairs") as exc:
        iter_image_mask_pairs(tmp_path / "images", tmp_path / "masks")
    assert str(tmp_path / "images") in str(exc.value)
    # Two images for one stem is ambiguous.
    _write(tmp_path / "images" / "y.jpg", np.zeros((4, 4, 3), np.uint8))
    _write(tmp_path / "images" / "y.png", np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(ValueError, match="'y'"):
        iter_image_mask_pairs(tmp_path / "images", tmp_path / "masks")


def test_load_mask_encodings_and_errors(tmp_path: Path) -> None:
    mask = _square((6, 6), 1, 4, 2, 5)
    _write(tmp_path / "m01.png", mask.astype(np.uint8))
    _write(tmp_path / "m255.png", mask.astype(np.uint8) * 255)
    _write(tmp_path / "empty.png", np.zeros((6, 6), np.uint8))
    for name in ("m01.png", "m255.png"):
        loaded = load_mask(tmp_path / name)
        assert loaded.dtype == np.bool_
        np.testing.assert_array_equal(loaded, mask)
    assert not load_mask(tmp_path / "empty.png").any()
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="broken.png"):
        load_mask(tmp_path / "broken.png")
    with pytest.raises(FileNotFoundError):
        load_mask(tmp_path / "missing.png")


# --------------------------------------------------------------------------- #
# real data (skipped when the shared datasets are not mounted)
# --------------------------------------------------------------------------- #
@pytest.mark.skipif(not EG1800.is_dir(), reason=f"EG1800 dev set not found at {EG1800}")
def test_eg1800_pairs_gt_against_itself() -> None:
    pairs = list(iter_dataset_pairs(EG1800, limit=10))
    assert len(pairs) == 10
    assert [p.name for p in pairs] == sorted(p.name for p in pairs)
    acc = MetricAccumulator()
    for _name, image_path, mask_path in pairs:
        gt = load_mask(mask_path)
        image = cv2.imread(str(image_path))
        assert image is not None and image.shape[:2] == gt.shape
        # A real portrait mask has both classes, so the "both empty" conventions
        # cannot be what makes the scores perfect.
        assert gt.any() and not gt.all()
        acc.add(gt.astype(np.float32), gt)
    s = acc.summary()
    assert s["person_iou"] == 1.0
    assert s["miou_2class"] == 1.0
    assert s["boundary_f"] == 1.0
    assert s["mae"] == 0.0
    # Sanity: a degraded prediction scores worse on the same data.
    gt = load_mask(pairs[0].mask_path)
    eroded = cv2.erode(gt.astype(np.uint8), np.ones((15, 15), np.uint8)).astype(np.float32)
    assert person_iou(eroded, gt) < 1.0
    assert boundary_f(eroded, gt, tolerance=3) < 1.0
    assert mae(eroded, gt) > 0.0


@pytest.mark.skipif(not DAVIS_SEQ.is_dir(), reason=f"DAVIS sequence not found at {DAVIS_SEQ}")
def test_davis_sequence_temporal_instability_of_gt() -> None:
    pairs = list(iter_dataset_pairs(DAVIS_SEQ))
    names = [p.name for p in pairs]
    assert len(pairs) > 1 and names == sorted(names)
    ti = temporal_instability(load_mask(p.mask_path) for p in pairs)
    # A dancer moves: GT changes between frames, but only a small fraction of pixels.
    assert 0.0 < ti < 0.2
    acc = MetricAccumulator(sequence=True)
    for p in pairs:
        gt = load_mask(p.mask_path)
        acc.add(gt.astype(np.float32), gt)
    s = acc.summary()
    assert s["temporal_instability_gt"] == pytest.approx(ti)
    assert s["temporal_instability_excess"] == pytest.approx(0.0)
