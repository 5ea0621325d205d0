"""Filter the INFO chatter that native inference runtimes print straight to file descriptor 2.

LiteRT prints "INFO: Created TensorFlow Lite XNNPACK delegate for CPU." on every model load, from
C++, bypassing Python's logging and ignoring TF_CPP_MIN_LOG_LEVEL. We capture fd 2 while a model
loads and pass everything but such INFO lines back to stderr, so real warnings and errors still
reach the user.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator


@contextlib.contextmanager
def quiet_native_info() -> Iterator[None]:
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real fd 2 (e.g. some embedded interpreters)
        yield
        return
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [
                line
                for line in captured.read().decode(errors="replace").splitlines(keepends=True)
                if not line.startswith("INFO: ")
            ]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()
