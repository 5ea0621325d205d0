"""`greenroom video`: a recorded video in, the same video with its background changed out."""

from __future__ import annotations

from pathlib import Path

import click

from greenroom.cli.config import config_option
from greenroom.cli.guard import Input, check_output, check_sequence, effect_inputs
from greenroom.cli.matte_options import matte_options
from greenroom.cli.options import (
    EffectArgs,
    effect_options,
    encoding_options,
    framing_option,
    lowlight_option,
    make_enhancer,
)
from greenroom.cli.progress import LateBar
from greenroom.cli.signals import stop_on_signals
from greenroom.jobs.convert import ConvertResult, convert_video
from greenroom.jobs.settings import Encoding
from greenroom.matte import MatteAdjust
from greenroom.pipeline.stats import plural
from greenroom.sinks.video import is_sequence_path, sequence_layout


@click.command("video")
@config_option
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(),  # a str: a trailing "/" (PNG sequence) must survive
    help="Output video (.mp4 .mov .mkv: H.264; .webm: VP9, with alpha for --transparent) or a "
    "PNG sequence (a folder ending in / or a pattern such as out/%05d.png).",
)
@effect_options
@matte_options
@encoding_options
@framing_option
@lowlight_option
@click.option("--progress/--no-progress", default=True, show_default=True,
              help="Show a progress bar with frames/s and time left.")
def video(
    input_path: Path,
    output: str,
    chosen: EffectArgs,
    adjust: MatteAdjust,
    encoding: Encoding,
    auto_frame: bool,
    low_light: float | None,
    progress: bool,
) -> int:
    """Blur, replace or remove the background of a video file.

    Reads anything FFmpeg reads. Every frame keeps its timestamp (variable frame rate too), the
    rotation metadata is kept, and the audio streams are copied unchanged. --mask writes the
    matte as a grayscale video of the same size and frame count. Frames that cannot be decoded
    are skipped and counted; Ctrl-C stops early and keeps a playable file.
    """
    webm = Path(output).suffix.lower() == ".webm"
    if chosen.spec.transparent and not (is_sequence_path(output) or webm):
        raise click.UsageError("--transparent needs a .webm output or a PNG sequence (out/)")
    # Every file named, on the command line or in the config file, is protected.
    inputs = [Input("input video", input_path), *effect_inputs(chosen.background, chosen.model)]
    if is_sequence_path(output):
        check_sequence(*sequence_layout(output), inputs)
    else:
        check_output(Path(output), inputs)
    effect = chosen.effect()
    bar = LateBar(progress, "frame")
    enhancer = make_enhancer(low_light, chosen.models_dir)
    processor = chosen.processor(effect, temporal=encoding.temporal, adjust=adjust,
                                 framing=auto_frame, enhancer=enhancer)
    with processor, stop_on_signals() as stop:
        try:
            # WebM holds only Opus/Vorbis audio; rather than refuse a transparent WebM of
            # an MP4 with AAC sound, re-encode the sound to Opus and say so (a warning).
            result = convert_video(input_path, output, processor, crf=encoding.crf,
                                   preset=encoding.preset, unsupported_audio="transcode",
                                   stop=stop, lookahead=encoding.temporal,
                                   on_start=lambda info: bar.start(info.frame_count),
                                   on_output=bar.advance)
        finally:
            bar.close()
    return report(result, output, stop.signalled)


def report(result: ConvertResult, output: str, stopped: bool) -> int:
    """Say what was written (or not) and how it went; the exit status (130: stopped by a signal)."""
    done = result.stats.summary(live=False)
    if result.skipped:
        done += f", {result.skipped} unreadable {plural(result.skipped, 'packet')} skipped"
    if result.output is None:  # stopped before the first frame: no file was created
        click.echo(f"greenroom: {output} not written: {done}", err=True)
    else:
        click.echo(f"greenroom: wrote {result.output}: {done}", err=True)
    if stopped:
        click.echo("greenroom: stopped early; the file holds what was processed", err=True)
        return 130
    return 0
