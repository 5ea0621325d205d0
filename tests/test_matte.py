"""Matte quality steps do what they claim: on real labelled data and on hand-made sequences."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from PIL import Image

from greenroom.cli.main import main
from greenroom.compositing import ColorBackground
from greenroom.evaluation import MetricAccumulator, iter_dataset_pairs, load_mask
from greenroom.evaluation.runner import STAGES, evaluate, subset
from greenroom.frames import Frame
from greenroom.matte import (
    GuidedRefiner,
    LookaheadCorrector,
    SceneCutDetector,
    StillnessSkipper,
    TemporalSmoother,
)
from greenroom.pipeline import Processor
from greenroom.pipeline.stream import StreamPipeline
from greenroom.segmentation import load_segmenter, mask_to_frame
from greenroom.sources.images import read_image
from greenroom.testing import ListSink
from tests.conftest import shared_path


def test_refinement_raises_boundary_f_on_eg1800():
    """On a fixed 50-image subset: boundary F up, MAE down, IoU not lower."""
    root = shared_path("data", "eg1800-dev")
    pairs = subset(list(iter_dataset_pairs(root)), 50)
    segmenter = load_segmenter("auto")
    refiner = GuidedRefiner()
    raw, refined = MetricAccumulator(), MetricAccumulator()
    for pair in pairs:
        frame, truth = read_image(pair.image_path), load_mask(pair.mask_path)
        small = segmenter.segment(frame)
        raw.add(mask_to_frame(small, (frame.shape[1], frame.shape[0])), truth)
        refined.add(refiner.refine(frame, small), truth)
    before, after = raw.summary(), refined.summary()
    assert after["boundary_f"] > before["boundary_f"] + 0.03
    assert after["mae"] < before["mae"] * 0.9
    assert after["person_iou"] >= before["person_iou"]


def test_refined_matte_follows_a_sharp_edge():
    """A blurry, misplaced mask edge snaps to the frame's real colour edge."""
    frame = np.zeros((360, 640, 3), np.uint8)
    frame[:, 300:] = (200, 150, 120)  # the "person" is the right part, edge at x = 300
    truth = np.zeros((360, 640), bool)
    truth[:, 300:] = True
    coarse = np.zeros((144, 256), np.float32)
    coarse[:, 124:] = 1.0  # edge at 124/256*640 = 310 px: 10 px off
    coarse = cv2.GaussianBlur(coarse, (0, 0), 3)
    plain = mask_to_frame(coarse, (640, 360))
    refined = GuidedRefiner().refine(frame, coarse)
    assert refined.shape == (360, 640) and refined.dtype == np.float32
    assert refined.min() >= 0.0 and refined.max() <= 1.0

    def error(alpha: np.ndarray) -> float:
        return float(np.abs(alpha - truth).mean())

    def edge_column(alpha: np.ndarray) -> int:
        return int(np.argmax(alpha[180] > 0.5))

    assert error(refined) < 0.7 * error(plain)
    assert abs(edge_column(refined) - 300) < abs(edge_column(plain) - 300)


def sequence_with_jitter(frames: int = 30) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """A still scene whose model masks flicker at the edge: the same frame, noisy masks."""
    rng = np.random.default_rng(7)
    frame = np.full((144, 256, 3), 90, np.uint8)
    frame[30:144, 90:170] = 200
    base = np.zeros((144, 256), np.float32)
    base[30:144, 90:170] = 1.0
    base = cv2.GaussianBlur(base, (0, 0), 2)
    masks = [np.clip(base + rng.normal(0, 0.15, base.shape).astype(np.float32) * (
        (base > 0.05) & (base < 0.95)), 0, 1) for _ in range(frames)]
    return [frame.copy() for _ in range(frames)], masks


def instability(masks: list[np.ndarray]) -> float:
    return float(np.mean([np.abs(a - b).mean() for a, b in zip(masks, masks[1:], strict=False)]))


def test_temporal_smoothing_steadies_a_still_scene():
    frames, masks = sequence_with_jitter()
    smoother = TemporalSmoother()
    smoothed = [smoother.update(f, m) for f, m in zip(frames, masks, strict=True)]
    assert instability(smoothed) < 0.6 * instability(masks)


def test_temporal_smoothing_leaves_no_trail_behind_motion():
    """A moving block: where the frame changed, the smoothed mask is the new mask."""
    smoother = TemporalSmoother()
    for x in range(0, 120, 20):
        frame = np.full((144, 256, 3), 40, np.uint8)
        frame[40:100, x : x + 40] = 220
        mask = np.zeros((144, 256), np.float32)
        mask[40:100, x : x + 40] = 1.0
        result = smoother.update(frame, mask)
    assert np.abs(result - mask).max() < 0.05  # the old position (x = 80) is gone


def test_motion_gray_of_a_reduced_luma_matches_area_averaging(astronaut_rgb):
    """A yuv420p picture's reduced luma (320x180 at 720p) goes to the landscape model's 256x144
    bilinearly, not by OpenCV's slow area path: at that gentle ratio the two agree to well
    under a grey level, so the motion checks see the same picture."""
    from greenroom.frames import I420
    from greenroom.matte.temporal import small_gray

    picture = I420.from_rgb(cv2.resize(astronaut_rgb, (1280, 720), interpolation=cv2.INTER_AREA))
    luma = picture.motion_luma()
    assert luma.shape == (180, 320)
    fast = small_gray(luma, (256, 144))
    area = cv2.resize(luma, (256, 144), interpolation=cv2.INTER_AREA).astype(np.float32)
    area = np.clip((area - 16) / 219, 0, 1)
    assert fast.shape == (144, 256) and fast.dtype == np.float32
    assert np.abs(fast - area).mean() < 1 / 219  # under one level on average
    assert np.abs(fast - area).max() < 0.1
    # Whole-number ratios keep exact area averaging (320 -> 64 for the scene-cut check).
    exact = cv2.resize(luma, (64, 36), interpolation=cv2.INTER_AREA).astype(np.float32)
    np.testing.assert_allclose(small_gray(luma, (64, 36)), np.clip((exact - 16) / 219, 0, 1),
                               atol=1e-6)


def test_lookahead_fixes_single_frame_flips_only():
    corrector = LookaheadCorrector()
    a = np.zeros((20, 20), np.float32)
    flip = a.copy()
    flip[5:10, 5:10] = 1.0  # appears for one frame only
    b = a.copy()
    assert corrector.push(a) is None
    np.testing.assert_array_equal(corrector.push(flip), a)  # first frame out unchanged
    fixed = corrector.push(b)
    assert fixed.max() == 0.0  # the flip is removed
    np.testing.assert_array_equal(corrector.flush(), b)
    # A lasting change is kept: 0 -> 1 -> 1.
    corrector = LookaheadCorrector()
    one = np.ones((20, 20), np.float32)
    corrector.push(a)
    corrector.push(one)
    np.testing.assert_array_equal(corrector.push(one), one)


def test_skipper_reuses_masks_on_a_still_clip_without_losing_quality(astronaut_rgb):
    rng = np.random.default_rng(3)
    still = Processor(ColorBackground((0, 0, 0)), model="selfie-general", skip_still=True)
    fresh = Processor(ColorBackground((0, 0, 0)), model="selfie-general")
    ious = []
    for _ in range(40):  # a person sitting still: sensor noise only
        noise = rng.normal(0, 1.5, astronaut_rgb.shape)
        frame = np.clip(astronaut_rgb + noise, 0, 255).astype(np.uint8)
        a, b = still.matte(frame) > 0.5, fresh.matte(frame) > 0.5
        ious.append(np.logical_and(a, b).sum() / np.logical_or(a, b).sum())
    assert still.skipper is not None and still.skipper.skipped_fraction > 0.6
    assert min(ious) > 0.98


def test_skipper_runs_the_model_when_the_person_moves(astronaut_rgb):
    skipper = StillnessSkipper()
    processor = Processor(model="selfie-general", skip_still=skipper)
    for shift in range(0, 60, 6):
        processor.segment(np.ascontiguousarray(np.roll(astronaut_rgb, shift, axis=1)))
    assert skipper.reused == 0


def test_pipeline_lookahead_keeps_every_frame_in_order(astronaut_rgb):
    sink = ListSink()
    frames = (Frame(i, astronaut_rgb, pts=i) for i in range(12))
    with Processor(model="selfie-general", temporal=True) as processor:
        StreamPipeline(processor, frames, sink, lookahead=LookaheadCorrector()).run()
    assert [item.pts for item in sink.items] == list(range(12))
    assert all(item.mask is not None and item.output is not None for item in sink.items)


def test_lookahead_and_smoothing_reduce_instability_on_davis():
    root = shared_path("data", "davis-dance-twirl")
    raw = evaluate(root, STAGES["raw"], sequence=True)
    steady = evaluate(root, STAGES["refined+temporal+lookahead"], sequence=True)
    assert steady["temporal_instability_excess"] < 0.5 * raw["temporal_instability_excess"]
    assert steady["person_iou"] >= raw["person_iou"]


def test_scene_cut_is_found_between_two_photos_not_within_a_moving_shot(astronaut_rgb):
    from greenroom.compositing import cover_resize
    from greenroom.samples import rocket

    frames, _ = sequence_with_jitter(20)
    shot = [cv2.warpAffine(astronaut_rgb, np.float32([[1, 0, 6 * i], [0, 1, 3 * i]]),
                           astronaut_rgb.shape[1::-1], borderMode=cv2.BORDER_REFLECT)
            for i in range(10)]  # a person panning across the frame, 6 px a frame
    other = cover_resize(rocket(), astronaut_rgb.shape[1], astronaut_rgb.shape[0])
    detector = SceneCutDetector()
    flags = [detector.is_cut(f) for f in [*frames, *shot, other, other, astronaut_rgb]]
    assert flags == [False] * (len(frames) + 1) + [False] * 9 + [True, False, True]
    assert detector.cuts == 2


def test_no_scene_cut_in_a_fast_dance():
    root = shared_path("data", "davis-dance-twirl")
    detector = SceneCutDetector()
    frames = sorted((root / "images").iterdir())
    flags = [detector.is_cut(read_image(path)) for path in frames]
    assert len(flags) >= 60 and not any(flags)


def test_eval_command_on_a_handmade_dataset(tmp_path, astronaut_rgb, capsys):
    """Two images whose 'ground truth' is the model's own raw matte: raw scores IoU 1."""
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    segmenter = load_segmenter("auto")
    for index, image in enumerate([astronaut_rgb, np.ascontiguousarray(astronaut_rgb[:, ::-1])]):
        Image.fromarray(image).save(tmp_path / "images" / f"{index:05d}.png")
        matte = mask_to_frame(segmenter.segment(image), (512, 512))
        Image.fromarray(((matte > 0.5) * 255).astype(np.uint8)).save(
            tmp_path / "masks" / f"{index:05d}.png")
    with pytest.raises(SystemExit) as exit_info:
        main(["eval", str(tmp_path), "--stage", "raw", "--stage", "refined", "--json"])
    assert exit_info.value.code == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["stage"] for row in rows] == ["raw", "refined"]
    assert rows[0]["frames"] == 2 and rows[0]["person_iou"] == pytest.approx(1.0)
    assert rows[0]["boundary_f"] == pytest.approx(1.0)
    assert 0.9 < rows[1]["person_iou"] < 1.0
    assert rows[0]["ms_per_frame"] > 0


def test_eval_command_errors(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["eval", str(tmp_path / "missing")])
    assert exit_info.value.code == 1
    assert "missing" in capsys.readouterr().err
