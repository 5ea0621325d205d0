"""Where the files of a batch run: local worker processes (the default), or a Ray cluster.

Both take the same tasks and hand back the same `Record`s, one per file, as each finishes.
A worker that dies mid-file (killed, out of memory, a node lost) costs that file an attempt:
it is run again, up to `MAX_ATTEMPTS` times, and meanwhile its partial output exists only under a
temporary name (the sinks write atomically), which the next attempt removes.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing import get_context

from greenroom.jobs.filework import run_task
from greenroom.jobs.manifest import Record
from greenroom.jobs.plan import Task
from greenroom.jobs.settings import JobSettings

MAX_ATTEMPTS = 3
#: Memory one worker may need for 1080p video (decoder, model, effect, encoder), with margin.
WORKER_MEMORY = 700 * 1024 * 1024

OnRecord = Callable[[Record], None]


@dataclass(frozen=True)
class Layout:
    """How a machine's cores are shared: processes, and inference threads in each."""

    workers: int
    threads: int


def available_memory() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as info:
            for line in info:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def choose_layout(
    workers: int | None = None,
    threads: int | None = None,
    cores: int | None = None,
    memory: int | None = None,
) -> Layout:
    """One single-threaded worker per core, as many as memory allows, unless told otherwise.

    Whole files in parallel scale better than threads inside one file: decoding, the effect and
    encoding each have serial parts, and small models gain little from a second thread.
    """
    cores = cores or os.cpu_count() or 1
    if workers is None:
        workers = cores
        if memory is None:
            memory = available_memory()
        if memory is not None:
            workers = min(workers, max(1, memory // WORKER_MEMORY))
    if threads is None:
        threads = max(1, cores // workers)
    return Layout(max(1, workers), max(1, threads))


def gave_up(task: Task, settings: JobSettings, attempts: int, why: str) -> Record:
    return Record(
        task.input, task.output, task.kind, "failed", settings.fingerprint(),
        error=f"{task.input}: {why} ({attempts} attempts)", attempts=attempts,
    )


def _worker_start() -> None:
    """Workers leave Ctrl-C to the parent, which stops them and keeps the manifest whole."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def run_local(
    tasks: Iterable[Task], settings: JobSettings, layout: Layout, on_record: OnRecord
) -> None:
    """Run tasks in `layout.workers` processes, at most one file in flight per worker.

    Keeping no more files in flight than workers bounds memory and means that when a worker
    dies, the files the broken pool gives back are exactly the ones that were running.
    """
    settings = settings.with_threads(layout.threads)
    queue = list(tasks)[::-1]
    attempts: dict[Task, int] = {}
    context = get_context("spawn")  # no fork of a process holding threads and model sessions
    while queue:
        with ProcessPoolExecutor(
            layout.workers, mp_context=context, initializer=_worker_start
        ) as pool:
            running: dict[Future[Record], Task] = {}
            broken = False
            while (queue or running) and not broken:
                while queue and len(running) < layout.workers and not broken:
                    task = queue[-1]
                    try:
                        future = pool.submit(run_task, task, settings, attempts.get(task, 0) + 1)
                    except BrokenProcessPool:  # a worker died since the last check
                        broken = True
                        break
                    queue.pop()
                    attempts[task] = attempts.get(task, 0) + 1
                    running[future] = task
                if not running:
                    break
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                broken = _collect(done, running, settings, attempts, queue, on_record)
            if broken:  # every file still in flight went down with the pool, or just finished
                done, _ = wait(running)
                _collect(done, running, settings, attempts, queue, on_record)


def _collect(
    done: Iterable[Future[Record]],
    running: dict[Future[Record], Task],
    settings: JobSettings,
    attempts: dict[Task, int],
    queue: list[Task],
    on_record: OnRecord,
) -> bool:
    """Hand on finished files; queue again those whose worker died. True if the pool broke."""
    broken = False
    for future in done:
        task = running.pop(future)
        try:
            on_record(future.result())
        except BrokenProcessPool:
            broken = True
            _retry_or_fail(task, settings, attempts, queue, on_record)
    return broken


def _retry_or_fail(
    task: Task,
    settings: JobSettings,
    attempts: dict[Task, int],
    queue: list[Task],
    on_record: OnRecord,
) -> None:
    if attempts[task] >= MAX_ATTEMPTS:
        on_record(gave_up(task, settings, attempts[task], "its worker died each time"))
    else:
        queue.append(task)


def run_ray(
    tasks: Iterable[Task],
    settings: JobSettings,
    address: str,
    on_record: OnRecord,
    threads: int = 1,
) -> None:
    """Send each file to a Ray cluster as a task; Ray retries it when its worker or node is lost.

    `address`: "auto" for the cluster this machine belongs to, or a cluster address. Tasks ask
    for `threads` CPUs each, so Ray packs as many files per node as it has cores.
    """
    from greenroom.extras import require_extra

    require_extra("cluster", "--ray")
    # Ray reports usage statistics to its makers unless told not to; greenroom contacts no
    # outside server by default (a user can still set RAY_USAGE_STATS_ENABLED=1).
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray
    from ray.exceptions import RayError

    if not ray.is_initialized():
        ray.init(address=address, log_to_driver=False, configure_logging=False)
    settings = settings.with_threads(threads)
    remote = ray.remote(num_cpus=threads, max_retries=MAX_ATTEMPTS - 1)(run_task)
    queue = list(tasks)[::-1]
    limit = max(1, int(ray.cluster_resources().get("CPU", 1) // threads)) * 2
    running: dict[object, Task] = {}
    while queue or running:
        while queue and len(running) < limit:
            task = queue.pop()
            running[remote.remote(task, settings, 1)] = task
        done, _ = ray.wait(list(running), num_returns=1)
        for ref in done:
            task = running.pop(ref)
            try:
                on_record(ray.get(ref))
            except RayError as exc:
                why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                on_record(gave_up(task, settings, MAX_ATTEMPTS, f"lost on the cluster: {why}"))
