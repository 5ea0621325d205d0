"""`--matte-quality fast|balanced|best`: which model and which stages, chosen from measurements.

Every choice here comes from one `greenroom eval` run per model over all of EG1800 (photos) and
DAVIS dance-twirl (video); the numbers are in docs/models.md.

- `fast`: the default model, its plain mask (no edge refinement).
- `balanced` (what greenroom does without `--matte-quality`): the default model (`auto`) with the
  guided-filter edge refinement, and for video the temporal stages.
- `best`: the most accurate model measured for the input. Photos: MODNet (portrait matting,
  Apache-2.0) with a soft guided upsampling. Videos: Robust Video Matting (GPL-3.0), whose own
  recurrent state already makes it steady, with greenroom's temporal smoothing and look-ahead.
  `best` names the model it used, and its licence, on stderr.

Matting models (MODNet, RVM) give a real soft alpha: hair strands are partly transparent.
greenroom's usual refinement ends in a contrast band (0.4-0.6 -> 0-1) made for segmentation
masks, which would harden that alpha; for matting models `refiner_for` keeps the guided
filter's edge-aware upsampling but drops the band, so the alpha goes to the compositor as is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from greenroom.matte import GuidedRefiner
from greenroom.matte.guided import GuidedParams
from greenroom.segmentation import registry

QUALITIES: tuple[str, ...] = ("fast", "balanced", "best")
Kind = Literal["photo", "video"]

#: Edge-aware upsampling for matting models: no contrast band (alpha kept soft), a narrower
#: window than for segmentation masks (their edge is already right; only its pixels move).
#: On the 50-portrait EG1800 subset with MODNet: boundary F 0.717 against 0.697 for a bilinear
#: upsample and 0.719 with the band, while 3x as many pixels stay partly transparent.
MATTING_GUIDED = GuidedParams(low=0.0, high=1.0, radius=0.015)


@dataclass(frozen=True)
class Plan:
    """What a quality level means for one kind of input."""

    model: str
    refine: bool
    temporal: bool

    @property
    def info(self) -> registry.ModelInfo | None:
        """The registry entry of the model (None for `auto`)."""
        return registry.MODELS.get(self.model)

    def describe(self) -> str:
        """One line saying which model is used and under what licence."""
        info = self.info
        if info is None:
            return f"{self.model} (MediaPipe selfie segmentation, Apache-2.0)"
        terms = f"; {info.terms}" if info.terms else ""
        return f"{info.name} ({info.license.split(' (')[0]}{terms})"


def plan(quality: str, kind: Kind) -> Plan:
    """The model and stages for `quality` on photos or videos."""
    if quality not in QUALITIES:
        raise ValueError(f"quality must be one of {', '.join(QUALITIES)}, got {quality!r}")
    video = kind == "video"
    if quality == "fast":
        return Plan("auto", refine=False, temporal=video)
    if quality == "balanced":
        return Plan("auto", refine=True, temporal=video)
    if video:
        return Plan("rvm-mobilenetv3", refine=True, temporal=True)
    return Plan("modnet", refine=True, temporal=False)


def is_matting(segmenter: object) -> bool:
    """True for a model whose output is a soft alpha matte (MODNet, RVM, RVM-like files)."""
    from greenroom.segmentation.recurrent import RecurrentMattingSegmenter

    if isinstance(segmenter, RecurrentMattingSegmenter):
        return True
    info = registry.MODELS.get(getattr(segmenter, "name", ""))
    return info is not None and info.matting


def refiner_for(segmenter: object, refine: bool = True) -> GuidedRefiner | bool:
    """The refinement for a `Processor` running `segmenter`: band-free for matting models."""
    if refine and is_matting(segmenter):
        return GuidedRefiner(MATTING_GUIDED)
    return refine
