"""Several sinks at once (virtual camera + preview + recording)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from greenroom.frames import Frame, Sink


class TeeSink(Sink):
    """Write each frame to every sink; close (or abort) them all even if one fails."""

    def __init__(self, sinks: Sequence[Sink]) -> None:
        self.sinks = list(sinks)

    def write(self, frame: Frame) -> None:
        for sink in self.sinks:
            sink.write(frame)

    def close(self) -> None:
        _each(sink.close for sink in self.sinks)

    def abort(self) -> None:
        _each(sink.abort for sink in self.sinks)


class FrameLimit(Sink):
    """Pass the first `limit` frames on to `sink` and drop the rest.

    Stopping at a frame count still lets the frames in flight through the pipeline; without
    this they would be written too, and a limit of 5 would record 7.
    """

    def __init__(self, sink: Sink, limit: int | None) -> None:
        self.sink = sink
        self.limit = limit
        self.written = 0

    def write(self, frame: Frame) -> None:
        if self.limit is None or self.written < self.limit:
            self.sink.write(frame)
            self.written += 1

    def close(self) -> object:
        return self.sink.close()

    def abort(self) -> None:
        self.sink.abort()


def _each(calls: Iterable[Callable[[], object]]) -> None:
    """Make every call; re-raise the first failure after all were made."""
    errors = []
    for call in calls:
        try:
            call()
        except Exception as exc:  # noqa: BLE001 - the first is re-raised after all close
            errors.append(exc)
    if errors:
        raise errors[0]
