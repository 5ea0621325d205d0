"""`greenroom video`: a recorded video in, the same video with its background changed out."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from tqdm import tqdm

from greenroom.cli.config import command_line_effect_wins, config_option
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
from greenroom.cli.signals import stop_on_signals
from greenroom.frames import Frame
from greenroom.jobs.convert import convert_video
from greenroom.matte import MatteAdjust
from greenroom.pipeline.stats import PipelineStats, plural
from greenroom.sinks.video import is_sequence_path, sequence_layout
from greenroom.sources.video import VideoInfo


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
    crf: int | None,
    preset: str,
    temporal: bool,
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
    if chosen.transparent and not (is_sequence_path(output) or webm):
        raise click.UsageError("--transparent needs a .webm output or a PNG sequence (out/)")
    # Every file named, on the command line or in the config file, is protected.
    inputs = [Input("input video", input_path), *effect_inputs(chosen.background, chosen.model)]
    chosen = command_line_effect_wins(chosen)
    if is_sequence_path(output):
        check_sequence(*sequence_layout(output), inputs)
    else:
        check_output(Path(output), inputs)
    effect = chosen.effect()
    bar: tqdm | None = None

    def start(info: VideoInfo) -> None:
        nonlocal bar
        if progress:
            bar = tqdm(total=info.frame_count or None, unit="frame", file=sys.stderr,
                       dynamic_ncols=True, disable=None)

    def advance(item: Frame, stats: PipelineStats) -> None:
        if bar is not None:
            bar.update(1)

    enhancer = make_enhancer(low_light, chosen.models_dir)
    processor = chosen.processor(effect, temporal=temporal, adjust=adjust,
                                 framing=auto_frame, enhancer=enhancer)
    with processor, stop_on_signals() as stop:
        try:
            # WebM holds only Opus/Vorbis audio; rather than refuse a transparent WebM of
            # an MP4 with AAC sound, re-encode the sound to Opus and say so (a warning).
            result = convert_video(input_path, output, processor, crf=crf, preset=preset,
                                   unsupported_audio="transcode", stop=stop, lookahead=temporal,
                                   on_start=start, on_output=advance)
        finally:
            if bar is not None:
                bar.close()
    done = result.stats.summary(live=False)
    if result.skipped:
        done += f", {result.skipped} unreadable {plural(result.skipped, 'packet')} skipped"
    if result.output is None:  # stopped before the first frame: no file was created
        click.echo(f"greenroom: {output} not written: {done}", err=True)
    else:
        click.echo(f"greenroom: wrote {result.output}: {done}", err=True)
    if stop.signalled:
        click.echo("greenroom: stopped early; the file holds what was processed", err=True)
        return 130
    return 0
