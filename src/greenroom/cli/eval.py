"""`greenroom eval`: score segmentation stages against hand-labelled masks."""

from __future__ import annotations

import json
import sys
from functools import partial
from pathlib import Path
from typing import Any

import click
from tqdm import tqdm

from greenroom.cli.options import MODEL_HELP, load_model, model_options, validate_model
from greenroom.evaluation.runner import STAGES, Stage, evaluate
from greenroom.segmentation.request import ModelRequest

COLUMNS = [
    ("dataset", "dataset", "{}"),
    ("stage", "stage", "{}"),
    ("frames", "frames", "{}"),
    ("person_iou", "person IoU", "{:.4f}"),
    ("miou_2class", "2-class mIoU", "{:.4f}"),
    ("boundary_f", "boundary F", "{:.4f}"),
    ("mae", "MAE", "{:.4f}"),
    ("temporal_instability_pred", "instability", "{:.4f}"),
    ("temporal_instability_gt", "GT instability", "{:.4f}"),
    ("temporal_instability_excess", "excess", "{:.4f}"),
    ("ms_per_frame", "ms/frame", "{:.2f}"),
]


def markdown_table(rows: list[dict[str, Any]]) -> str:
    lines = ["| " + " | ".join(title for _, title, _ in COLUMNS) + " |",
             "|" + "---|" * len(COLUMNS)]
    for row in rows:
        cells = [fmt.format(row[key]) if row.get(key) is not None else "–"
                 for key, _, fmt in COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


@click.command("eval")
@click.argument("datasets", nargs=-1, type=click.Path(file_okay=False, path_type=Path))
@click.option("--sequence", "sequences", multiple=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="A video sequence (frames + per-frame masks), processed in order; repeatable.")
@click.option("--stage", "stages", multiple=True, type=click.Choice(list(STAGES)),
              help="Pipeline stage(s) to score (default: all).")
@click.option("--model", default="auto", show_default=True, metavar="NAME|PATH",
              callback=validate_model, help=MODEL_HELP)
@model_options
@click.option("--matte-quality", type=click.Choice(["fast", "balanced", "best"]),
              help="Score what --matte-quality does instead of a model and stages: its model "
              "and stages for photos (DATASET) and for video (--sequence).")
@click.option("--limit", type=click.IntRange(1), help="Use at most N pairs, spread evenly.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def eval_command(
    datasets: tuple[Path, ...],
    sequences: tuple[Path, ...],
    stages: tuple[str, ...],
    model: str,
    models_dir: str | None,
    provider: tuple[str, ...] | None,
    matte_quality: str | None,
    limit: int | None,
    as_json: bool,
) -> int:
    """Score person segmentation against ground-truth masks.

    Each DATASET (and --sequence) folder holds images/ and masks/ with matching names (masks:
    0 = background, 255 = person). Reports person IoU, 2-class mIoU, boundary F (3 px), MAE of
    the soft mask, for sequences the frame-to-frame instability of the prediction and of the
    ground truth, and milliseconds per frame (model + refinement).
    """
    if not datasets and not sequences:
        raise click.UsageError("give at least one DATASET folder or --sequence folder")
    if matte_quality and (stages or model != "auto"):
        raise click.UsageError("give --matte-quality, or --model and --stage, not both")
    chosen = [STAGES[name] for name in (stages or STAGES)]
    jobs = [(root, False) for root in datasets] + [(root, True) for root in sequences]
    rows = []
    for root, is_sequence in jobs:
        job_model, job_stages = model, chosen
        if matte_quality:
            job_model, job_stages = quality_job(matte_quality, is_sequence)
        request = ModelRequest(job_model, None, models_dir, provider)
        rows += score_folder(root, job_stages, request, is_sequence, limit)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    else:
        click.echo(markdown_table(rows))
    return 0


def score_folder(root: Path, stages: list[Stage], request: ModelRequest, is_sequence: bool,
                 limit: int | None) -> list[dict[str, Any]]:
    """One row a stage for one dataset or sequence folder, with a progress bar while it runs."""
    rows = []
    for stage in stages:
        if stage.temporal and not is_sequence:
            continue  # unrelated photos have no time axis to smooth along
        bar = tqdm(desc=f"{root.name} {stage.name}", unit="frame", file=sys.stderr,
                   disable=None, leave=False)

        def tick(done: int, total: int, bar: tqdm = bar) -> None:
            bar.total = total
            bar.update(1)

        try:
            rows.append(evaluate(root, stage, model=partial(load_model, request),
                                 sequence=is_sequence, limit=limit, progress=tick))
        finally:
            bar.close()
    return rows


def quality_job(quality: str, is_sequence: bool) -> tuple[str, list[Stage]]:
    """The model and the one stage that `--matte-quality` runs on photos or on a video file
    (whose look-ahead comes with the temporal stage, as in `greenroom video`)."""
    from greenroom.segmentation.quality import plan

    chosen = plan(quality, "video" if is_sequence else "photo")
    stage = Stage(f"{quality} ({chosen.model})", refine=chosen.refine,
                  temporal=chosen.temporal, lookahead=chosen.temporal)
    return chosen.model, [stage]
