"""On-demand camera: capture and process only while some application reads the virtual camera.

People leave a virtual camera running all day; it should cost nothing (and keep the camera's
light off) while no video call is using it. On Linux, an application that uses the camera opens
the v4l2loopback device, so the readers are the processes holding that device open, other than
greenroom itself: `DeviceReaders` finds them in /proc. `OnDemandSource` wraps the camera: it
yields frames while there are readers, and when the last one has been gone for `idle_seconds`
it releases the camera and waits, yielding nothing, until a reader comes back. The pipeline and
the virtual camera stay as they are: with no frames there is no work.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

from greenroom.errors import GreenroomError
from greenroom.frames import Frame


class Readers(Protocol):
    def count(self) -> int: ...


class DeviceReaders:
    """How many other processes hold a device file open (Linux /proc)."""

    def __init__(self, device: str | os.PathLike[str] | None) -> None:
        if device is None or not Path("/proc/self/fd").is_dir():
            raise GreenroomError(
                f"{device or 'virtual camera'}: --on-demand watches the device's readers "
                "through /proc: it works with v4l2loopback on Linux only"
            )
        self.device = os.path.realpath(device)
        self._me = os.getpid()

    def pids(self) -> set[int]:
        found: set[int] = set()
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit() or int(entry.name) == self._me:
                continue
            try:
                for fd in os.scandir(f"/proc/{entry.name}/fd"):
                    if os.readlink(fd.path) == self.device:
                        found.add(int(entry.name))
                        break
            except OSError:  # gone, or not ours to look at
                continue
        return found

    def count(self) -> int:
        return len(self.pids())


class OnDemandSource:
    """Frames from `open_camera()` while `readers` has readers; idle (camera closed) otherwise.

    The camera is opened once at the start to learn its size and rate (the virtual camera
    needs them, and its device is what `readers` watches, so `readers` may be set after the
    virtual camera is open); iteration then releases it until the first reader comes.
    """

    def __init__(
        self,
        open_camera: Callable[[], Any],
        readers: Readers | None = None,
        *,
        idle_seconds: float = 3.0,
        poll_seconds: float = 0.5,
        on_change: Callable[[bool], None] | None = None,
    ) -> None:
        self._open = open_camera
        self.readers = readers
        self.idle_seconds = idle_seconds
        self.poll_seconds = poll_seconds
        self.on_change = on_change
        self._camera = open_camera()
        camera = self._camera
        self.width, self.height, self.fps = camera.width, camera.height, camera.fps
        self.lost: str | None = None
        self.opened = 1  # how many times the camera was opened (tests and the summary)
        self._closed = threading.Event()

    @property
    def active(self) -> bool:
        return self._camera is not None

    def _release(self) -> None:
        if self._camera is not None:
            self._camera.close()
            self._camera = None
            if self.on_change is not None:
                self.on_change(False)

    def _acquire(self) -> None:
        self._camera = self._open()
        self.opened += 1
        if self.on_change is not None:
            self.on_change(True)

    def _count(self) -> int:
        if self.readers is None:
            raise RuntimeError("OnDemandSource.readers must be set before iterating")
        return self.readers.count()

    def _wait_for_reader(self) -> bool:
        """Block until a reader appears (True) or the source is closed (False)."""
        while not self._closed.is_set():
            if self._count() > 0:
                return True
            self._closed.wait(self.poll_seconds)
        return False

    def __iter__(self) -> Iterator[Frame]:
        index = 0
        if self._count() == 0:
            self._release()  # nobody is watching yet: camera off until someone is
        while not self._closed.is_set():
            if self._camera is None:
                if not self._wait_for_reader():
                    return
                self._acquire()
            last_seen = time.monotonic()
            last_check = 0.0
            for item in self._camera:
                item.index = index
                index += 1
                yield item
                now = time.monotonic()
                if now - last_check >= self.poll_seconds:
                    last_check = now
                    if self._count() > 0:
                        last_seen = now
                    elif now - last_seen >= self.idle_seconds:
                        break
                if self._closed.is_set():
                    break
            else:
                self.lost = self._camera.lost
                self._release()
                return  # the camera itself ended
            self._release()

    def close(self) -> None:
        self._closed.set()
        self._release()
