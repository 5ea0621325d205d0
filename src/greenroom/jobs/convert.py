"""`convert_video`: the file job, one loop for every video source and sink pair (after RVM's
inference.py).

The source (a `VideoFileSource`) and the sink (a video file, a PNG sequence) know nothing of
the model; the `StreamPipeline` runs the processor between them with the stages overlapped, in
file mode: nothing dropped, order and timestamps exact, audio remuxed by the sink. `greenroom
video`, the batch workers and the benchmarks all convert through here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from greenroom.frames import Frame
from greenroom.matte import LookaheadCorrector
from greenroom.pipeline.processor import Processor
from greenroom.pipeline.stats import PipelineStats
from greenroom.pipeline.stream import StreamPipeline
from greenroom.sinks.video import AudioPolicy, is_sequence_path, open_video_sink
from greenroom.sources.video import VideoFileSource, VideoInfo


@dataclass
class ConvertResult:
    """What a conversion did: where it wrote, what it measured, what it could not read."""

    output: Path | None
    info: VideoInfo
    stats: PipelineStats
    skipped: int
    stopped: bool


def convert_video(
    input_path: str | Path,
    output_path: str | Path,
    processor: Processor,
    *,
    crf: int | None = None,
    preset: str = "veryfast",
    unsupported_audio: AudioPolicy = "error",
    stop: threading.Event | None = None,
    lookahead: bool = True,
    on_start: Callable[[VideoInfo], None] | None = None,
    on_output: Callable[[Frame, PipelineStats], None] | None = None,
    planar: bool | None = None,
) -> ConvertResult:
    """Apply `processor` to every frame of a video file and write the result with its audio.

    `unsupported_audio="transcode"` re-encodes audio the output container cannot hold (AAC
    in WebM) to Opus, `"drop"` leaves it out, both with a logged warning; the default refuses
    before any work is done.
    `lookahead` corrects one-frame mask flips using the next frame (files can afford the
    frame of delay); temporal smoothing itself is the processor's (`Processor(temporal=True)`).
    `planar` keeps frames in the decoder's yuv420p from decoder to encoder (`I420`): by default
    whenever the processor can (`Processor.takes_planes`) and the output is a video file;
    False forces the RGB path (for comparisons).
    """
    stop = stop or threading.Event()
    if planar is None:  # the codec's own format end to end wherever nothing needs RGB
        planar = processor.takes_planes and not is_sequence_path(output_path)
    with VideoFileSource(input_path, planar=planar) as source:
        if on_start is not None:
            on_start(source.info)
        options: dict[str, object] = {}
        if not is_sequence_path(output_path):
            options = {"crf": crf, "preset": preset, "unsupported_audio": unsupported_audio}
        audio = None if is_sequence_path(output_path) else source.audio_feed()
        sink = open_video_sink(output_path, source.info, audio=audio, **options)
        pipeline = StreamPipeline(
            processor,
            source,
            sink,
            live=False,
            stop=stop,
            on_output=on_output,
            lookahead=LookaheadCorrector() if lookahead else None,
        )
        stats = pipeline.run()
        return ConvertResult(sink.written, source.info, stats, source.skipped, stop.is_set())
