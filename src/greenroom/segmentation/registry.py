"""The model zoo by name: a facade over the catalogue, the file store and the loader.

Older code and tests import these names from here; each lives in the module with that one job:
the catalogue (`catalogue.toml`, read and checked by `catalogue.py`: `ModelInfo`, `MODELS`,
`ALIASES`, `get`), the file store (`store.py`: the models folder, cached files, downloads and
their sha256 checks) and the loader (`loader.py`, which takes a `ModelRequest`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from greenroom.segmentation.base import Segmenter
from greenroom.segmentation.catalogue import ALIASES, MODELS, ModelInfo, get, resolve_name
from greenroom.segmentation.loader import load_entry
from greenroom.segmentation.request import ModelRequest
from greenroom.segmentation.store import (
    ENV_MODELS_DIR,
    cached_path,
    ensure_model,
    how_to_place,
    is_available,
    models_dir,
    platform_cache_dir,
    verified_file,
)


def load(
    info: ModelInfo,
    num_threads: int | None = None,
    *,
    directory: str | os.PathLike[str] | None = None,
    providers: str | Sequence[str] | None = None,
    download: bool = True,
    progress: Callable[[int, int | None], None] | None = None,
) -> Segmenter:
    """Load a catalogue entry as a `Segmenter` (see `loader.load_entry`)."""
    request = ModelRequest(info.name, num_threads, directory, providers, download)  # type: ignore[arg-type]
    return load_entry(info, request, progress=progress)


__all__ = [
    "ALIASES",
    "ENV_MODELS_DIR",
    "MODELS",
    "ModelInfo",
    "cached_path",
    "ensure_model",
    "get",
    "how_to_place",
    "is_available",
    "load",
    "models_dir",
    "platform_cache_dir",
    "resolve_name",
    "verified_file",
]
