"""On-demand camera: the camera runs only while something reads the virtual camera."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from greenroom.frames import Frame
from greenroom.sources.on_demand import DeviceReaders, OnDemandSource

pytestmark = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs Linux /proc")


class FakeCamera:
    """Endless small frames; counts how often it was opened and closed."""

    opened = 0
    closed = 0

    def __init__(self) -> None:
        FakeCamera.opened += 1
        self.width, self.height, self.fps = 8, 6, 100.0
        self.lost = None

    def __iter__(self):
        index = 0
        while True:
            time.sleep(0.01)
            yield Frame(index, np.zeros((6, 8, 3), np.uint8))
            index += 1

    def close(self) -> None:
        FakeCamera.closed += 1


class Switch:
    """Readers that a test turns on and off."""

    def __init__(self) -> None:
        self.readers = 0

    def count(self) -> int:
        return self.readers


def test_device_readers_sees_another_process_open_the_device(tmp_path):
    device = tmp_path / "video9"
    device.write_bytes(b"")
    watch = DeviceReaders(device)
    assert watch.count() == 0
    with open(device, "rb"):  # greenroom itself holding the device does not count
        assert watch.count() == 0
    reader = subprocess.Popen(
        [sys.executable, "-c", f"f = open({str(device)!r}, 'rb'); print('open', flush=True); "
         "import time; time.sleep(30)"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert reader.stdout.readline().strip() == "open"
        assert watch.pids() == {reader.pid}
    finally:
        reader.kill()
        reader.wait()
    assert watch.count() == 0


def test_frames_flow_only_while_someone_reads():
    FakeCamera.opened = FakeCamera.closed = 0
    switch = Switch()
    changes: list[bool] = []
    source = OnDemandSource(FakeCamera, switch, idle_seconds=0.2, poll_seconds=0.05,
                            on_change=changes.append)
    assert (source.width, source.height) == (8, 6)  # learned from the first opening
    received: list[int] = []
    done = threading.Event()

    def consume() -> None:
        for item in source:
            received.append(item.index)
        done.set()

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    time.sleep(0.3)
    assert received == [] and not source.active  # nobody reads: camera released, no frames
    switch.readers = 1
    time.sleep(0.4)
    assert len(received) > 5 and source.active
    switch.readers = 0
    time.sleep(0.6)  # idle_seconds later the camera is released again
    assert not source.active
    count = len(received)
    time.sleep(0.3)
    assert len(received) == count  # and nothing more is processed
    switch.readers = 1
    time.sleep(0.3)
    assert len(received) > count and source.active  # a new call: the camera comes back
    source.close()
    assert done.wait(2)
    assert changes == [False, True, False, True, False]
    assert FakeCamera.opened == 3 and FakeCamera.closed >= 3
    assert received == list(range(len(received)))  # indices keep counting across sessions


def test_on_demand_needs_the_virtual_camera(capfd, tmp_path):
    from tests.cli import run
    from tests.clips import make_clip

    clip = make_clip(tmp_path / "c.mp4", frames=3).path
    code, _, err = run(capfd, "camera", "--source", clip, "--on-demand", "--record",
                       tmp_path / "out.mp4")
    assert code == 2 and "--on-demand" in err and "--virtual-camera" in err
