"""`greenroom image`: photos and folders of photos."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from tqdm import tqdm

from greenroom.atomic import remove_stale_temps
from greenroom.cli.config import config_option
from greenroom.cli.guard import Input, check_output, effect_inputs
from greenroom.cli.matte_options import matte_options
from greenroom.cli.options import EffectArgs, effect_options
from greenroom.jobs.photos import is_single_photo, plan_photos, process_photos
from greenroom.matte import MatteAdjust
from greenroom.pipeline.stats import plural
from greenroom.sinks.images import FORMATS

#: Batches longer than this get a progress bar.
PROGRESS_MIN_FILES = 3


@click.command("image")
@config_option
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(path_type=Path),
    help="Output file (one input) or folder (several inputs or a folder; created if missing). "
    "The file ending picks the format: .png .jpg .webp .bmp .tif.",
)
@effect_options
@matte_options
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["png", "jpg", "webp", "tif", "bmp"]),
    help="Format of the files written into an output folder (default: PNG for --mask and "
    "--transparent, else the input's format).",
)
@click.option("--quality", type=click.IntRange(1, 100), default=95, show_default=True,
              help="JPEG/WebP quality.")
@click.option("--force", is_flag=True,
              help="Allow an output to overwrite its own input photo (never a background, "
              "config or model file).")
def image(
    inputs: tuple[Path, ...],
    output: Path,
    chosen: EffectArgs,
    adjust: MatteAdjust,
    fmt: str | None,
    quality: int,
    force: bool,
) -> int:
    """Blur, replace or remove the background of photos.

    INPUTS are image files or folders (every image inside is processed). With one input file,
    -o names the output file; otherwise -o is a folder and each output keeps its input's name
    (in/00002.jpg -> out/00002.png with --mask). Files that fail are reported and skipped; the
    exit status is 1 if any failed.
    """
    others = effect_inputs(chosen.background, chosen.model)  # protected, wherever named
    effect = chosen.effect()
    single = is_single_photo(inputs, output)
    if single:
        # Before any work: nothing is written on a clash.
        check_output(output, [Input("input photo", inputs[0], forceable=True), *others], force)
    elif output.suffix.lower() in FORMATS and not output.is_dir():
        raise click.UsageError(
            f"{output} looks like a file, but several inputs or a folder need an output folder"
        )
    jobs = plan_photos(inputs, output, effect.channels, fmt)
    photos = [Input("input photo", source) for source, _ in jobs]

    def check(source: Path, target: Path) -> None:
        # Any photo of the batch, not only this one: a.jpg -> out/a.png must not replace an
        # input out/a.png processed before or after it.
        own = Input("input photo", source, forceable=True)
        check_output(target, [own, *(p for p in photos if p.path != source), *others], force)

    remove_stale_temps(output if not single else output.parent)
    with chosen.processor(effect, adjust=adjust) as processor:
        progress = tqdm(jobs, unit="image", file=sys.stderr,
                        disable=None if len(jobs) > PROGRESS_MIN_FILES else True)
        failures = process_photos(
            processor, progress, quality, check,
            lambda exc: progress.write(f"greenroom: error: {exc}", file=sys.stderr),
        )
    click.echo(f"greenroom: {batch_summary(len(jobs), failures, output, single)}", err=True)
    return 1 if failures else 0


def batch_summary(total: int, failures: int, output: Path, single: bool) -> str:
    """'wrote out.jpg' for one photo; 'N of M images written to DIR, K failed' for a batch."""
    if single:
        return f"wrote {output}" if not failures else f"{output} not written"
    done = total - failures
    summary = f"{done} of {total} {plural(total, 'image')} written to {output}"
    return summary + (f", {failures} failed" if failures else "")
