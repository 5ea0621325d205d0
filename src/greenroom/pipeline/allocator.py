"""Process-wide tuning the `greenroom` command does at start (`tune_process`).

First, keep glibc's allocator from handing frame-sized buffers back to the kernel every frame.

Each frame allocates and frees a few buffers of 1-8 MB (the matte, the blurred background, the
blended result). glibc serves blocks above its mmap threshold with a fresh mmap and gives them
back on free, and trims the heap top when more than the trim threshold is free; with several
pipeline threads (each with its own malloc arena) the dynamic thresholds never settle. The
memory is then faulted in again on the next frame, page by page: about 700 minor page faults a
720p frame in the live pipeline, which cost about a third of the pipeline's CPU
(docs/benchmarks-video.md). Raising both thresholds keeps the freed buffers for reuse, so
the faults drop to about 60 a frame; the cost is that a few frames' worth of freed memory stays
mapped per thread.

This changes process-wide allocator behaviour, so the library never does it on import: the
`greenroom` command calls `tune_allocator()` once at start (and so may an application that runs
the pipeline for long). It does nothing on other C libraries or when the user has set the
`MALLOC_*` environment variables, which win. Second, OpenCV without a thread pool of its own
(`single_threaded_opencv`), and third numpy's BLAS without one (`single_threaded_blas`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform

# mallopt parameter numbers from glibc's <malloc.h>.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

#: Blocks up to this size come from the heap: larger than a 1080p float32 matte (8.3 MB) and a
#: 4K RGB frame (24.9 MB).
MMAP_THRESHOLD = 32 << 20
#: Free memory kept at the top of a heap before it is returned to the kernel.
TRIM_THRESHOLD = 64 << 20


def _glibc_function(name: str) -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    """glibc's function `name`, or None on another C library."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    path = ctypes.util.find_library("c")
    if path is None:
        return None
    try:
        return getattr(ctypes.CDLL(path), name)
    except (OSError, AttributeError):
        return None


def tune_allocator() -> bool:
    """Raise glibc's mmap and trim thresholds for this process; True if they were set."""
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or "MALLOC_TRIM_THRESHOLD_" in os.environ:
        return False
    mallopt = _glibc_function("mallopt")
    if mallopt is None:
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )


#: OpenCV's own worker threads: one, i.e. none beside the caller's.
OPENCV_THREADS = "1"


def single_threaded_opencv() -> bool:
    """Run each OpenCV call on the thread that makes it; True if set (the user's
    `OPENCV_FOR_THREADS_NUM` wins).

    greenroom's jobs already run their stages side by side (decode, model, compositing and
    encode each in a thread, x264 with its own), so both cores are busy; OpenCV splitting each
    call over a pool of its own on top only adds hand-overs and spinning: about 1.5 ms of CPU a
    720p frame here for the same work (docs/benchmarks-video.md). Set through the environment
    before OpenCV initialises, so a command that never loads OpenCV does not pay for importing
    it; like `tune_allocator`, the command line does it, the library does not.
    """
    if "OPENCV_FOR_THREADS_NUM" in os.environ:
        return False
    os.environ["OPENCV_FOR_THREADS_NUM"] = OPENCV_THREADS
    return True


#: numpy's OpenBLAS worker threads: one, i.e. none beside the caller's.
BLAS_THREADS = "1"


def single_threaded_blas() -> bool:
    """Run numpy's linear algebra on the calling thread; True if set (the user's
    `OPENBLAS_NUM_THREADS` wins).

    greenroom's only BLAS work is 3x3 matrices (the guided filter's colour regulariser), far
    below any size worth a second thread. Yet numpy's OpenBLAS starts a worker per core, and
    once importing OpenCV has touched it they spin, waiting for work that never comes: about
    90 ms of CPU per process here, a third of a millisecond per frame of a 10-second clip.
    Read when numpy loads, so set before the first import of numpy; the command line does it,
    the library does not.
    """
    if "OPENBLAS_NUM_THREADS" in os.environ:
        return False
    os.environ["OPENBLAS_NUM_THREADS"] = BLAS_THREADS
    return True


def tune_process() -> None:
    """What the `greenroom` command does at start: `tune_allocator`, `single_threaded_opencv`
    and `single_threaded_blas`."""
    tune_allocator()
    single_threaded_opencv()
    single_threaded_blas()


def release_memory() -> bool:
    """Return all free heap memory to the kernel now (glibc's `malloc_trim`); True if any was.

    The raised thresholds keep freed frame buffers for the next frame; when a long-running
    process stops a stream for good (a web session closes), this hands them back. It walks every
    malloc arena, so it belongs in a worker thread, not in a loop that must stay responsive.
    """
    trim = _glibc_function("malloc_trim")
    if trim is None:
        return False
    trim.argtypes = (ctypes.c_size_t,)
    trim.restype = ctypes.c_int
    return bool(trim(0))
