"""Sanity of the default model on human-labelled portraits (needs ../shared/data/eg1800-dev)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from greenroom import Processor
from greenroom.sources.images import read_image
from tests.conftest import shared_path

#: At least this many images, spread evenly over the set, so the figure is not a lucky subset.
SAMPLE = 200


def test_default_model_person_iou_on_eg1800(record_property):
    root = shared_path("data", "eg1800-dev")
    masks = sorted((root / "masks").glob("*.png"))
    assert len(masks) >= SAMPLE
    chosen = masks[:: len(masks) // SAMPLE][:SAMPLE]
    ious = []
    with Processor(model="auto") as processor:
        for mask_path in chosen:
            image_path = next((root / "images").glob(mask_path.stem + ".*"))
            truth = np.asarray(Image.open(mask_path).convert("L")) > 127
            predicted = processor.matte(read_image(image_path)) > 0.5
            union = np.logical_or(truth, predicted).sum()
            ious.append(np.logical_and(truth, predicted).sum() / union if union else 1.0)
    mean_iou = float(np.mean(ious))
    record_property("eg1800_person_iou", mean_iou)
    print(f"default model person IoU on {len(ious)} EG1800 images: {mean_iou:.4f}")
    assert mean_iou > 0.85
