"""The live job: a camera (or a clip played as one) through the engine into live sinks.

`run_live` is the one place a live run is assembled: the sinks teed, the frame limit, the
duration timer, the statistics. `open_live_source` and `open_live_sinks` build what a user asks
for (`greenroom camera`), cleaning up what was opened when a later part fails; `run_camera`
puts the three together. The camera command, the benchmarks and the tests all run through here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from greenroom.compositing.spec import EffectSpec
from greenroom.errors import GreenroomError
from greenroom.frames import Frame, Sink
from greenroom.pipeline.controls import LiveControls
from greenroom.pipeline.mirror import Mirror
from greenroom.pipeline.preview import PreviewPanel
from greenroom.pipeline.processor import Processor
from greenroom.pipeline.stats import PipelineStats
from greenroom.pipeline.stream import StreamPipeline
from greenroom.sinks.recording import RecordingSink
from greenroom.sinks.tee import FrameLimit, TeeSink
from greenroom.sources.camera import CameraSettings, CameraSource, parse_device
from greenroom.sources.live_file import LiveFileSource
from greenroom.sources.on_demand import DeviceReaders, OnDemandSource

#: A live source: a camera, a clip played as one, or either opened only while someone watches.
LiveSource = CameraSource | LiveFileSource | OnDemandSource
Say = Callable[[str], None]


def _quiet(message: str) -> None:
    pass


@dataclass(frozen=True)
class LiveLimits:
    """When a live run ends on its own (otherwise: at the source's end or a stop)."""

    max_frames: int | None = None
    duration: float | None = None  # seconds, on a timer: ends a run whose camera went quiet
    report_every: float | None = None  # seconds between statistics reports, if any


@dataclass(frozen=True)
class SourceRequest:
    """Where live frames come from: a camera device, or a file or stream played as one."""

    device: str = "0"
    source: str | None = None  # a video file, or a stream URL (rtsp://, http://, ...)
    loop: bool = False
    realtime: bool = True
    width: int = 1280
    height: int = 720
    fps: float = 30.0
    mjpg: bool = True
    on_demand: bool = False
    idle_seconds: float = 3.0

    @property
    def file(self) -> Path | None:
        """The local file played as the camera, if that is what was asked for."""
        return Path(self.source) if self.source and "://" not in self.source else None


@dataclass(frozen=True)
class OutputRequest:
    """Where live frames go: any mix of a virtual camera, a preview window and a recording."""

    virtual_camera: bool = True
    vcam_device: str | None = None
    preview: bool = False
    record: Path | None = None
    audio_device: str | None = None  # a microphone for the recording
    backgrounds: Sequence[Path] = field(default_factory=tuple)  # n/p in the preview
    spec: EffectSpec | None = None  # the effect asked for: the preview's keys start from it


@dataclass
class LiveOutcome:
    """What a live run did."""

    stats: PipelineStats
    recorded: Path | None
    lost: str | None  # why the camera ended, when it failed rather than stopped


def open_live_source(request: SourceRequest, say: Say = _quiet) -> LiveSource:
    """Open the camera, stream or file now, so a bad one fails before anything else starts."""

    def open_frames() -> CameraSource | LiveFileSource:
        if request.source is not None and request.file is None:  # a stream: OpenCV opens it
            return CameraSource(CameraSettings(request.source, None, None, None, mjpg=False))
        if request.file is not None:  # in the codec's yuv420p: the engine takes it as it is
            return LiveFileSource(request.file, loop=request.loop, realtime=request.realtime,
                                  planar=True)
        device = parse_device(request.device)
        return CameraSource(  # the camera's own format where it can: the engine takes planes
            CameraSettings(device, request.width, request.height, request.fps, request.mjpg),
            planar=True,
        )

    if not request.on_demand:
        return open_frames()

    def announce(active: bool) -> None:
        say("an application is reading: camera on" if active else "no readers: camera off")

    return OnDemandSource(open_frames, idle_seconds=request.idle_seconds, on_change=announce)


def open_live_sinks(
    outputs: OutputRequest,
    source: LiveSource,
    panel: PreviewPanel | None,
    stop: threading.Event,
    say: Say = _quiet,
) -> list[Sink]:
    """The sinks `outputs` asks for; if one cannot open, those already open are aborted."""
    from greenroom.sinks.virtualcam import VirtualCameraSink
    from greenroom.sinks.window import WindowSink
    from greenroom.sources.microphone import MicrophoneFeed

    sinks: list[Sink] = []
    try:
        if outputs.record is not None:
            # A microphone if asked; else a file's own sound (a stream or a camera has none).
            audio = (
                MicrophoneFeed(outputs.audio_device) if outputs.audio_device
                else source.audio_feed() if isinstance(source, LiveFileSource) else None
            )  # the recording closes it
            sinks.append(RecordingSink(outputs.record, source.width, source.height, source.fps,
                                       audio=audio))
        if outputs.virtual_camera:
            # fed yuv420p, the format virtual cameras hold: planes as they are, RGB converted once
            camera = VirtualCameraSink(source.width, source.height, source.fps, outputs.vcam_device,
                                       planar=True)
            say(f"sending to virtual camera {camera.device}")
            sinks.append(camera)
            if isinstance(source, OnDemandSource):
                source.readers = DeviceReaders(camera.device)
        if panel is not None:
            sinks.append(WindowSink(panel, stop))
    except GreenroomError:
        TeeSink(sinks).abort()
        raise
    return sinks


def run_live(
    source: Iterable[Frame],
    sinks: Sequence[Sink],
    processor: Processor,
    limits: LiveLimits = LiveLimits(),
    *,
    stop: threading.Event | None = None,
    stats: PipelineStats | None = None,
    report: Callable[[PipelineStats], None] | None = None,
    on_output: Callable[[Frame, PipelineStats], None] | None = None,
) -> PipelineStats:
    """Run `processor` live from `source` into every sink until the source ends, `stop` is set
    or a limit is reached; the newest frame always wins. Returns the statistics.

    The sinks are closed at the end (aborted after a failure). `report` receives the statistics
    every `limits.report_every` seconds; `on_output` sees each frame written.
    """
    stop = stop or threading.Event()
    stats = stats or PipelineStats()
    output = FrameLimit(TeeSink(sinks), limits.max_frames)
    last_report = time.perf_counter()

    def after_each(frame: Frame, current: PipelineStats) -> None:
        nonlocal last_report
        if limits.max_frames and current.frames_out >= limits.max_frames:
            stop.set()
        now = time.perf_counter()
        if report is not None and limits.report_every and now - last_report >= limits.report_every:
            last_report = now
            report(current)
        if on_output is not None:
            on_output(frame, current)

    pipeline = StreamPipeline(
        processor, source, output, live=True, stats=stats, stop=stop, on_output=after_each
    )
    # A timer rather than a check per frame: a duration must end the run even while the camera
    # delivers nothing (a stalled device, a stream that went quiet).
    timer = threading.Timer(limits.duration, stop.set) if limits.duration else None
    if timer is not None:
        timer.daemon = True
        timer.start()
    try:
        pipeline.run()
    finally:
        if timer is not None:
            timer.cancel()
    stats.frames_out = min(stats.frames_out, output.written)  # not the frames let past a limit
    return stats


def run_camera(
    source: LiveSource,
    outputs: OutputRequest,
    processor: Processor,
    limits: LiveLimits = LiveLimits(),
    *,
    mirror: bool = False,
    stop: threading.Event | None = None,
    say: Say = _quiet,
) -> LiveOutcome:
    """`greenroom camera`: `source` through `processor` into the outputs asked for, with the
    preview's hotkeys wired to the processor, until stopped. Closes the source."""
    stop = stop or threading.Event()
    stats = PipelineStats()
    mirroring = Mirror(mirror)
    panel = None
    if outputs.preview:
        controls = LiveControls(processor, list(outputs.backgrounds), mirror=mirroring,
                                spec=outputs.spec)
        panel = PreviewPanel(controls, stats)
    try:
        sinks = open_live_sinks(outputs, source, panel, stop, say)
        run_live(mirroring.frames(source), sinks, processor, limits, stop=stop, stats=stats,
                 report=lambda current: say(current.summary()))
    finally:
        source.close()
    recorded = next((s.path for s in sinks if isinstance(s, RecordingSink)), None)
    return LiveOutcome(stats, recorded, source.lost)
