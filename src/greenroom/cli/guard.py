"""No output may land on an input: every output path is checked against every input first.

Why: `greenroom image photo.jpg -o beach.jpg --background beach.jpg` used to exit 0 having
replaced the user's background with the result, and every later run pasted the previous person
in as a ghost. A path can name the same file in many ways (`./a.jpg`, a symlink, a hard link),
so two paths are the same file when they resolve to the same place or share device and inode.

Each input has a role ("photo", "background image", "config file", ...) that the refusal names.
The main input (the photo or video being processed) may be overwritten with `--force`; nothing
else may, and a background never: replacing it with a composite of itself is never intended.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import click

from greenroom.cli.config import CONFIG_PATH
from greenroom.compositing.video_background import VIDEO_SUFFIXES
from greenroom.errors import OutputError


@dataclass(frozen=True)
class Input:
    """One file the command reads, and whether `--force` may let an output replace it."""

    role: str
    path: Path
    forceable: bool = False


def identity(path: Path) -> tuple[object, ...] | None:
    """What makes a path one file: its device and inode if it exists, else its resolved path.

    Two paths are the same file exactly when their identities are equal (an existing path and a
    missing one never resolve to the same place), so many outputs can be checked against many
    inputs through a set, not pair by pair.
    """
    try:
        stat = os.stat(path)
    except (OSError, ValueError):
        try:
            return ("path", os.path.realpath(path))
        except (OSError, ValueError):
            return None
    return ("inode", stat.st_dev, stat.st_ino)


def same_file(a: Path, b: Path) -> bool:
    """True when `a` and `b` name one file: the same resolved path, or the same inode."""
    key = identity(a)
    return key is not None and key == identity(b)


def clash(output: Path, inputs: Iterable[Input], force: bool = False) -> Input | None:
    """The input that writing `output` would replace (and `force` does not excuse), if any."""
    for item in inputs:
        if same_file(output, item.path) and not (force and item.forceable):
            return item
    return None


def refusal(output: Path, item: Input) -> OutputError:
    """The one-line error for `output` landing on `item`, naming both."""
    hint = " (use --force to allow)" if item.forceable else ""
    return OutputError(output, f"is the {item.role} {item.path}; refusing to overwrite it{hint}")


def check_output(output: Path, inputs: Iterable[Input], force: bool = False) -> None:
    """Raise `refusal` if `output` is one of `inputs`."""
    item = clash(output, inputs, force)
    if item is not None:
        raise refusal(output, item)


def check_outputs(outputs: Iterable[Path], inputs: Iterable[Input]) -> None:
    """`check_output` for many outputs against many inputs at once (a batch), without --force."""
    by_identity = {identity(item.path): item for item in inputs}
    by_identity.pop(None, None)
    for output in outputs:
        item = by_identity.get(identity(output))
        if item is not None:
            raise refusal(output, item)


def check_sequence(folder: Path, pattern: str, inputs: Iterable[Input]) -> None:
    """A PNG sequence writes `folder/pattern % n` for every n: no input may match that name."""
    regex = re.compile(_printf_regex(pattern))
    for item in inputs:
        if same_file(item.path.parent, folder) and regex.fullmatch(item.path.name):
            raise refusal(folder / item.path.name, item)


def _printf_regex(pattern: str) -> str:
    """`%05d.png` -> a regex matching every name the pattern produces (`%%` is a literal %)."""
    parts = re.split(r"(%%|%0?\d*d)", pattern)
    return "".join(
        "%" if part == "%%" else r"-?\d+" if part.startswith("%") else re.escape(part)
        for part in parts
    )


def effect_inputs(background: str | None, model: str | None) -> list[Input]:
    """The inputs every effect command may read besides its main one: the background file, a
    model file, and the `--config` file of this invocation."""
    found: list[Input] = []
    if background:
        kind = "video" if Path(background).suffix.lower() in VIDEO_SUFFIXES else "image"
        found.append(Input(f"background {kind}", Path(background).expanduser()))
    if model and Path(model).expanduser().is_file():
        found.append(Input("model file", Path(model).expanduser()))
    ctx = click.get_current_context(silent=True)
    config = ctx.meta.get(CONFIG_PATH) if ctx is not None else None
    if config is not None:
        found.append(Input("config file", Path(config)))
    return found
