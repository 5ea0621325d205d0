"""Errors that users see.

Every failure a user can cause (a missing file, a corrupt image, an unknown colour) is raised as a
`GreenroomError` whose message is one line naming the thing and the problem, so the CLI can print
it as is and exit non-zero, and library callers can catch one type.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path


class GreenroomError(Exception):
    """A problem with the user's input or environment, explained in one line."""


class InputError(GreenroomError, ValueError):
    """An input (file, colour, option value) cannot be used."""

    def __init__(self, what: str | Path, problem: str) -> None:
        self.what = str(what)
        self.problem = problem
        super().__init__(f"{what}: {problem}")


class OutputError(GreenroomError, OSError):
    """An output cannot be written where the user asked."""

    def __init__(self, what: str | Path, problem: str) -> None:
        self.what = str(what)
        self.problem = problem
        super().__init__(f"{what}: {problem}")


class TooLarge(InputError):
    """An input is over a size limit (bytes, pixels): refused before it costs the memory.

    Its own type so that callers choose by kind, not by wording (the web server answers 413).
    """


class NotAnImage(InputError):
    """Bytes no image decoder reads: another kind of file, or a corrupt or truncated image."""


class InvalidEffect(GreenroomError, ValueError):
    """Effect options that cannot go together or are out of range (`compositing.EffectSpec`).

    A `ValueError` too, as the library raised before effects had their own error; the CLI shows
    it as a usage error, since the command line itself is what is wrong.
    """


#: errno -> the reason a user reads; others fall back to the system's own words.
_OS_REASONS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "no space left on the device",
    errno.EFBIG: "file too large for the device or the file size limit",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "the file system is read-only",
    errno.ENOENT: "no such file or folder",
    errno.ENOTDIR: "a part of the path is not a folder",
    errno.EISDIR: "is a folder",
}


def os_error_reason(exc: BaseException) -> str:
    """The project's one wording of why a file, socket or FFmpeg operation failed: short, lower
    case, no full stop.

    Taken from the error number where it is a system one, not from `str(exc)`, because Python
    and asyncio decorate the message with the errno, the path or the address ("[Errno 13]
    Permission denied: 'x'"), which the caller names itself. FFmpeg's own errors (PyAV raises
    them as OSError too) have numbers of their own and keep FFmpeg's words.
    """
    code = getattr(exc, "errno", None)
    if code in _OS_REASONS:
        return _OS_REASONS[code]
    if code in errno.errorcode:
        text = os.strerror(code)
    else:
        text = getattr(exc, "strerror", None) or str(exc)
    return text.strip().rstrip(".").lower() or "input/output error"


def describe_os_error(what: str | Path, exc: OSError, doing: str = "") -> str:
    """One line: `what: doing: reason` ("photo.jpg: cannot read: permission denied")."""
    reason = os_error_reason(exc)
    return f"{what}: {doing}: {reason}" if doing else f"{what}: {reason}"
