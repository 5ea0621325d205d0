"""Atomic file output: write beside the destination, rename into place when complete."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


def current_umask() -> int:
    """The process umask (reading it means setting it, so set it straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(destination: str | Path) -> Iterator[Path]:
    """Yield a temporary path in the destination's folder; move it over the destination on success.

    The temporary file lives in the same folder so the final `os.replace` is a rename on one file
    system (atomic), and it keeps the destination's ending so encoders that pick a format from the
    name still work. On any exception the temporary file is removed and the destination untouched.
    """
    destination = Path(destination)
    fd, name = tempfile.mkstemp(
        prefix=f".{destination.stem}.", suffix=f".partial{destination.suffix}",
        dir=destination.parent,
    )
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        # mkstemp creates the file private (0600); give the result the permissions any new
        # file would get, as the user expects from a normal save.
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, destination)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
