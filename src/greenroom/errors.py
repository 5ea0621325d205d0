"""Errors that users see.

Every failure a user can cause (a missing file, a corrupt image, an unknown colour) is raised as a
`GreenroomError` whose message is one line naming the thing and the problem, so the CLI can print
it as is and exit non-zero, and library callers can catch one type.
"""

from __future__ import annotations

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
