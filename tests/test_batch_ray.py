"""`greenroom batch --ray`: the same batch on a two-node Ray cluster, all on this machine.

The cluster binds to loopback only and reports no usage statistics (`jobs/local_cluster.py`),
and is shut down after the module.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import threading
import time
from pathlib import Path

import pytest

from greenroom.jobs.batch import run_batch
from greenroom.jobs.settings import JobSettings
from greenroom.samples import sample_path
from tests.clips import make_clip
from tests.test_batch import frame_count, no_temp_files_below


@pytest.fixture(scope="module")
def cluster():
    if importlib.util.find_spec("ray") is None:  # not importorskip: Ray must not load yet
        pytest.skip("the Ray executor needs greenroom[cluster]")
    from greenroom.jobs.local_cluster import local_ray_cluster

    with local_ray_cluster(nodes=2) as nodes:  # sets Ray's loopback settings, then imports it
        import ray

        ray.init(address=nodes.address, log_to_driver=False)
        yield nodes
        ray.shutdown()


def ray_task_processes() -> list[int]:
    """Ray workers busy with a file (Ray titles them after the task's function)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if b"ray::run_task" in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_a_batch_on_two_ray_nodes(cluster, tmp_path):
    import ray

    assert len([n for n in ray.nodes() if n["Alive"]]) == 2
    inputs = tmp_path / "in"
    (inputs / "sub").mkdir(parents=True)
    make_clip(inputs / "sub" / "a.mp4", frames=20)
    make_clip(inputs / "b.mp4", frames=12)
    shutil.copy(sample_path("astronaut.jpg"), inputs / "c.jpg")
    (inputs / "broken.mp4").write_bytes(b"nope")
    out = tmp_path / "out"
    summary = run_batch([str(inputs)], str(out), JobSettings(), ray_address=cluster.address)
    assert (summary.done, summary.failed) == (3, 1)
    assert frame_count(out / "sub" / "a.mp4") == 20 and frame_count(out / "b.mp4") == 12
    assert (out / "c.jpg").is_file()
    again = run_batch([str(inputs)], str(out), JobSettings(), ray_address=cluster.address)
    assert again.skipped == 3 and again.done == 0  # resume works the same on the cluster


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs Linux /proc")
def test_a_ray_worker_killed_mid_file_is_retried(cluster, tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    for name in ("a", "b"):
        make_clip(inputs / f"{name}.mp4", frames=150, width=640, height=360)
    out = tmp_path / "out"
    killed: list[int] = []

    def kill_one_busy_worker() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            temporary = out.exists() and any(".tmp-" in p.name for p in out.iterdir())
            busy = ray_task_processes()
            if temporary and busy:
                os.kill(busy[0], signal.SIGKILL)
                killed.append(busy[0])
            time.sleep(0.02)

    killer = threading.Thread(target=kill_one_busy_worker)
    killer.start()
    summary = run_batch([str(inputs)], str(out), JobSettings(), ray_address=cluster.address)
    killer.join()
    assert killed, "no worker was caught mid-file"
    assert summary.failed == 0 and summary.done == 2
    for name in ("a", "b"):
        assert frame_count(out / f"{name}.mp4") == 150
    assert no_temp_files_below(out)
