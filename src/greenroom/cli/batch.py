"""`greenroom batch`: folders of videos and photos, on all cores or a Ray cluster."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import click

from greenroom.cli.config import config_option
from greenroom.cli.guard import Input, check_outputs, effect_inputs
from greenroom.cli.matte_options import matte_options
from greenroom.cli.options import (
    EffectArgs,
    effect_options,
    encoding_options,
    framing_option,
    load_model,
)
from greenroom.cli.progress import LateBar
from greenroom.jobs import storage
from greenroom.jobs.batch import plan_batch, run_tasks
from greenroom.jobs.manifest import Record
from greenroom.jobs.plan import Task
from greenroom.jobs.settings import Encoding, JobSettings
from greenroom.matte import MatteAdjust


def job_settings(chosen: EffectArgs, **encoding: object) -> JobSettings:
    """The CLI's choices as plain data for the workers, with the background made absolute."""
    background = chosen.spec.background
    if background is not None and not storage.is_url(background):
        background = str(Path(background).expanduser().resolve())
    return JobSettings(
        effect=replace(chosen.spec, background=background),
        model=chosen.model, matte_quality=chosen.matte_quality, refine=chosen.refine,
        threads=chosen.threads,
        models_dir=str(Path(chosen.models_dir).resolve()) if chosen.models_dir else None,
        providers=chosen.provider, **encoding,  # type: ignore[arg-type]
    )


def check_batch_outputs(tasks: list[Task], chosen: EffectArgs) -> None:
    """No result may land on an input: a photo named twice, the background, the config, a model."""
    local = [t for t in tasks if not storage.is_url(t.input)]
    check_outputs(
        (Path(t.output) for t in tasks if not storage.is_url(t.output)),
        [*effect_inputs(chosen.background, chosen.model),
         *(Input("photo" if t.kind == "image" else "video", Path(t.input)) for t in local)],
    )


class FileBar(LateBar):
    """One bar over a batch's files, with the frames per second so far; errors above it."""

    def __init__(self, enabled: bool) -> None:
        super().__init__(enabled, "file")
        self.frames = 0

    def start(self, total: int | None) -> None:
        if total:
            super().start(total)

    def finished(self, record: Record) -> None:
        self.frames += record.frames
        if record.status != "done":
            self.write(f"greenroom: error: {record.error}")
        if self.bar is not None:
            elapsed = self.bar.format_dict.get("elapsed") or 0
            self.bar.set_postfix_str(f"{self.frames / elapsed:.1f} frames/s" if elapsed else "")
            self.bar.update(1)


@click.command("batch")
@config_option
@click.argument("inputs", nargs=-1, required=True)
@click.option("-o", "--output", required=True,
              help="Output folder (or fsspec URL such as s3://bucket/out/): the input tree is "
              "mirrored under it.")
@effect_options
@matte_options
@encoding_options
@framing_option
@click.option("--format", "fmt", type=click.Choice(["png", "jpg", "webp", "tif", "bmp"]),
              help="Format of photo results (default: PNG for --mask and --transparent, else "
              "the input's).")
@click.option("--quality", type=click.IntRange(1, 100), default=95, show_default=True,
              help="JPEG/WebP quality of photo results.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Worker processes (default: one per core, as memory allows; each with "
              "--threads inference threads, default cores / workers).")
@click.option("--ray", "ray_address", metavar="auto|ADDRESS", default=None,
              help="Run on a Ray cluster instead of local workers: 'auto' joins the cluster "
              "this machine belongs to. Needs greenroom[cluster].")
@click.option("--manifest", "manifest_path", type=click.Path(dir_okay=False, path_type=Path),
              help="The JSONL manifest (default: greenroom-batch.jsonl in the output folder).")
@click.option("--progress/--no-progress", default=True, show_default=True,
              help="Show one progress bar over all files.")
def batch(
    inputs: tuple[str, ...],
    output: str,
    chosen: EffectArgs,
    adjust: MatteAdjust,
    encoding: Encoding,
    auto_frame: bool,
    fmt: str | None,
    quality: int,
    workers: int | None,
    ray_address: str | None,
    manifest_path: Path | None,
    progress: bool,
) -> int:
    """Process many videos and photos: a mirrored output tree, a manifest, resume, all cores.

    INPUTS are files, folders (searched recursively for videos and photos) and glob patterns.
    Each result goes to the same place under -o as its input under the folder named. A rerun
    skips files whose result is complete and whose input and settings are unchanged, so a batch
    stopped by Ctrl-C or a crash finishes by running it again. A file that fails is recorded in
    the manifest and the batch goes on; the exit status is 1 if any file failed.
    """
    if storage.is_url(output) and manifest_path is None:
        raise click.UsageError("an output URL needs --manifest PATH (a local file)")
    chosen.effect()  # a bad background or colour fails now, not in every worker
    if chosen.matte_quality is not None and chosen.model != "auto":
        raise click.UsageError("give --matte-quality or --model, not both")
    if ray_address is None and chosen.matte_quality is None:
        # Downloads a catalogue model once, before the workers.
        load_model(chosen.model_request()).close()
    settings = job_settings(
        chosen, adjust=adjust if adjust.active else None, crf=encoding.crf,
        preset=encoding.preset, temporal=encoding.temporal, auto_frame=auto_frame,
        image_format=fmt, image_quality=quality,
    )
    bar = FileBar(progress)
    tasks = plan_batch(inputs, output, settings)
    check_batch_outputs(tasks, chosen)
    try:
        summary = run_tasks(
            tasks, output, settings, workers=workers, threads=chosen.threads,
            ray_address=ray_address, manifest_path=manifest_path, on_start=bar.start,
            on_record=bar.finished,
        )
    finally:
        bar.close()
    where = manifest_path or Path(output) / "greenroom-batch.jsonl"
    click.echo(f"greenroom: batch: {summary.line()}; manifest {where}", err=True)
    return 1 if summary.failed else 0
