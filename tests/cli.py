"""Running the `greenroom` command in-process for tests, and reading what it printed."""

from __future__ import annotations

import glob
import signal
import subprocess
import sys
import time
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


def interrupt_once_writing(
    args: list[str], partial: Path, seconds: float, signum: int = signal.SIGINT
) -> tuple[int, str]:
    """Run `python -m greenroom ARGS`, wait until its temporary output `partial` (a glob
    pattern) exists, let it work `seconds` more, send `signum`; return (exit status, stderr)."""
    root = Path(__file__).resolve().parents[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "greenroom", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=root,
    )
    try:
        deadline = time.monotonic() + 60
        while not glob.glob(str(partial)):  # the model is loaded and the output opened
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the command never started writing"
            time.sleep(0.02)
        time.sleep(seconds)
        process.send_signal(signum)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    return process.returncode, err
