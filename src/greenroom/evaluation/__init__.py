"""Evaluation of person masks: accuracy/stability metrics and dataset loading.

Metrics follow the portrait-segmentation conventions (EG1800 two-class mIoU,
DAVIS-style boundary F-score, MAE of the soft mask) plus a temporal-instability
term for video; see :mod:`greenroom.evaluation.metrics` for the exact conventions.
"""

from greenroom.evaluation.datasets import (
    ImageMaskPair,
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

__all__ = [
    "ImageMaskPair",
    "MetricAccumulator",
    "background_iou",
    "boundary_f",
    "iter_dataset_pairs",
    "iter_image_mask_pairs",
    "load_mask",
    "mae",
    "miou_2class",
    "person_iou",
    "temporal_instability",
]
