"""Matte refinement: from the model's coarse mask to a clean, stable, frame-sized alpha."""

from greenroom.matte.adjust import MatteAdjust
from greenroom.matte.guided import GuidedParams, GuidedRefiner
from greenroom.matte.temporal import (
    LookaheadCorrector,
    SceneCutDetector,
    StillnessSkipper,
    TemporalSmoother,
)

__all__ = [
    "GuidedParams",
    "GuidedRefiner",
    "LookaheadCorrector",
    "MatteAdjust",
    "SceneCutDetector",
    "StillnessSkipper",
    "TemporalSmoother",
]
