"""Ctrl-C and SIGTERM as a request to stop cleanly, not an exception in the middle of a write."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator


class StopRequest(threading.Event):
    """An event that also remembers whether a signal (rather than the program) set it."""

    signalled = False


@contextlib.contextmanager
def stop_on_signals() -> Iterator[StopRequest]:
    """Yield an event that SIGINT/SIGTERM set; a second Ctrl-C interrupts at once.

    The first signal lets the pipeline finish the frames in flight and finalize its output (a
    stopped recording stays playable); the second restores Python's default of raising
    KeyboardInterrupt, for a user who really wants out now.
    """
    stop = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield stop  # signal handlers can only be installed from the main thread
        return

    def request_stop(signum: int, frame: object) -> None:
        if stop.signalled and signum == signal.SIGINT:  # not a stop the program asked for
            raise KeyboardInterrupt
        stop.signalled = True
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
