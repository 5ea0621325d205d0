"""`errors.os_error_reason`: the one wording of a failed file, socket or FFmpeg operation.

Real failures, not made-up exceptions: each comes with its own decoration (path, errno, address)
that the one-line reason must drop.
"""

from __future__ import annotations

import socket

import av
import pytest

from greenroom.errors import describe_os_error, os_error_reason


def raised(action, kind: type[Exception] = OSError) -> Exception:  # noqa: ANN001
    with pytest.raises(kind) as info:
        action()
    return info.value


def test_file_errors_are_short_and_name_no_path(tmp_path):
    missing = raised(lambda: open(tmp_path / "gone.txt"))  # noqa: SIM115
    assert str(tmp_path) in str(missing)  # Python's own message names the path...
    assert os_error_reason(missing) == "no such file or folder"  # ...the reason does not
    folder = raised(lambda: open(tmp_path))  # noqa: SIM115
    assert os_error_reason(folder) == "is a folder"
    assert describe_os_error("notes.txt", folder, "cannot read") == (
        "notes.txt: cannot read: is a folder"
    )


def test_a_taken_port_says_so_without_asyncios_decoration():
    with socket.socket() as first, socket.socket() as second:
        first.bind(("127.0.0.1", 0))
        first.listen()
        taken = raised(lambda: second.bind(first.getsockname()))
    assert os_error_reason(taken) == "address already in use"


def test_ffmpegs_own_errors_keep_ffmpegs_words(tmp_path):
    noise = tmp_path / "noise.mp4"
    noise.write_bytes(b"\x00\x01junk" * 500)
    error = raised(lambda: av.open(str(noise)), av.error.FFmpegError)
    reason = os_error_reason(error)
    assert reason == reason.lower() and not reason.endswith(".")
    assert "invalid data" in reason and str(noise) not in reason


def test_an_error_without_a_number_keeps_its_text():
    assert os_error_reason(OSError("Disk On Fire.")) == "disk on fire"
