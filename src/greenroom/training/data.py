"""Training samples: labelled image/mask folders, teacher-labelled frames, and the splits.

Images are loaded once, shrunk so their longest side is `max_side` (training views are a few
hundred pixels, so full-size JPEGs would only cost decode time every epoch), and kept in memory
as RGB uint8 with a uint8 mask (0..255; teacher labels are soft).

Splits are by name and fixed by a seed: `holdout` names never reach training or validation
(the repo lists the EG1800 tenth kept for evaluation in `eg1800_holdout.py`), and a seeded
`val_fraction` of the rest is the validation split used for early stopping.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from greenroom.errors import InputError, os_error_reason
from greenroom.evaluation.datasets import IMAGE_EXTENSIONS, iter_image_mask_pairs
from greenroom.sources.images import read_image, shrink

VIDEO_EXTENSIONS: tuple[str, ...] = (".mp4", ".mov", ".mkv", ".avi", ".webm")
#: The seed that drew `eg1800_holdout.txt` (see `draw_holdout`).
HOLDOUT_SEED = 13


@dataclass(frozen=True)
class Sample:
    """One training pair: RGB uint8 image, uint8 mask (0 = background, 255 = person)."""

    name: str
    image: np.ndarray
    mask: np.ndarray
    teacher: bool = False  # the mask is a teacher's soft label, not a hand-drawn one


def read_rgb(path: Path) -> np.ndarray:
    """An image file as RGB uint8; an unreadable file is an `InputError` naming it."""
    return read_image(path)


def read_mask(path: Path) -> np.ndarray:
    """A mask PNG as uint8 0..255 (a 0/1 mask is scaled up)."""
    mask = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if mask is None:
        raise InputError(path, "cannot read this mask")
    if mask.max() == 1:
        mask = mask * np.uint8(255)
    return mask


def labelled_pairs(root: Path) -> list[tuple[str, Path, Path]]:
    """(name, image, mask) of a folder with images/ and masks/; a bad folder is an InputError."""
    try:
        pairs = list(iter_image_mask_pairs(root / "images", root / "masks"))
    except (OSError, ValueError) as exc:
        raise InputError(root, f"not a labelled dataset (images/ and masks/): {exc}") from None
    if not pairs:
        raise InputError(root, "no image in images/ has a mask of the same name in masks/")
    return [(p.name, p.image_path, p.mask_path) for p in pairs]


def load_labelled(pairs: Iterable[tuple[str, Path, Path]], max_side: int) -> list[Sample]:
    """Load labelled pairs, mask resized to its image when the sizes differ."""
    samples = []
    for name, image_path, mask_path in pairs:
        image = shrink(read_rgb(image_path), max_side)
        mask = read_mask(mask_path)
        if mask.shape != image.shape[:2]:
            mask = cv2.resize(mask, image.shape[1::-1], interpolation=cv2.INTER_LINEAR)
        samples.append(Sample(name, image, mask))
    return samples


def unlabelled_files(roots: Sequence[Path]) -> list[Path]:
    """Every image and video file under the given folders (or the files themselves), sorted."""
    found: list[Path] = []
    for root in roots:
        if root.is_file():
            found.append(root)
            continue
        if not root.is_dir():
            raise InputError(root, "no such file or folder")
        found.extend(
            p for p in sorted(root.rglob("*"))
            if p.is_file() and not p.name.startswith(".")
            and p.suffix.lower() in IMAGE_EXTENSIONS + VIDEO_EXTENSIONS
        )
    return found


def read_frames(path: Path, every: int, max_side: int) -> list[np.ndarray]:
    """RGB frames of an image (one) or a video (every `every`-th frame), shrunk."""
    if path.suffix.lower() not in VIDEO_EXTENSIONS:
        return [shrink(read_rgb(path), max_side)]
    capture = cv2.VideoCapture(str(path))
    frames = []
    index = 0
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            if index % every == 0:
                frames.append(shrink(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), max_side))
            index += 1
    finally:
        capture.release()
    if not frames:
        raise InputError(path, "no frame could be decoded from this video")
    return frames


def draw_holdout(names: Sequence[str], fraction: float = 0.1,
                 seed: int = HOLDOUT_SEED) -> list[str]:
    """A seeded `fraction` of `names` (sorted): how `eg1800_holdout.py` was drawn."""
    rng = np.random.default_rng(seed)
    count = max(1, round(len(names) * fraction))
    chosen = rng.choice(sorted(names), size=count, replace=False)
    return sorted(str(n) for n in chosen)


def eg1800_holdout() -> list[str]:
    """The EG1800-dev names training never sees (kept for `greenroom eval`)."""
    from greenroom.training.eg1800_holdout import HOLDOUT

    return list(HOLDOUT)


def read_name_list(path: Path) -> list[str]:
    """Names one per line (# comments allowed), e.g. a held-out list given with --exclude."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise InputError(path, f"cannot read the name list: {os_error_reason(exc)}") from None
    return [line.strip() for line in text.splitlines() if line.strip() and line[0] != "#"]


def split_validation(count: int, fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Seeded (train, validation) index lists; at least one of each when count >= 2."""
    order = np.random.default_rng(seed).permutation(count)
    val = min(count - 1, max(1, round(count * fraction))) if count >= 2 and fraction > 0 else 0
    return sorted(order[val:].tolist()), sorted(order[:val].tolist())


def materialize_split(pairs: Iterable[tuple[str, Path, Path]], out: Path) -> Path:
    """A folder of symlinks (images/, masks/) holding just these pairs, for `greenroom eval`."""
    for sub in ("images", "masks"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    for _, image, mask in pairs:
        for sub, path in (("images", image), ("masks", mask)):
            link = out / sub / path.name
            if not link.exists():
                link.symlink_to(path.resolve())
    return out
