"""Shared fixtures: the shipped sample photo, a loaded model, and the optional shared/ data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from greenroom.samples import astronaut
from greenroom.segmentation import load_segmenter

#: Evaluation data beside the project root; tests that need it skip when it is absent.
SHARED = Path(__file__).resolve().parents[2] / "shared"


def shared_path(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent (evaluation data lives beside the project root)")
    return path


@pytest.fixture(scope="session")
def astronaut_rgb() -> np.ndarray:
    return astronaut()


@pytest.fixture(scope="session")
def general_segmenter():
    segmenter = load_segmenter("selfie-general")
    yield segmenter
    segmenter.close()
