"""Sample pictures shipped with greenroom so the demo and tests need no camera and no download.

See README.md in this folder for where each picture comes from (both are public domain).
"""

from __future__ import annotations

from importlib.resources import as_file, files
from pathlib import Path

import numpy as np

from greenroom.sources.images import read_image


def sample_path(name: str) -> Path:
    """Path of a shipped sample file, e.g. 'astronaut.jpg'."""
    with as_file(files(__package__) / name) as path:
        return Path(path)


def astronaut() -> np.ndarray:
    """Eileen Collins, NASA astronaut (512x512 RGB): a real person for demos and tests."""
    return read_image(sample_path("astronaut.jpg"))


def rocket() -> np.ndarray:
    """A Falcon 9 launch (640x427 RGB): the demo's replacement background."""
    return read_image(sample_path("rocket.jpg"))
