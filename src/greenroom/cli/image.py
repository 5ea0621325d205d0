"""`greenroom image`: photos and folders of photos."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from tqdm import tqdm

from greenroom.cli.options import EffectArgs, effect_options
from greenroom.errors import GreenroomError, OutputError
from greenroom.sinks.images import FORMATS, check_output_path, write_image
from greenroom.sources.images import expand_inputs, read_image

#: Batches longer than this get a progress bar.
PROGRESS_MIN_FILES = 3


def output_suffix(source: Path, channels: int, chosen: str | None) -> str:
    """The file ending for one output in a folder: --format, else the input's, else PNG.

    Mattes and transparent results default to PNG since JPEG has no alpha and is lossy.
    """
    if chosen:
        return "." + chosen.lower().lstrip(".")
    if channels in (1, 4):
        return ".png"
    suffix = source.suffix.lower()
    return suffix if suffix in FORMATS else ".png"


def same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and a.samefile(b)
    except OSError:
        return False


@click.command("image")
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
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["png", "jpg", "webp", "tif", "bmp"]),
    help="Format of the files written into an output folder (default: PNG for --mask and "
    "--transparent, else the input's format).",
)
@click.option("--quality", type=click.IntRange(1, 100), default=95, show_default=True,
              help="JPEG/WebP quality.")
@click.option("--force", is_flag=True, help="Allow an output to overwrite its own input.")
def image(
    inputs: tuple[Path, ...],
    output: Path,
    chosen: EffectArgs,
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
    effect = chosen.effect()
    single = (
        len(inputs) == 1 and not inputs[0].is_dir() and output.suffix.lower() in FORMATS
    )
    if single:
        jobs = [(inputs[0], check_output_path(output, effect.channels))]
    else:
        if output.suffix.lower() in FORMATS and not output.is_dir():
            raise click.UsageError(
                f"{output} looks like a file, but several inputs or a folder need an output folder"
            )
        if output.exists() and not output.is_dir():
            raise OutputError(output, "exists and is not a folder")
        try:
            output.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(output, f"cannot create folder: {exc.strerror or exc}") from None
        jobs = [
            (source, output / (source.stem + output_suffix(source, effect.channels, fmt)))
            for source in expand_inputs(inputs)
        ]
        if not jobs:
            raise GreenroomError(f"{', '.join(map(str, inputs))}: no images found")

    failures = 0
    written: dict[Path, Path] = {}
    with chosen.processor(effect) as processor:
        progress = tqdm(
            jobs,
            unit="image",
            file=sys.stderr,
            disable=None if len(jobs) > PROGRESS_MIN_FILES else True,
        )
        for source, target in progress:
            try:
                if same_file(source, target) and not force:
                    raise OutputError(target, "is the input file; refusing to overwrite it "
                                      "(use --force to allow)")
                if target.resolve() in written:
                    raise OutputError(target, f"already written from {written[target.resolve()]}"
                                      "; inputs with the same name need separate runs")
                result = processor.process(read_image(source))
                write_image(target, result, quality=quality)
                written[target.resolve()] = source
            except GreenroomError as exc:
                failures += 1
                progress.write(f"greenroom: error: {exc}", file=sys.stderr)
    done = len(jobs) - failures
    where = output if not single else jobs[0][1]
    summary = f"greenroom: {done} of {len(jobs)} image{'s' * (len(jobs) != 1)} written to {where}"
    click.echo(summary + (f", {failures} failed" if failures else ""), err=True)
    return 1 if failures else 0
