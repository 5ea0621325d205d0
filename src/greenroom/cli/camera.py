"""`greenroom camera`: a live camera (or a clip played live) into a virtual camera, window, file.

The command checks what was asked and hands it to the live job (`jobs.live`), where the run is
assembled.
"""

from __future__ import annotations

from dataclasses import replace

import click

from greenroom.cli.config import config_option
from greenroom.cli.guard import Input, check_output, effect_inputs
from greenroom.cli.live_options import limit_options, output_options, source_options
from greenroom.cli.matte_options import matte_options
from greenroom.cli.options import (
    EffectArgs,
    effect_options,
    framing_option,
    lowlight_option,
    make_enhancer,
)
from greenroom.cli.signals import stop_on_signals
from greenroom.compositing.framing import AutoFramer
from greenroom.jobs.live import (
    LiveLimits,
    OutputRequest,
    SourceRequest,
    open_live_source,
    run_camera,
)
from greenroom.matte import MatteAdjust


def say(message: str) -> None:
    click.echo(f"greenroom: {message}", err=True)


def recording_inputs(frames: SourceRequest, outputs: OutputRequest,
                     chosen: EffectArgs) -> list[Input]:
    """Every file the camera command reads, none of which `--record` may replace."""
    found = effect_inputs(chosen.background, chosen.model)
    if frames.file is not None:
        found.append(Input("source video", frames.file))
    found.extend(Input("background image", path) for path in outputs.backgrounds)
    return found


def checked_outputs(frames: SourceRequest, outputs: OutputRequest,
                    chosen: EffectArgs) -> OutputRequest:
    """`outputs`, checked against the source and the inputs, with the effect asked for (the
    preview's keys start from it)."""
    if frames.on_demand and not outputs.virtual_camera:
        raise click.UsageError("--on-demand starts the camera when an application reads the "
                               "virtual camera; add --virtual-camera")
    if outputs.record is not None:  # every file named, here or in the config, is protected
        check_output(outputs.record, recording_inputs(frames, outputs, chosen))
    return replace(outputs, spec=chosen.spec)


@click.command("camera")
@config_option
@source_options
@click.option("--mirror/--no-mirror", default=False, show_default=True,
              help="Flip the picture left to right, as a mirror shows you (x in the preview).")
@output_options
@effect_options
@matte_options
@click.option("--temporal/--no-temporal", default=True, show_default=True,
              help="Steady the mask over time with motion-aware smoothing (adds no delay).")
@framing_option
@lowlight_option
@click.option("--skip-still/--no-skip-still", default=True, show_default=True,
              help="Reuse the last mask while nothing moves near your outline, saving CPU.")
@limit_options
def camera(frames: SourceRequest, mirror: bool, outputs: OutputRequest, chosen: EffectArgs,
           adjust: MatteAdjust, temporal: bool, auto_frame: bool, low_light: float | None,
           skip_still: bool, limits: LiveLimits) -> int:
    """Turn a camera into a virtual camera with a blurred or replaced background.

    Zoom, Meet, Teams or OBS then pick "greenroom" (or your v4l2loopback device) as their
    camera. Frames go to any mix of the virtual camera, a preview window and a recording. A slow
    moment never builds up delay: the newest frame always wins. Ctrl-C stops cleanly, keeping the
    recording playable and printing a summary.
    """
    effect = chosen.effect()
    outputs = checked_outputs(frames, outputs, chosen)
    source = open_live_source(frames, say)
    framer = AutoFramer()
    framer.enabled = auto_frame  # the `a` key turns it on and off while running
    try:
        processor = chosen.processor(effect, temporal=temporal, skip_still=skip_still,
                                     adjust=adjust, framing=framer,
                                     enhancer=make_enhancer(low_light, chosen.models_dir))
    except BaseException:
        source.close()
        raise
    with processor, stop_on_signals() as stop:
        outcome = run_camera(source, outputs, processor, limits, mirror=mirror, stop=stop,
                             say=say)
    say(outcome.stats.summary())
    if outcome.recorded:
        say(f"recorded {outcome.recorded}")
    if outcome.lost:
        say(f"error: {outcome.lost}")
        return 1
    return 130 if stop.signalled else 0
