"""Pipelines: how frames flow from a source through the model and effect to a sink."""

from greenroom.pipeline.processor import Processor

__all__ = ["Processor"]
