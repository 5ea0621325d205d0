"""Running the `greenroom` command in-process for tests, and reading what it printed."""

from __future__ import annotations

from pathlib import Path

import pytest

from greenroom.cli.main import main


def run(cap, *args: object) -> tuple[int, str, str]:
    """Run the CLI in-process; return (exit status, stdout, stderr). `cap`: capsys or capfd."""
    with pytest.raises(SystemExit) as exit_info:
        main([str(a) for a in args])
    out, err = cap.readouterr()
    return exit_info.value.code, out, err


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if "error" in line.lower()]


def no_temp_files(folder: Path) -> bool:
    """True if no temporary output (the atomic writers' `.tmp-` files) is left in `folder`."""
    return not [p for p in folder.iterdir() if ".tmp-" in p.name]
