"""Which files a batch processes and where each result goes: a mirrored output tree.

Inputs are files, folders (searched recursively) and glob patterns. A file found inside a folder
keeps its path below that folder under the output folder (`lessons/2024/a.mp4` ->
`out/2024/a.mp4`); a file named directly goes to the top of the output folder. Paths may be local
or fsspec URLs (`s3://bucket/prefix/`) for workers that reach object storage (see `storage.py`).
"""

from __future__ import annotations

import glob
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath

from greenroom.compositing.video_background import VIDEO_SUFFIXES
from greenroom.errors import GreenroomError
from greenroom.jobs import storage
from greenroom.jobs.settings import JobSettings
from greenroom.sources.images import IMAGE_SUFFIXES

#: Containers a video result keeps from its input; others are written as .mp4.
KEPT_VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".m4v", ".webm")
IMAGE_FORMATS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")


@dataclass(frozen=True)
class Task:
    """One input file and its output, as plain strings (local paths or URLs)."""

    input: str
    output: str
    kind: str  # "video" or "image"


def kind_of(name: str) -> str | None:
    suffix = PurePosixPath(name).suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix in VIDEO_SUFFIXES:
        return "video"
    return None


def output_name(relative: str, kind: str, settings: JobSettings) -> str:
    """The output's path below the output folder, with the ending its content needs."""
    path = PurePosixPath(relative)
    suffix = path.suffix.lower()
    if kind == "video":
        if settings.effect.transparent:
            return str(path.with_suffix(".webm"))
        return str(path.with_suffix(suffix if suffix in KEPT_VIDEO_SUFFIXES else ".mp4"))
    if settings.image_format:
        return str(path.with_suffix("." + settings.image_format.lower().lstrip(".")))
    if settings.channels != 3:
        return str(path.with_suffix(".png"))  # mattes and cut-outs: lossless, with alpha
    return str(path.with_suffix(suffix if suffix in IMAGE_FORMATS else ".png"))


def _found(item: str, output_root: str) -> tuple[list[tuple[str, str]], bool]:
    """(file, its path relative to where it was found) for one input argument, and whether the
    argument named a file itself (a glob or a folder only offers what it holds)."""
    if any(ch in item for ch in "*?[") and not storage.is_url(item):
        matches = sorted(glob.glob(item, recursive=True))
        return [(m, PurePosixPath(m).name) for m in matches if storage.is_file(m)], False
    if storage.is_dir(item):
        found = [
            (path, storage.relative(path, item))
            for path in storage.walk_files(item)
            if not storage.is_within(path, output_root)  # never take our own results as inputs
        ]
        return found, False
    return [(item, PurePosixPath(item).name)], not any(ch in item for ch in "*?[")


def plan(inputs: Iterable[str], output_root: str, settings: JobSettings) -> list[Task]:
    """Every task of a batch, in a stable order; files of unknown kind are left out.

    A named file that does not exist stays in the plan, so it is reported as failed in its place
    rather than vanishing; two inputs that would write the same output are an error now, before
    any work.
    """
    tasks: list[Task] = []
    claimed: dict[str, str] = {}
    for item in inputs:
        found, named = _found(item, output_root)
        for path, relative in found:
            kind = kind_of(path) or ("video" if named else None)
            if kind is None:
                continue
            output = storage.join(output_root, output_name(relative, kind, settings))
            if output in claimed and claimed[output] != path:
                raise GreenroomError(
                    f"{path} and {claimed[output]} would both be written to {output}; "
                    "process them in separate batches"
                )
            if output not in claimed:
                claimed[output] = path
                tasks.append(Task(path, output, kind))
    return tasks
