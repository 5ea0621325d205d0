"""What a batch applies to every file: plain data, so it can travel to worker processes and nodes.

A worker rebuilds the effect and the model from these settings (see `filework.py`); nothing
that holds native handles (a model session, an open background clip) crosses a process boundary.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, replace

from greenroom.compositing import Effect, EffectSpec
from greenroom.matte.adjust import MatteAdjust
from greenroom.segmentation.request import ModelRequest

#: Settings that change how fast a file is made, never what is made: left out of the
#: fingerprint, so a rerun with another layout still skips finished files.
NOT_IN_FINGERPRINT = frozenset({"threads", "providers"})


@dataclass(frozen=True)
class Encoding:
    """How a video result is encoded (x264/VP9 quality and speed) and steadied over time."""

    crf: int | None = None  # None: the codec's default (20 for H.264, 32 for VP9)
    preset: str = "veryfast"
    temporal: bool = True  # smoothing across frames plus the one-frame look-ahead


@dataclass(frozen=True)
class JobSettings:
    """Effect, model and encoder settings for every file of a batch."""

    effect: EffectSpec = EffectSpec()  # its background: an absolute path (or URL) all can read
    model: str = "auto"
    matte_quality: str | None = None  # fast|balanced|best: picks model and stages per file kind
    refine: bool = True
    adjust: MatteAdjust | None = None  # threshold, expand/shrink, feather
    threads: int | None = None  # inference threads per worker
    models_dir: str | None = None
    providers: tuple[str, ...] | None = None
    crf: int | None = None
    preset: str = "veryfast"
    temporal: bool = True
    auto_frame: bool = False  # videos only: a photo has no motion to follow
    image_format: str | None = None  # png, jpg, ...: else the input's (PNG for alpha/mattes)
    image_quality: int = 95

    def fingerprint(self) -> str:
        """A short hash of what decides the output bytes: a changed setting redoes every file."""
        data = {k: v for k, v in asdict(self).items() if k not in NOT_IN_FINGERPRINT}
        text = json.dumps(data, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def with_threads(self, threads: int) -> JobSettings:
        return replace(self, threads=threads)

    def model_request(self, model: str) -> ModelRequest:
        """How a worker asks for `model` (the batch's, or the one --matte-quality picked)."""
        return ModelRequest(model, self.threads, self.models_dir, self.providers)

    def build_effect(self) -> Effect:
        """The effect, as every worker builds it (a focus blur's model from `models_dir`)."""
        return self.effect.build(models_dir=self.models_dir)

    @property
    def channels(self) -> int:
        """Channels of the results: 1 for mattes, 4 for cut-outs, 3 otherwise."""
        return self.effect.channels
