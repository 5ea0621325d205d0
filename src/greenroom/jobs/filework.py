"""One file of a batch, done inside a worker: read, process, write, and say what happened.

`run_task` is what every executor calls, local process or Ray task. It never raises for a
problem with the file itself: a corrupt input, a full disk or a missing file becomes a `failed`
record with a one-line error, so one bad file never stops the batch. Only the worker dying (a
kill, an out-of-memory) interrupts a file, and the executors retry those.

A worker keeps its `Processor` (the loaded model and effect) from one file to the next, reset
between files, because loading a model costs more than a short clip or a photo takes.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

from greenroom.atomic import remove_stale_temps
from greenroom.errors import GreenroomError, describe_os_error
from greenroom.jobs import storage
from greenroom.jobs.manifest import Record
from greenroom.jobs.plan import Task
from greenroom.jobs.settings import JobSettings
from greenroom.pipeline.processor import Processor

#: (settings fingerprint, threads, kind) -> the worker's processor for such files. Per worker
#: process; a Ray worker that runs tasks of two batches keeps one per batch.
_processors: dict[tuple[str, int | None, str], Processor] = {}


def processor_for(settings: JobSettings, kind: str) -> Processor:
    """The worker's processor for `kind` files (videos get temporal smoothing, photos don't)."""
    from greenroom.segmentation import load

    key = (settings.fingerprint(), settings.threads, kind)
    processor = _processors.get(key)
    if processor is None:
        model, refine, temporal = settings.model, settings.refine, settings.temporal
        if settings.matte_quality is not None:
            from greenroom.segmentation.quality import plan

            chosen = plan(settings.matte_quality, "video" if kind == "video" else "photo")
            model, refine = chosen.model, refine and chosen.refine
            temporal = temporal and chosen.temporal
        segmenter = load(settings.model_request(model))
        processor = Processor(
            settings.build_effect(), model=segmenter, refine=refine,
            temporal=temporal and kind == "video", adjust=settings.adjust,
            framing=settings.auto_frame and kind == "video",
        )
        _processors[key] = processor
    processor.reset()  # a new file: nothing carried over from the previous one
    return processor


def _video(task: Task, settings: JobSettings, source: str, target: str) -> int:
    from greenroom.jobs.convert import convert_video

    result = convert_video(
        source, target, processor_for(settings, "video"), crf=settings.crf,
        preset=settings.preset, unsupported_audio="drop", lookahead=settings.temporal,
    )
    if result.output is None:
        raise GreenroomError(f"{task.input}: no frame could be processed")
    return result.stats.frames_out


def _image(task: Task, settings: JobSettings, source: str, target: str) -> int:
    from greenroom.sinks.images import write_image
    from greenroom.sources.images import read_image

    result = processor_for(settings, "image").process(read_image(source))
    write_image(target, result, quality=settings.image_quality)
    return 1


def run_task(task: Task, settings: JobSettings, attempts: int = 1) -> Record:
    """Process one file; a `done` or `failed` record, never an exception for the file's faults."""
    record = Record(
        task.input, task.output, task.kind, "failed", settings.fingerprint(),
        attempts=attempts, worker=f"{socket.gethostname()}:{os.getpid()}",
    )
    started = time.perf_counter()
    signature = storage.signature(task.input)
    if signature is not None:
        record.input_size, record.input_mtime_ns = signature
    if not storage.is_url(task.output):  # an attempt whose worker was killed left its temp
        remove_stale_temps(Path(task.output).parent)
    try:
        with storage.readable(task.input) as source, storage.writable(task.output) as target:
            work = _video if task.kind == "video" else _image
            record.frames = work(task, settings, source, target)
    except GreenroomError as exc:
        record.error = str(exc)
    except OSError as exc:
        record.error = describe_os_error(task.input, exc)
    else:
        record.status = "done"
        result = storage.signature(task.output)
        if result is not None:
            record.output_size, record.output_mtime_ns = result
    record.seconds = time.perf_counter() - started
    record.finished = time.time()
    return record
