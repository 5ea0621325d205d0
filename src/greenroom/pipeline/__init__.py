"""Pipelines: how frames flow from a source through the model and effect to a sink.

`Processor` is imported on first use, so light modules of this package (the allocator tuning the
command line applies at start) do not load the model runtimes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["Processor"]

if TYPE_CHECKING:
    from greenroom.pipeline.processor import Processor


def __getattr__(name: str) -> Any:
    if name == "Processor":
        from greenroom.pipeline.processor import Processor

        return Processor
    raise AttributeError(f"module 'greenroom.pipeline' has no attribute {name!r}")
