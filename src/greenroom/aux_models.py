"""Helper models that are not person segmenters: low-light enhancers and a depth estimator.

Their authors' terms do not let greenroom ship them, so each is downloaded once, on first use,
from a URL pinned to a commit, checked against its sha256 and kept in the models folder beside
the segmentation models (`--models-dir`, `$GREENROOM_MODELS` or the user cache). They are listed
in the model catalogue (`segmentation/catalogue.toml`, `[helpers.NAME]`) and fetched by the same
file store (`segmentation/store.py`) as the segmentation models.
"""

from __future__ import annotations

import os
from pathlib import Path

from greenroom.errors import GreenroomError
from greenroom.segmentation.catalogue import HELPERS, AuxModel

#: The helper models by name, from the catalogue.
AUX_MODELS: dict[str, AuxModel] = HELPERS


def aux_model_path(
    name: str, models_dir: str | os.PathLike[str] | None = None, *, download: bool = True
) -> Path:
    """The verified local file of a helper model, downloaded once into the models folder."""
    from greenroom.segmentation import store

    if name not in AUX_MODELS:
        raise GreenroomError(f"unknown helper model {name!r}; choose from {sorted(AUX_MODELS)}")
    model = AUX_MODELS[name]
    folder = store.models_dir(models_dir)
    path = store.cached_path(model, folder)
    if path is not None:
        return path
    if not download:
        raise GreenroomError(
            f"{model.kind} model {name} is not downloaded: save {model.url}"
            f" as {folder / model.filename} (sha256 {model.sha256})"
        )
    return store.fetch(model, folder)
