"""The shipped fine-tuned model (weights/greenroom_selfie.tflite) against today's default.

It is the selfie graph with fine-tuned weights, so it must load like any .tflite (no sidecar
needed: RGB in [0, 1], one probability channel) and, on EG1800 portraits training never saw
(the held-out tenth), segment them better than the default does.
"""

from __future__ import annotations

import hashlib

import numpy as np

from greenroom.evaluation.metrics import person_iou
from greenroom.segmentation import load_segmenter
from greenroom.segmentation.base import mask_to_frame
from greenroom.segmentation.mediapipe_selfie import builtin_model_path
from greenroom.training import data
from tests.conftest import shared_path

FILE = "greenroom_selfie.tflite"


def test_the_notice_names_the_shipped_file_and_its_hash():
    path = builtin_model_path(FILE)
    notice = (path.parent / "NOTICE-greenroom-selfie").read_text()
    assert hashlib.sha256(path.read_bytes()).hexdigest() in notice
    assert f"{path.stat().st_size} bytes" in notice


def test_it_beats_the_default_on_held_out_portraits():
    root = shared_path("data", "eg1800-dev")
    held = set(data.eg1800_holdout())
    pairs = [p for p in data.labelled_pairs(root) if p[0] in held][::4]  # 34 of the 134
    segmenters = {
        "tuned": load_segmenter(str(builtin_model_path(FILE)), 1),  # as a plain .tflite file
        "by name": load_segmenter("greenroom-selfie", 1),  # the catalogue's: its spec
        "default": load_segmenter("selfie-general", 1),
    }
    assert segmenters["by name"].name == "greenroom-selfie"
    scores: dict[str, list[float]] = {key: [] for key in segmenters}
    for _, image_path, mask_path in pairs:
        image, truth = data.read_rgb(image_path), data.read_mask(mask_path)
        for key, segmenter in segmenters.items():
            mask = mask_to_frame(segmenter.segment(image), image.shape[1::-1])
            scores[key].append(person_iou(mask, truth))
    iou = {key: float(np.mean(values)) for key, values in scores.items()}
    assert iou["tuned"] > iou["default"] + 0.005, iou
    assert iou["by name"] > iou["default"] + 0.005, iou
    assert iou["tuned"] > 0.96


def test_by_name_it_runs_by_its_spec_as_the_plain_file_does(astronaut_rgb):
    """The catalogue runs it with a plain bilinear resize (its spec), not MediaPipe's warp: the
    same mask as the file loaded with no sidecar, and not the warp's."""
    by_name = load_segmenter("greenroom-selfie", 1).segment(astronaut_rgb)
    as_file = load_segmenter(str(builtin_model_path(FILE)), 1).segment(astronaut_rgb)
    np.testing.assert_array_equal(by_name, as_file)
    from greenroom.segmentation.mediapipe_selfie import MediaPipeSelfieSegmenter

    warp = MediaPipeSelfieSegmenter("general", 1)
    warp._interpreter = load_segmenter(str(builtin_model_path(FILE)), 1)._interpreter
    assert np.abs(warp.segment(astronaut_rgb) - by_name).max() > 0.05


def test_on_dance_twirl_it_is_no_worse_than_the_default():
    """Issue 13's no-regression target, raw, on all 90 frames: IoU, boundary F, instability."""
    from greenroom.evaluation.runner import STAGES, evaluate

    root = shared_path("data", "davis-dance-twirl")
    tuned = evaluate(root, STAGES["raw"], model="greenroom-selfie", sequence=True)
    default = evaluate(root, STAGES["raw"], model="auto", sequence=True)
    assert tuned["person_iou"] > default["person_iou"] + 0.02, (tuned, default)
    assert tuned["boundary_f"] > default["boundary_f"] + 0.01, (tuned, default)
    assert tuned["temporal_instability_pred"] <= default["temporal_instability_pred"]
