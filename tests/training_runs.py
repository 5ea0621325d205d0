"""A short training run on four real EG1800 portraits, shared by the training tests.

Imports PyTorch through greenroom.training: import this module only after
`pytest.importorskip("torch")`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from greenroom.training import data
from greenroom.training.augment import Augment
from greenroom.training.loop import TrainConfig, train
from tests.conftest import shared_path

#: No augmentation: four portraits, a few steps, a loss that must fall.
PLAIN = Augment.without(["flip", "scale", "color", "blur", "background"])


def train_on_four(
    tmp_path: Path, net: str, epochs: int, lr: float
) -> tuple[dict[str, Any], list[tuple[str, Path, Path]]]:
    """Train `net` at 256x256 on the first four eg1800-dev pairs into tmp_path/run: the result
    of `train` (its history has the per-epoch losses) and the (name, image, mask) pairs it saw."""
    pairs = data.labelled_pairs(shared_path("data", "eg1800-dev"))[:4]
    subset = data.materialize_split(pairs, tmp_path / "four")
    config = TrainConfig(out=tmp_path / "run", labelled=[subset], net=net, width=256, height=256,
                         epochs=epochs, batch=4, lr=lr, val_fraction=0.0, steps_per_epoch=2,
                         seed=0, threads=2, device="cpu", augment=PLAIN)
    return train(config, log=lambda _: None), pairs
