"""Helper models that are not person segmenters: low-light enhancers and a depth estimator.

Their authors' terms do not let greenroom ship them, so each is downloaded once, on first use,
from a URL pinned to a commit, checked against its sha256 and kept in the models folder beside
the segmentation models (`--models-dir`, `$GREENROOM_MODELS` or the user cache).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from greenroom.errors import GreenroomError

_OBS = (
    "https://raw.githubusercontent.com/royshil/obs-backgroundremoval/"
    "875ffda175fcb066380b31797c63630c8b4a3c71/data/models/"
)


@dataclass(frozen=True)
class AuxModel:
    """A downloadable helper model and how it wants its input."""

    name: str
    kind: str  # "low-light" or "depth"
    filename: str
    sha256: str
    width: int
    height: int
    license: str
    url_base: str = _OBS


AUX_MODELS: dict[str, AuxModel] = {
    model.name: model
    for model in (
        AuxModel(
            "semantic-guided-llie", "low-light", "semantic_guided_llie_180x324.onnx",
            "0038a073bcf60831041cd2dce649f5267e71d7f6e650725ceccdd2c22bd16e44", 324, 180,
            "its authors' terms (semantic-guided LLIE, converted in PINTO_model_zoo 370)",
        ),
        AuxModel(
            "zero-dce", "low-light", "zero_dce_180x320.onnx",
            "097365663daa6f097fa1294de2f91b9451f531b9b691bda872cafdd11bb27561", 320, 180,
            "its authors' terms (Zero-DCE++, converted in PINTO_model_zoo 243)",
        ),
        AuxModel(
            "tcmonodepth", "depth", "tcmonodepth_tcsmallnet_192x320.onnx",
            "902b886beaebd3f68deb40bab2fd636a0c112c1ef1cbdd15fa26e5c55b389b4d", 320, 192,
            "its authors' terms (temporally consistent monocular depth, TCSmallNet)",
        ),
    )
}


def aux_model_path(
    name: str, models_dir: str | os.PathLike[str] | None = None, *, download: bool = True
) -> Path:
    """The verified local file of a helper model, downloaded once into the models folder."""
    from greenroom.segmentation.download import download_file
    from greenroom.segmentation.registry import models_dir as folder_of
    from greenroom.segmentation.registry import verified_file

    if name not in AUX_MODELS:
        raise GreenroomError(f"unknown helper model {name!r}; choose from {sorted(AUX_MODELS)}")
    model = AUX_MODELS[name]
    path = folder_of(models_dir) / model.filename
    if verified_file(path, model.sha256) is not None:
        return path
    if not download:
        raise GreenroomError(
            f"{model.kind} model {name} is not downloaded: save {model.url_base}{model.filename}"
            f" as {path} (sha256 {model.sha256})"
        )
    return download_file(model.url_base + model.filename, path, model.sha256)
