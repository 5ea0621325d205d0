"""Several sinks at once (virtual camera + preview + recording)."""

from __future__ import annotations

from collections.abc import Sequence

from greenroom.frames import FrameItem
from greenroom.pipeline.stream import Sink


class TeeSink:
    """Write each frame to every sink; close them all even if one fails."""

    def __init__(self, sinks: Sequence[Sink]) -> None:
        self.sinks = list(sinks)

    def write(self, item: FrameItem) -> None:
        for sink in self.sinks:
            sink.write(item)

    def close(self) -> None:
        errors = []
        for sink in self.sinks:
            try:
                sink.close()
            except Exception as exc:  # noqa: BLE001 - the first is re-raised after all close
                errors.append(exc)
        if errors:
            raise errors[0]
