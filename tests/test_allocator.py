"""The allocator tuning that the `greenroom` command applies at start (pipeline/allocator.py).

It changes process-wide state, so each case runs in a fresh Python process.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
    reason="mallopt tuning applies to glibc only",
)

# Two threads allocate and free frame-sized buffers, as the pipeline's stages do, and report
# the minor page faults per round (memory faulted in fresh from the kernel).
CHURN = textwrap.dedent(
    """
    import json, resource, sys, threading
    import numpy as np
    from greenroom.pipeline.allocator import tune_allocator

    tuned = tune_allocator() if sys.argv[1] == "tune" else False
    rounds, results = 60, []
    # in step, as the pipeline's stages run side by side: without it one thread may finish
    # before the other starts, and glibc's dynamic thresholds then settle by chance
    step = threading.Barrier(2)

    def work():
        step.wait()
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(rounds):
            step.wait()
            matte = np.ones((720, 1280), np.float32)
            frame = np.ones((720, 1280, 3), np.uint8)
            scaled = matte * 2
            del matte, frame, scaled
        results.append((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / rounds)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps({"tuned": tuned, "faults": max(results)}))
    """
)


def churn(mode: str, **env: str) -> dict[str, object]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    environment.update(env)
    done = subprocess.run(
        [sys.executable, "-c", CHURN, mode],
        capture_output=True, text=True, check=True, env=environment, timeout=120,
    )
    import json

    return json.loads(done.stdout.strip().splitlines()[-1])


def test_tuning_stops_frame_buffers_being_faulted_in_every_round() -> None:
    default, tuned = churn("default"), churn("tune")
    assert tuned["tuned"] is True
    # Two 720p mattes and an RGB frame are ~10 MB, 2,475 pages; with the thresholds raised the
    # freed blocks are reused, so a round touches almost no fresh pages.
    assert tuned["faults"] < 200, tuned
    assert default["faults"] > 5 * tuned["faults"], (default, tuned)


def test_the_users_own_malloc_settings_win() -> None:
    result = churn("tune", MALLOC_TRIM_THRESHOLD_="1048576")
    assert result["tuned"] is False


def test_opencv_runs_without_a_pool_of_its_own_unless_the_user_says_otherwise(monkeypatch):
    import subprocess
    import sys

    from greenroom.pipeline import allocator

    monkeypatch.delenv("OPENCV_FOR_THREADS_NUM", raising=False)
    assert allocator.single_threaded_opencv()
    assert allocator.os.environ["OPENCV_FOR_THREADS_NUM"] == "1"
    monkeypatch.setenv("OPENCV_FOR_THREADS_NUM", "3")
    assert not allocator.single_threaded_opencv()
    assert allocator.os.environ["OPENCV_FOR_THREADS_NUM"] == "3"
    # and OpenCV takes it: in a fresh process, the way the command sets it up
    code = ("from greenroom.pipeline.allocator import tune_process; tune_process(); "
            "import cv2; print(cv2.getNumThreads())")
    env = {k: v for k, v in allocator.os.environ.items() if k != "OPENCV_FOR_THREADS_NUM"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "1"


def test_numpys_blas_gets_no_idle_workers_unless_the_user_says_otherwise(monkeypatch):
    """OpenBLAS reads its thread count once, as numpy loads: a fresh process set up the way the
    command sets itself up must end with one BLAS thread, and the user's own setting wins."""
    from greenroom.pipeline import allocator

    code = textwrap.dedent(
        """
        import ctypes, pathlib, sys
        from greenroom.pipeline.allocator import tune_process
        tune_process()
        import cv2, numpy
        libs = pathlib.Path(numpy.__file__).parent.parent / "numpy.libs"
        found = sorted(libs.glob("*openblas*"))
        if not found:
            print("none"); sys.exit()
        library = ctypes.CDLL(str(found[0]))
        for name in ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_",
                     "openblas_get_num_threads"):
            if hasattr(library, name):
                print(getattr(library, name)()); break
        else:
            print("none")
        """
    )

    def blas_threads(**env: str) -> str:
        environment = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
        environment.update(env)
        done = subprocess.run([sys.executable, "-c", code], env=environment,
                              capture_output=True, text=True, check=True, timeout=120)
        return done.stdout.strip().splitlines()[-1]

    threads = blas_threads()
    if threads == "none":
        pytest.skip("this numpy has no OpenBLAS of its own to ask")
    assert threads == "1"
    if (os.cpu_count() or 1) > 1:
        assert blas_threads(OPENBLAS_NUM_THREADS="2") == "2"
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "4")
    assert not allocator.single_threaded_blas()
    assert allocator.os.environ["OPENBLAS_NUM_THREADS"] == "4"
