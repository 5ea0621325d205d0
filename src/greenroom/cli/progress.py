"""Progress bars on stderr for the commands that process many frames or files.

A bar is created only once the total is known (when the video is opened, when the batch is
planned), so its callbacks are handed to the library before there is anything to show.
"""

from __future__ import annotations

import sys
from typing import Any

import click
from tqdm import tqdm


class LateBar:
    """A tqdm bar made by `start(total)`, if `enabled`; every other call is a no-op before it."""

    def __init__(self, enabled: bool, unit: str) -> None:
        self.enabled = enabled
        self.unit = unit
        self.bar: tqdm | None = None

    def start(self, total: int | None) -> None:
        if self.enabled:
            self.bar = tqdm(total=total or None, unit=self.unit, file=sys.stderr,
                            dynamic_ncols=True, disable=None)

    def advance(self, *_: Any) -> None:
        """One more done (the arguments a callback gets are ignored)."""
        if self.bar is not None:
            self.bar.update(1)

    def write(self, line: str) -> None:
        """A line above the bar, or on stderr when there is no bar."""
        if self.bar is not None:
            self.bar.write(line, file=sys.stderr)
        else:
            click.echo(line, err=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
