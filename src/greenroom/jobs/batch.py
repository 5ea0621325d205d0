"""A batch: many videos and photos, a mirrored output tree, a manifest, resume, all cores.

`run_batch` is the one place a batch is assembled: plan the tasks, skip those the manifest says
are complete and unchanged, run the rest on local workers or a Ray cluster, append each result
to the manifest as it arrives, and sum up. Errors in single files are recorded and counted,
never raised; the caller decides the exit status from the summary.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from greenroom.errors import GreenroomError
from greenroom.jobs import manifest, storage
from greenroom.jobs.executors import Layout, choose_layout, run_local, run_ray
from greenroom.jobs.manifest import ManifestWriter, Record
from greenroom.jobs.plan import Task, plan
from greenroom.jobs.settings import JobSettings
from greenroom.pipeline.stats import plural


@dataclass
class BatchSummary:
    """What a batch did, for the closing line and the exit status."""

    planned: int = 0
    skipped: int = 0  # complete and unchanged from an earlier run
    done: int = 0
    failed: int = 0
    frames: int = 0
    seconds: float = 0.0
    layout: str = ""
    failures: list[Record] = field(default_factory=list)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        def n(count: int, word: str) -> str:
            return f"{count} {plural(count, word)}"

        if not self.done and not self.failed:
            every = "all " if self.planned > 1 else ""
            return f"nothing to do: {every}{n(self.planned, 'file')} already done"
        parts = [f"{n(self.done, 'file')} done"]
        if self.skipped:
            parts.append(f"{self.skipped} already done")
        if self.failed:
            parts.append(f"{self.failed} failed")
        return (
            f"{', '.join(parts)} of {self.planned}; {n(self.frames, 'frame')} in "
            f"{self.seconds:.1f} s ({self.fps:.1f} frames/s) on {self.layout}"
        )


def pending_tasks(
    tasks: Sequence[Task], previous: dict[str, Record], fingerprint: str
) -> list[Task]:
    """The tasks whose output is not already complete from the same input and settings."""
    return [t for t in tasks if not manifest.is_complete(t, previous.get(t.input), fingerprint)]


def run_batch(
    inputs: Sequence[str],
    output_root: str,
    settings: JobSettings,
    **options: Any,
) -> BatchSummary:
    """Process every video and photo under `inputs` into `output_root`; see the module doc.

    `options` are `run_tasks`'s. A caller that checks the plan first (the command line refuses
    outputs that land on inputs) calls `plan_batch` and `run_tasks` itself.
    """
    return run_tasks(plan_batch(inputs, output_root, settings), output_root, settings, **options)


def plan_batch(inputs: Sequence[str], output_root: str, settings: JobSettings) -> list[Task]:
    """The batch's tasks; no media at all is an error."""
    tasks = plan(inputs, output_root, settings)
    if not tasks:
        raise GreenroomError(f"{', '.join(inputs)}: no videos or photos found")
    return tasks


def run_tasks(
    tasks: Sequence[Task],
    output_root: str,
    settings: JobSettings,
    *,
    workers: int | None = None,
    threads: int | None = None,
    ray_address: str | None = None,
    manifest_path: Path | None = None,
    on_start: Callable[[int], None] | None = None,
    on_record: Callable[[Record], None] | None = None,
) -> BatchSummary:
    """Run planned tasks: skip what the manifest says is done, run the rest, record each."""
    manifest_path = manifest_path or manifest.default_path(output_root)
    if manifest_path is None:
        raise ValueError(f"{output_root}: a URL output needs a local manifest path")
    fingerprint = settings.fingerprint()
    todo = pending_tasks(tasks, manifest.read(manifest_path), fingerprint)
    summary = BatchSummary(planned=len(tasks), skipped=len(tasks) - len(todo))
    if not storage.is_url(output_root):
        Path(output_root).mkdir(parents=True, exist_ok=True)
    if on_start is not None:
        on_start(len(todo))
    started = time.perf_counter()

    with ManifestWriter(manifest_path) as writer:

        def finished(record: Record) -> None:
            writer.append(record)
            if record.status == "done":
                summary.done += 1
                summary.frames += record.frames
            else:
                summary.failed += 1
                summary.failures.append(record)
            if on_record is not None:
                on_record(record)

        try:
            if ray_address is not None:
                layout = Layout(workers=0, threads=threads or 1)
                summary.layout = f"Ray cluster {ray_address}, {layout.threads} thread(s) per file"
                run_ray(todo, settings, ray_address, finished, threads=layout.threads)
            else:
                layout = choose_layout(workers, threads)
                summary.layout = (
                    f"{layout.workers} worker(s) x {layout.threads} inference thread(s)"
                )
                if todo:
                    run_local(todo, settings, layout, finished)
        finally:
            summary.seconds = time.perf_counter() - started
    return summary
