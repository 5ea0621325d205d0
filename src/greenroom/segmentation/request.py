"""`ModelRequest`: the one way to ask for a segmentation model, as plain data.

Everything that decides which model is loaded and how travels in one frozen record, passed
explicitly: the CLI builds it from its options, a batch ships it to worker processes, the web
server and the library build it from their arguments. Nothing is read from hidden state (a
click context, a global) on the way to `loader.load`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class ModelRequest:
    """Which model to load, and where and how to run it.

    - `name`: `auto`, a catalogue name or alias, or the path of a `.tflite`/`.onnx` file.
    - `num_threads`: inference threads (None: `base.default_threads()`).
    - `models_dir`: the models folder (None: `$GREENROOM_MODELS`, else the user cache folder).
    - `providers`: ONNX Runtime execution providers, short or full names, a comma-separated
      string or a sequence; kept as a tuple of short names (None: the CPU). An unknown name is
      a `GreenroomError` here, when the request is made.
    - `download`: fetch a catalogue model that is not in the folder yet (else an error saying
      how to place it by hand).
    """

    name: str = "auto"
    num_threads: int | None = None
    models_dir: str | None = None
    providers: tuple[str, ...] | None = None
    download: bool = True

    def __post_init__(self) -> None:
        from greenroom.segmentation.backends import normalize_providers

        # Plain, hashable data whatever the caller passed (a Path, a list, "cuda,cpu").
        object.__setattr__(self, "name", os.fspath(self.name))
        if self.models_dir is not None:
            object.__setattr__(self, "models_dir", os.fspath(self.models_dir))
        providers = normalize_providers(self.providers)  # type: ignore[arg-type]
        object.__setattr__(self, "providers", tuple(providers) if providers else None)

