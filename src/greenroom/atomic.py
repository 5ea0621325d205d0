"""Write a file under a temporary name and move it into place only when it is complete.

Why: a render that crashes halfway, or a disk that fills up, must never leave a truncated file
under the name the user asked for (or clobber a good file that was there). The temporary file
lives in the destination's own folder so that the final `os.replace` is a same-filesystem
rename, which is atomic: readers see either the old file or the whole new one.

Two forms, for two shapes of code:

* `atomic_path(dest)`: a context manager for code that writes in one block::

      with atomic_path("out/result.png") as tmp:
          cv2.imwrite(str(tmp), image)

* `AtomicFile(dest)`: for writers that open in one method and finish in another (a video sink
  opened in `__init__` and finalised in `close()`): call `commit()` or `discard()` yourself.

The temporary name keeps the destination's extension at the end
(`.result.png.tmp-4242-k2x9.png`), because many writers (OpenCV, FFmpeg's format guessing) choose
the format from it, and carries the writer's process id: a run killed outright (SIGKILL, a power
cut) cannot clean up after itself, so the next run writing the same destination removes the
temporary files of processes that no longer exist, and logs that it did.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import tempfile
import weakref
from collections.abc import Iterator
from os import PathLike
from pathlib import Path

from greenroom.errors import os_error_reason

__all__ = ["AtomicFile", "atomic_path", "current_umask", "remove_stale_temps", "write_error_reason"]

log = logging.getLogger(__name__)


def current_umask() -> int:
    """The process umask (reading it means setting it, so set it straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# Read once, at import, before threads start: setting the umask is process-wide.
_UMASK = current_umask()


def write_error_reason(e: OSError) -> str:
    """Why writing a file failed, in the project's one wording (`errors.os_error_reason`); a
    path that does not exist, when writing, means its folder does not."""
    return "folder does not exist" if e.errno == errno.ENOENT else os_error_reason(e)


def temp_prefix(dest: Path, pid: int | None = None) -> str:
    """`.NAME.tmp-PID-`: hidden, beside `dest`, and naming the process that writes it."""
    return f".{dest.name}.tmp-{os.getpid() if pid is None else pid}-"


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists (one we may not signal still exists)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


#: `.NAME.tmp-PID-RANDOM.EXT`, as `AtomicFile` names its temporary files.
TEMP_NAME = re.compile(r"\..+\.tmp-(\d+)-[a-z0-9_]+(\.[^.]*)?")


def remove_stale_temps(folder: Path) -> list[Path]:
    """Remove the temporary files in `folder` whose writer process is gone; return them.

    Called once per run for each output folder (not per file: a folder of ten thousand frames
    is listed once), before writing starts; each removal is logged, so the user hears of it.
    """
    removed = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            match = TEMP_NAME.fullmatch(entry.name)
            if match is None or pid_alive(int(match.group(1))):
                continue
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
                log.warning("removed %s, left by an interrupted run (process %s)",
                            entry.path, match.group(1))
    return removed


def _remove_quietly(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


class AtomicFile:
    """A temporary file next to `dest` that becomes `dest` on `commit()`.

    Created immediately, so a missing or read-only folder fails here, before any expensive work
    starts, with the plain `OSError` (`FileNotFoundError`, `PermissionError`, ...) carrying the
    destination as its file name; callers wrap it in their own error type. If the object is garbage
    collected or the interpreter exits without `commit()` or `discard()`, the temporary file is
    removed, so an abandoned writer never leaves debris behind.
    """

    def __init__(self, dest: str | PathLike[str]) -> None:
        self.dest = Path(dest)
        if self.dest.is_dir():
            raise IsADirectoryError(errno.EISDIR, "is a folder; give a file name", str(self.dest))
        # mkstemp fails here with FileNotFoundError / PermissionError when the folder is missing
        # or not writable; re-raised with the destination as the file name, not the temp name.
        try:
            fd, tmp = tempfile.mkstemp(
                dir=self.dest.parent, prefix=temp_prefix(self.dest), suffix=self.dest.suffix
            )
        except OSError as e:
            raise type(e)(e.errno, e.strerror, str(self.dest)) from e
        os.close(fd)
        self.path = Path(tmp)
        self.done = False
        # Removes the temporary file if this object is dropped without commit()/discard().
        self._finalizer = weakref.finalize(self, _remove_quietly, self.path)

    def commit(self) -> Path:
        """Move the temporary file to `dest` (replacing any file there) and return `dest`.

        On failure the temporary file is removed and the `OSError` propagates.
        """
        if self.done:
            raise RuntimeError(f"{self.dest}: already committed or discarded")
        try:
            # mkstemp creates the file 0600; give the result the permissions a normal open()
            # would have, or keep those of the file being replaced.
            try:
                mode = self.dest.stat().st_mode & 0o7777
            except OSError:
                mode = 0o666 & ~_UMASK
            os.chmod(self.path, mode)
            os.replace(self.path, self.dest)
        except BaseException:
            self.discard()
            raise
        self.done = True
        self._finalizer.detach()
        return self.dest

    def discard(self) -> None:
        """Remove the temporary file; `dest` is left as it was. Safe to call twice."""
        self.done = True
        self._finalizer.detach()
        _remove_quietly(self.path)

    def __enter__(self) -> AtomicFile:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        if self.done:
            return
        if exc_type is None:
            self.commit()
        else:
            self.discard()


@contextlib.contextmanager
def atomic_path(dest: str | PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to `dest`; on success move it to `dest`, on error remove it.

    The temporary file already exists (empty) when yielded; writers may overwrite or replace it.
    """
    f = AtomicFile(dest)
    try:
        yield f.path
    except BaseException:
        f.discard()
        raise
    f.commit()
