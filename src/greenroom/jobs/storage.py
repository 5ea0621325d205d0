"""Where a batch reads and writes: local paths, or any fsspec URL (s3://, gs://, file://, ...).

Workers on a cluster share no disk with the machine that started the batch unless the user
gives them one; object storage is the usual answer. Local paths use the standard library; URLs go
through fsspec (the `cluster` extra), imported only when one is used. Results are written locally
first (by the atomic sinks) and only then copied to a URL under a temporary name and moved into
place, so no partial output ever appears under its final name.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any

from greenroom.extras import MissingExtraError


def is_url(path: str) -> bool:
    return "://" in path


def _fs(url: str) -> tuple[Any, str]:
    try:
        import fsspec
    except ImportError:
        raise MissingExtraError(
            f"{url}: URLs need fsspec, which the core install leaves out: "
            "pip install 'greenroom[cluster]'"
        ) from None
    return fsspec.core.url_to_fs(url)


def _protocol(url: str) -> str:
    return url.split("://", 1)[0]


def _unstrip(url: str, path: str) -> str:
    """fsspec lists paths without their protocol; give it back."""
    return path if is_url(path) else f"{_protocol(url)}://{path}"


def is_file(path: str) -> bool:
    if not is_url(path):
        return Path(path).is_file()
    fs, inner = _fs(path)
    return fs.isfile(inner)


def is_dir(path: str) -> bool:
    if not is_url(path):
        return Path(path).is_dir()
    fs, inner = _fs(path)
    return fs.isdir(inner)


def walk_files(root: str) -> list[str]:
    """Every file below `root`, recursively, sorted; hidden files (temporaries) left out."""
    if not is_url(root):
        found = [
            str(Path(folder) / name)
            for folder, _, names in os.walk(root)
            for name in names
            if not name.startswith(".")
        ]
        return sorted(found)
    fs, inner = _fs(root)
    return sorted(
        _unstrip(root, p) for p in fs.find(inner) if not PurePosixPath(p).name.startswith(".")
    )


def relative(path: str, root: str) -> str:
    if not is_url(path):
        return Path(path).relative_to(root).as_posix()
    return path[len(root.rstrip("/")) + 1:]


def is_within(path: str, root: str) -> bool:
    """True if `path` lies inside the folder `root` (an output folder inside an input one)."""
    if is_url(path) or is_url(root):
        return path.startswith(root.rstrip("/") + "/")
    try:
        Path(path).resolve().relative_to(Path(root).resolve())
    except ValueError:
        return False
    return True


def join(root: str, relative_path: str) -> str:
    if is_url(root):
        return root.rstrip("/") + "/" + relative_path
    return str(Path(root) / relative_path)


def signature(path: str) -> tuple[int, int] | None:
    """(size, mtime in ns) of a file, or None if it is missing: what resume compares."""
    try:
        if not is_url(path):
            stat = os.stat(path)
            return stat.st_size, stat.st_mtime_ns
        fs, inner = _fs(path)
        info = fs.info(inner)
    except (OSError, FileNotFoundError):
        return None
    mtime = info.get("mtime") or info.get("LastModified") or info.get("created") or 0
    stamp = mtime.timestamp() if hasattr(mtime, "timestamp") else float(mtime)
    return int(info.get("size") or 0), int(stamp * 1e9)


@contextmanager
def readable(path: str) -> Iterator[str]:
    """A local path with the content of `path` (a download into a temporary folder for URLs)."""
    if not is_url(path):
        yield path
        return
    fs, inner = _fs(path)
    with tempfile.TemporaryDirectory(prefix="greenroom-in-") as folder:
        local = str(Path(folder) / PurePosixPath(inner).name)
        fs.get(inner, local)
        yield local


@contextmanager
def writable(path: str) -> Iterator[str]:
    """A local path to write `path`'s content to; it reaches `path` only if the block succeeds.

    Local outputs are written in place by greenroom's atomic sinks. For a URL the result is
    written to a temporary folder, uploaded under a hidden temporary name beside its final one
    and moved into place, so readers see the whole file or nothing.
    """
    if not is_url(path):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        yield path
        return
    fs, inner = _fs(path)
    with tempfile.TemporaryDirectory(prefix="greenroom-out-") as folder:
        name = PurePosixPath(inner).name
        local = str(Path(folder) / name)
        yield local
        parent = str(PurePosixPath(inner).parent)
        fs.makedirs(parent, exist_ok=True)
        temporary = f"{parent}/.{name}.tmp-{secrets.token_hex(4)}"
        fs.put(local, temporary)
        fs.mv(temporary, inner)
