"""`greenroom camera`: a live camera (or a clip played live) into a virtual camera, window, file."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import click

from greenroom.cli.config import command_line_effect_wins, config_option
from greenroom.cli.guard import Input, check_output, effect_inputs
from greenroom.cli.matte_options import matte_options
from greenroom.cli.options import (
    EffectArgs,
    effect_options,
    framing_option,
    lowlight_option,
    make_enhancer,
)
from greenroom.cli.signals import stop_on_signals
from greenroom.compositing import parse_color
from greenroom.compositing.framing import AutoFramer
from greenroom.errors import GreenroomError
from greenroom.frames import FrameItem
from greenroom.matte import MatteAdjust
from greenroom.pipeline.controls import HELP, LiveControls, list_backgrounds
from greenroom.pipeline.mirror import Mirror
from greenroom.pipeline.recording import RecordingSink
from greenroom.pipeline.stats import PipelineStats
from greenroom.pipeline.stream import Sink, StreamPipeline
from greenroom.sinks.tee import TeeSink
from greenroom.sinks.virtualcam import VirtualCameraSink
from greenroom.sinks.window import WindowSink
from greenroom.sources.camera import CameraSettings, CameraSource, parse_device
from greenroom.sources.live_file import LiveFileSource
from greenroom.sources.microphone import MicrophoneFeed
from greenroom.sources.on_demand import DeviceReaders, OnDemandSource
from greenroom.sources.video import AudioFeed


class FrameLimit:
    """Pass the first `limit` frames on to `sink` and drop the rest.

    Stopping at `--max-frames` still lets the frames in flight through the pipeline; without
    this they would be written too, and `--max-frames 5` would record 7.
    """

    def __init__(self, sink: Sink, limit: int | None) -> None:
        self.sink = sink
        self.limit = limit
        self.written = 0

    def write(self, item: FrameItem) -> None:
        if self.limit is None or self.written < self.limit:
            self.sink.write(item)
            self.written += 1

    def close(self) -> None:
        self.sink.close()


def recording_inputs(
    source: str | None, backgrounds: list[Path], chosen: EffectArgs
) -> list[Input]:
    """Every file the camera command reads, none of which `--record` may replace."""
    found = effect_inputs(chosen.background, chosen.model)
    if source is not None and "://" not in source:
        found.append(Input("source video", Path(source)))
    found.extend(Input("background image", path) for path in backgrounds)
    return found


@click.command("camera")
@config_option
@click.option("--device", default="0", show_default=True,
              help="Camera index (0, 1, ...), device path (/dev/video2) or stream URL.")
@click.option("--source",
              help="Play this video file as the camera instead (no camera needed), or read a "
              "network stream (rtsp://, http://, ...) live.")
@click.option("--loop", is_flag=True, help="With --source: start again at the end.")
@click.option("--realtime/--no-realtime", default=True, show_default=True,
              help="With --source: release frames at their recorded pace, like a camera.")
@click.option("--width", type=click.IntRange(16), default=1280, show_default=True,
              help="Frame width to ask the camera for, in pixels (it may pick the nearest it "
              "supports).")
@click.option("--height", type=click.IntRange(16), default=720, show_default=True,
              help="Frame height to ask the camera for, in pixels.")
@click.option("--fps", type=click.FloatRange(1, 240), default=30.0, show_default=True,
              help="Frames per second to ask the camera for.")
@click.option("--mirror/--no-mirror", default=False, show_default=True,
              help="Flip the picture left to right, as a mirror shows you (x in the preview).")
@click.option("--mjpg/--no-mjpg", default=True, show_default=True,
              help="Ask the camera for MJPG, which USB cameras need for 720p and above at 30 fps.")
@click.option("--virtual-camera/--no-virtual-camera", "virtual_camera", default=None,
              help="Send to a virtual camera (default: on, unless --preview or --record is "
              "given alone).")
@click.option("--vcam-device", help="Virtual camera device, e.g. /dev/video10 (default: first).")
@click.option("--preview", is_flag=True, help=f"Show a preview window; {HELP}.")
@click.option("--record", type=click.Path(dir_okay=False, path_type=Path),
              help="Also record the result to this file (.mp4, .mkv, .webm).")
@click.option("--audio", "audio_device", metavar="DEVICE",
              help="With --record: record this microphone (default, hw:1, alsa:NAME, "
              "pulse:NAME, avfoundation::0, dshow:audio=NAME) instead of the source's sound.")
@click.option("--backgrounds", type=click.Path(file_okay=False, path_type=Path),
              help="Folder of background images to step through with n/p in the preview.")
@effect_options
@matte_options
@click.option("--temporal/--no-temporal", default=True, show_default=True,
              help="Steady the mask over time with motion-aware smoothing (adds no delay).")
@framing_option
@lowlight_option
@click.option("--on-demand", is_flag=True,
              help="Linux: open the camera and process only while an application reads the "
              "virtual camera; otherwise idle with the camera released.")
@click.option("--idle-seconds", type=click.FloatRange(min=0), default=3.0, show_default=True,
              help="With --on-demand: how long after the last reader leaves to release the "
              "camera.")
@click.option("--skip-still/--no-skip-still", default=True, show_default=True,
              help="Reuse the last mask while nothing moves near your outline, saving CPU.")
@click.option("--stats", "show_stats", is_flag=True,
              help="Print frames/s, latency and per-stage ms every second.")
@click.option("--max-frames", type=click.IntRange(1), help="Stop after this many frames.")
@click.option("--duration", type=click.FloatRange(0, min_open=True),
              help="Stop after this many seconds.")
def camera(
    device: str,
    source: str | None,
    loop: bool,
    realtime: bool,
    width: int,
    height: int,
    fps: float,
    mirror: bool,
    mjpg: bool,
    virtual_camera: bool | None,
    vcam_device: str | None,
    preview: bool,
    record: Path | None,
    audio_device: str | None,
    backgrounds: Path | None,
    chosen: EffectArgs,
    adjust: MatteAdjust,
    temporal: bool,
    auto_frame: bool,
    low_light: float | None,
    on_demand: bool,
    idle_seconds: float,
    skip_still: bool,
    show_stats: bool,
    max_frames: int | None,
    duration: float | None,
) -> int:
    """Turn a camera into a virtual camera with a blurred or replaced background.

    Zoom, Meet, Teams or OBS then pick "greenroom" (or your v4l2loopback device) as their
    camera. Frames go to any mix of the virtual camera, a preview window and a recording. A slow
    moment never builds up delay: the newest frame always wins. Ctrl-C stops cleanly, keeping the
    recording playable and printing a summary.
    """
    given = chosen  # every file named, on the command line or in the config file, is protected
    chosen = command_line_effect_wins(chosen)
    effect = chosen.effect()
    if virtual_camera is None:
        virtual_camera = not (preview or record)
    if not (virtual_camera or preview or record):
        raise click.UsageError("nothing to send frames to: add --virtual-camera, --preview or "
                               "--record")
    if audio_device and not record:
        raise click.UsageError("--audio records a microphone into --record FILE; add --record")
    background_list = list_backgrounds(backgrounds)
    if record is not None:
        check_output(record, recording_inputs(source, background_list, given))

    if on_demand and not virtual_camera:
        raise click.UsageError("--on-demand starts the camera when an application reads the "
                               "virtual camera; add --virtual-camera")

    def open_frames() -> LiveFileSource | CameraSource:
        if source is not None and "://" in source:  # a stream is a camera that OpenCV opens
            return CameraSource(CameraSettings(source, None, None, None, mjpg=False))
        if source is not None:
            return LiveFileSource(Path(source), loop=loop, realtime=realtime)
        return CameraSource(CameraSettings(parse_device(device), width, height, fps, mjpg))

    def announce(active: bool) -> None:
        state = "an application is reading: camera on" if active else "no readers: camera off"
        click.echo(f"greenroom: {state}", err=True)

    frames: LiveFileSource | CameraSource | OnDemandSource = (
        OnDemandSource(open_frames, idle_seconds=idle_seconds, on_change=announce)
        if on_demand else open_frames()
    )
    framer = AutoFramer()
    framer.enabled = auto_frame  # the `a` key turns it on and off while running
    processor = chosen.processor(effect, temporal=temporal, skip_still=skip_still, adjust=adjust,
                                 framing=framer, enhancer=make_enhancer(low_light))
    mirroring = Mirror(mirror)
    stats = PipelineStats()
    sinks: list[Sink] = []
    microphone: MicrophoneFeed | None = None
    with processor, stop_on_signals() as stop:
        try:
            if record:
                # A microphone if asked; else a file's own sound (OpenCV gives a stream or a
                # camera none to keep).
                audio: AudioFeed | None = None
                if audio_device:
                    audio = microphone = MicrophoneFeed(audio_device)
                elif isinstance(frames, LiveFileSource):
                    audio = frames.audio_feed()
                sinks.append(RecordingSink(record, frames.width, frames.height, frames.fps,
                                           audio=audio))
            if virtual_camera:
                vcam = VirtualCameraSink(frames.width, frames.height, frames.fps, vcam_device)
                click.echo(f"greenroom: sending to virtual camera {vcam.device}", err=True)
                sinks.append(vcam)
                if isinstance(frames, OnDemandSource):
                    frames.readers = DeviceReaders(vcam.device)
            if preview:
                controls = LiveControls(processor, background_list,
                                        parse_color(chosen.color) if chosen.color else (0, 177, 64),
                                        mirror=mirroring)
                sinks.append(WindowSink(controls, stats, stop))
        except GreenroomError:
            for sink in sinks:
                abort = getattr(sink, "abort", sink.close)
                abort()
            frames.close()
            if microphone is not None:
                microphone.close()
            raise

        last_report = time.perf_counter()

        def after_each(item: FrameItem, current: PipelineStats) -> None:
            nonlocal last_report
            now = time.perf_counter()
            if max_frames and current.frames_out >= max_frames:
                stop.set()
            if show_stats and now - last_report >= 1.0:
                last_report = now
                click.echo(f"greenroom: {current.summary()}", err=True)

        output = FrameLimit(TeeSink(sinks), max_frames)
        pipeline = StreamPipeline(processor, mirroring.frames(frames), output, live=True,
                                  stats=stats, stop=stop, on_output=after_each)
        # A timer rather than a check per frame: --duration must end the run even while the
        # camera delivers nothing (a stalled device, a stream that went quiet).
        timer = threading.Timer(duration, stop.set) if duration else None
        if timer is not None:
            timer.daemon = True
            timer.start()
        try:
            pipeline.run()
        finally:
            if timer is not None:
                timer.cancel()
            if microphone is not None:
                microphone.close()
        stats.frames_out = min(stats.frames_out, output.written)  # not the dropped extras

    click.echo(f"greenroom: {stats.summary()}", err=True)
    for sink in sinks:
        if isinstance(sink, RecordingSink) and sink.path:
            click.echo(f"greenroom: recorded {sink.path}", err=True)
    lost = getattr(frames, "lost", None)
    if lost:
        click.echo(f"greenroom: error: {lost}", err=True)
        return 1
    return 130 if stop.signalled else 0
