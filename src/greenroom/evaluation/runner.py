"""Run any stage of the pipeline over a labelled dataset and score it.

A stage is a `Processor` configuration (raw model, refined, temporally smoothed, ...), so what is
scored is exactly what users get. Images are scored independently; a sequence is processed in
order, so temporal stages see the previous frames, and its instability is measured too.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from greenroom.compositing import MaskOnly
from greenroom.errors import InputError
from greenroom.evaluation.datasets import ImageMaskPair, iter_dataset_pairs, load_mask
from greenroom.evaluation.metrics import MetricAccumulator
from greenroom.matte import LookaheadCorrector
from greenroom.pipeline.processor import Processor
from greenroom.segmentation import Segmenter
from greenroom.segmentation.quality import refiner_for
from greenroom.sources.images import read_image


@dataclass(frozen=True)
class Stage:
    """One pipeline configuration to score."""

    name: str
    refine: bool = False
    temporal: bool = False
    lookahead: bool = False


STAGES: dict[str, Stage] = {
    stage.name: stage
    for stage in (
        Stage("raw"),
        Stage("refined", refine=True),
        Stage("temporal", temporal=True),
        Stage("refined+temporal", refine=True, temporal=True),
        Stage("refined+temporal+lookahead", refine=True, temporal=True, lookahead=True),
    )
}


def subset(pairs: list[ImageMaskPair], limit: int | None) -> list[ImageMaskPair]:
    """At most `limit` pairs spread evenly over the set (all when `limit` is None)."""
    if limit is None or limit >= len(pairs):
        return pairs
    step = len(pairs) / limit
    return [pairs[int(i * step)] for i in range(limit)]


def _mattes(
    processor: Processor, pairs: list[ImageMaskPair], lookahead: bool
) -> Iterator[tuple[np.ndarray, np.ndarray, float]]:
    """(matte, ground truth, seconds) per pair, in order; with lookahead one frame late."""
    corrector = LookaheadCorrector() if lookahead else None
    held: list[tuple[np.ndarray, np.ndarray, float]] = []  # (frame, gt, seconds so far)
    for pair in pairs:
        frame = read_image(pair.image_path)
        truth = load_mask(pair.mask_path)
        if truth.shape != frame.shape[:2]:
            raise InputError(pair.mask_path, f"mask size {truth.shape[::-1]} differs from "
                             f"its image's {frame.shape[1::-1]}")
        started = time.perf_counter()
        small = processor.segment(frame)
        if corrector is None:
            matte = processor.matte_from_mask(frame, small)
            yield matte, truth, time.perf_counter() - started
            continue
        spent = time.perf_counter() - started
        held.append((frame, truth, spent))
        ready = corrector.push(small)
        if ready is not None:
            frame0, truth0, spent0 = held.pop(0)
            started = time.perf_counter()
            matte = processor.matte_from_mask(frame0, ready)
            yield matte, truth0, spent0 + time.perf_counter() - started
    if corrector is not None and held:
        last = corrector.flush()
        frame0, truth0, spent0 = held.pop(0)
        assert last is not None
        yield processor.matte_from_mask(frame0, last), truth0, spent0


def evaluate(
    root: str | Path,
    stage: Stage,
    *,
    model: str | Callable[[], Segmenter] = "auto",
    sequence: bool = False,
    limit: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Score `stage` on the dataset at `root` (`images/` + `masks/` with matching names).

    `model` is a name for `load_segmenter`, or a function that loads a fresh segmenter (the
    processor closes it at the end). A matting model's refinement keeps its soft alpha
    (`quality.refiner_for`), as the commands do.
    """
    try:
        pairs = subset(list(iter_dataset_pairs(root)), limit)
    except (OSError, ValueError) as exc:  # missing folders, no matching names
        raise InputError(root, str(exc)) from None
    accumulator = MetricAccumulator(sequence=sequence)
    segmenter = model if isinstance(model, str) else model()
    with Processor(
        MaskOnly(), model=segmenter, refine=refiner_for(segmenter, stage.refine),
        temporal=stage.temporal,
    ) as proc:
        for done, (matte, truth, seconds) in enumerate(
            _mattes(proc, pairs, stage.lookahead and sequence), start=1
        ):
            accumulator.add(matte, truth, seconds)
            if not sequence:
                proc.reset()  # unrelated photos: no state may carry over
            if progress is not None:
                progress(done, len(pairs))
    return {"dataset": Path(root).name, "stage": stage.name, **accumulator.summary()}
