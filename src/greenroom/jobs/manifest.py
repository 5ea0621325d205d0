"""The batch manifest: one JSON line per finished attempt, and what a rerun may skip.

The manifest is the batch's memory. Each line records an input, its output, the status (`done`
or `failed`), timings, the error, and the input's and output's size and modification time and
the settings' fingerprint at the time. A rerun skips an input whose newest `done` line still
matches all of these: the input unchanged, the output present and unchanged, the same settings.
Lines are appended and flushed one at a time, so a batch stopped at any moment leaves a
readable manifest (a torn last line is ignored).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from greenroom.jobs import storage
from greenroom.jobs.plan import Task

MANIFEST_NAME = "greenroom-batch.jsonl"


@dataclass
class Record:
    """What became of one input in one attempt."""

    input: str
    output: str
    kind: str
    status: str  # "done" or "failed"
    settings: str  # JobSettings.fingerprint()
    input_size: int | None = None
    input_mtime_ns: int | None = None
    output_size: int | None = None
    output_mtime_ns: int | None = None
    frames: int = 0
    seconds: float = 0.0
    error: str | None = None
    attempts: int = 1
    worker: str = ""
    finished: float = field(default_factory=time.time)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def default_path(output_root: str) -> Path | None:
    """The manifest beside the results, for a local output folder (None for a URL)."""
    return None if storage.is_url(output_root) else Path(output_root) / MANIFEST_NAME


def read(path: Path) -> dict[str, Record]:
    """The newest record per input; a missing file is an empty manifest."""
    records: dict[str, Record] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return records
    names = set(Record.__dataclass_fields__)
    for line in lines:
        try:
            data: dict[str, Any] = json.loads(line)
            record = Record(**{k: v for k, v in data.items() if k in names})
        except (ValueError, TypeError):
            continue  # a line torn by a hard stop
        records[record.input] = record
    return records


def is_complete(task: Task, record: Record | None, fingerprint: str) -> bool:
    """True if `task`'s output is already made from the same input with the same settings."""
    if record is None or record.status != "done" or record.settings != fingerprint:
        return False
    if record.output != task.output:
        return False
    source = storage.signature(task.input)
    result = storage.signature(task.output)
    return (
        source == (record.input_size, record.input_mtime_ns)
        and result == (record.output_size, record.output_mtime_ns)
    )


class ManifestWriter:
    """Appends records as they finish; each line is flushed and synced before the next."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - held for the batch

    def append(self, record: Record) -> None:
        self._file.write(json.dumps(asdict(record), sort_keys=True) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def extend(self, records: Iterable[Record]) -> None:
        for record in records:
            self.append(record)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> ManifestWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
