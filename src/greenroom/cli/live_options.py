"""The camera command's option groups, each handed to the command as one request object.

`--device/--source/...` become a `SourceRequest`, `--virtual-camera/--preview/--record/...` an
`OutputRequest`, `--max-frames/--duration/--stats` a `LiveLimits`: the live job's own types, so
the command only checks them and passes them on.
"""

from __future__ import annotations

from pathlib import Path

import click

from greenroom.cli.options import bundle
from greenroom.jobs.live import LiveLimits, OutputRequest, SourceRequest
from greenroom.pipeline.controls import HELP

source_options = bundle("frames", SourceRequest, (
    "device", "source", "loop", "realtime", "width", "height", "fps", "mjpg", "on_demand",
    "idle_seconds",
), [
    click.option("--device", default="0", show_default=True,
                 help="Camera index (0, 1, ...), device path (/dev/video2) or stream URL."),
    click.option("--source",
                 help="Play this video file as the camera instead (no camera needed), or read "
                 "a network stream (rtsp://, http://, ...) live."),
    click.option("--loop", is_flag=True, help="With --source: start again at the end."),
    click.option("--realtime/--no-realtime", default=True, show_default=True,
                 help="With --source: release frames at their recorded pace, like a camera."),
    click.option("--width", type=click.IntRange(16), default=1280, show_default=True,
                 help="Frame width to ask the camera for, in pixels (it may pick the nearest "
                 "it supports)."),
    click.option("--height", type=click.IntRange(16), default=720, show_default=True,
                 help="Frame height to ask the camera for, in pixels."),
    click.option("--fps", type=click.FloatRange(1, 240), default=30.0, show_default=True,
                 help="Frames per second to ask the camera for."),
    click.option("--mjpg/--no-mjpg", default=True, show_default=True,
                 help="Ask the camera for MJPG, which USB cameras need for 720p and above at "
                 "30 fps."),
    click.option("--on-demand", is_flag=True,
                 help="Linux: open the camera and process only while an application reads the "
                 "virtual camera; otherwise idle with the camera released."),
    click.option("--idle-seconds", type=click.FloatRange(min=0), default=3.0, show_default=True,
                 help="With --on-demand: how long after the last reader leaves to release the "
                 "camera."),
])


def _outputs(virtual_camera: bool | None, vcam_device: str | None, preview: bool,
             record: Path | None, audio_device: str | None,
             backgrounds: Path | None) -> OutputRequest:
    from greenroom.pipeline.controls import list_backgrounds

    if virtual_camera is None:
        virtual_camera = not (preview or record)
    if not (virtual_camera or preview or record):
        raise click.UsageError("nothing to send frames to: add --virtual-camera, --preview or "
                               "--record")
    if audio_device and not record:
        raise click.UsageError("--audio records a microphone into --record FILE; add --record")
    return OutputRequest(virtual_camera, vcam_device, preview, record, audio_device,
                         tuple(list_backgrounds(backgrounds)))


output_options = bundle("outputs", _outputs, (
    "virtual_camera", "vcam_device", "preview", "record", "audio_device", "backgrounds",
), [
    click.option("--virtual-camera/--no-virtual-camera", "virtual_camera", default=None,
                 help="Send to a virtual camera (default: on, unless --preview or --record is "
                 "given alone)."),
    click.option("--vcam-device", help="Virtual camera device, e.g. /dev/video10 (default: "
                 "first)."),
    click.option("--preview", is_flag=True, help=f"Show a preview window; {HELP}."),
    click.option("--record", type=click.Path(dir_okay=False, path_type=Path),
                 help="Also record the result to this file (.mp4, .mkv, .webm)."),
    click.option("--audio", "audio_device", metavar="DEVICE",
                 help="With --record: record this microphone (default, hw:1, alsa:NAME, "
                 "pulse:NAME, avfoundation::0, dshow:audio=NAME) instead of the source's "
                 "sound."),
    click.option("--backgrounds", type=click.Path(file_okay=False, path_type=Path),
                 help="Folder of background images to step through with n/p in the preview."),
])


def _limits(show_stats: bool, max_frames: int | None, duration: float | None) -> LiveLimits:
    return LiveLimits(max_frames, duration, 1.0 if show_stats else None)


limit_options = bundle("limits", _limits, ("show_stats", "max_frames", "duration"), [
    click.option("--stats", "show_stats", is_flag=True,
                 help="Print frames/s, latency and per-stage ms every second."),
    click.option("--max-frames", type=click.IntRange(1), help="Stop after this many frames."),
    click.option("--duration", type=click.FloatRange(0, min_open=True),
                 help="Stop after this many seconds."),
])
