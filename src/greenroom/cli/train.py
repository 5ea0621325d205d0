"""`greenroom train`: train, fine-tune or distil greenroom's small segmentation network."""

from __future__ import annotations

from pathlib import Path

import click

from greenroom.extras import require_extra

_DIR = click.Path(file_okay=False, path_type=Path)


def _width_height(ctx: click.Context, param: click.Parameter, value: str) -> tuple[int, int]:
    """`--size WxH` -> (width, height), or a one-line usage error."""
    try:
        width, height = (int(v) for v in value.lower().split("x"))
    except ValueError:
        raise click.BadParameter(f"{value!r}: want WxH, e.g. 256x256",
                                 param_hint="--size") from None
    return width, height


@click.command("train")
@click.argument("datasets", nargs=-1, type=_DIR)
@click.option("-o", "--out", required=True, type=_DIR,
              help="Run folder: checkpoints, curves, teacher-label cache, model.onnx + .toml.")
@click.option("--unlabelled", "unlabelled", multiple=True,
              type=click.Path(exists=True, path_type=Path),
              help="Folder of frames or a video without masks, labelled by --teacher; repeatable.")
@click.option("--teacher", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="ONNX matting model that labels --unlabelled frames (MODNet or RVM).")
@click.option("--every", default=5, show_default=True, type=click.IntRange(1),
              help="Take every N-th frame of each unlabelled video or frame folder.")
@click.option("--exclude", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="File of names (one a line) never to train on. Default: the EG1800 held-out "
                   "tenth listed in the package; --exclude /dev/null uses every pair.")
@click.option("--size", default="256x256", show_default=True, metavar="WxH",
              callback=_width_height, help="Network input size, multiples of 32.")
@click.option("--net-width", default=1.0, show_default=True, type=click.FloatRange(0.25, 4),
              help="Channel multiplier of the network.")
@click.option("--net", default="portrait", show_default=True,
              type=click.Choice(["portrait", "selfie-general", "selfie-landscape",
                                 "greenroom-selfie+head", "selfie-general+head"]),
              help="portrait: greenroom's small network from scratch; selfie-*: fine-tune the "
                   "shipped MediaPipe model (its own input size; exports a .tflite); *+head: "
                   "that shipped .tflite frozen, plus a trained refinement head at 256x256 "
                   "(exports an .onnx).")
@click.option("--epochs", default=30, show_default=True, type=click.IntRange(1))
@click.option("--batch", default=8, show_default=True, type=click.IntRange(1))
@click.option("--lr", default=3e-3, show_default=True, type=click.FloatRange(min=0, min_open=True))
@click.option("--steps-per-epoch", type=click.IntRange(1),
              help="Steps per epoch (default: one pass over the training samples).")
@click.option("--val-fraction", default=0.1, show_default=True, type=click.FloatRange(0, 0.9))
@click.option("--patience", default=5, show_default=True, type=click.IntRange(1),
              help="Early stop after this many epochs without a better validation IoU.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--init", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Start from this checkpoint (fine-tuning), e.g. a previous run's best.pt.")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last.pt.")
@click.option("--no-loss", "no_loss", multiple=True,
              type=click.Choice(["bce", "iou", "boundary", "ohem"]),
              help="Switch a loss term off (ablation); repeatable.")
@click.option("--no-augment", "no_augment", multiple=True,
              type=click.Choice(["flip", "scale", "color", "blur", "background"]),
              help="Switch an augmentation off (ablation); repeatable.")
@click.option("--distill-weight", default=0.5, show_default=True, type=click.FloatRange(0),
              help="Weight of teacher-labelled samples relative to hand-labelled ones.")
@click.option("--keep-original", "keep", default=0.0, show_default=True,
              type=click.FloatRange(0),
              help="Weight of a loss that keeps the network close to its starting weights' "
                   "output on every view (fine-tuning without forgetting).")
@click.option("--threads", type=click.IntRange(1), help="CPU threads for PyTorch.")
@click.option("--device", help="torch device (default: cuda when present, else cpu).")
@click.option("--name", help="Display name written into the sidecar TOML.")
def train_command(datasets: tuple[Path, ...], out: Path, unlabelled: tuple[Path, ...],
                  teacher: Path | None, every: int, exclude: Path | None,
                  size: tuple[int, int], net_width: float, net: str,
                  epochs: int, batch: int, lr: float, steps_per_epoch: int | None,
                  val_fraction: float, patience: int, seed: int, init: Path | None,
                  resume: bool, no_loss: tuple[str, ...], no_augment: tuple[str, ...],
                  distill_weight: float, keep: float, threads: int | None, device: str | None,
                  name: str | None) -> int:
    """Train, fine-tune or distil greenroom's small segmentation network.

    Each DATASET folder holds images/ and masks/ (0 = background, 255 = person); --unlabelled
    frames and videos are labelled by a --teacher (distillation). Writes checkpoints and curves
    to --out, then model.onnx (model.tflite with --net selfie-*) with its sidecar model.toml:
    use it with --model and score it with greenroom eval (OUT/held-out links the excluded pairs,
    for exactly that).
    """
    require_extra("train", "greenroom train", ("torch",))
    from dataclasses import replace

    from greenroom.training import data
    from greenroom.training.augment import Augment
    from greenroom.training.loop import TrainConfig, train
    from greenroom.training.losses import LossWeights

    width, height = input_size(net, size)
    if not datasets and not unlabelled:
        raise click.UsageError("give at least one DATASET folder or --unlabelled source")
    if unlabelled and teacher is None:
        raise click.UsageError("--unlabelled needs --teacher")
    losses = replace(LossWeights(distill=distill_weight),
                     **{term: 0.0 for term in no_loss})
    names = data.read_name_list(exclude) if exclude else data.eg1800_holdout()
    config = TrainConfig(
        out=out, labelled=datasets, unlabelled=unlabelled, teacher=teacher, exclude=names,
        width=width, height=height, net_width=net_width, net=net, keep=keep, epochs=epochs,
        batch=batch, lr=lr,
        val_fraction=val_fraction, patience=patience, seed=seed, video_every=every,
        steps_per_epoch=steps_per_epoch, init=init, losses=losses,
        augment=Augment.without(no_augment), threads=threads, device=device,
    )
    result = train(config, resume=resume, log=lambda line: click.echo(line, err=True))
    model, held = publish(out, datasets, names, name or out.name)
    score = result["best"]
    click.echo(f"best epoch {score['epoch'] + 1}: validation IoU {score.get('val_iou', 0):.4f}; "
               f"wrote {model} and {model.with_suffix('.toml')}")
    if held:
        click.echo(f"{held} held-out pairs in {out / 'held-out'}: "
                   f"greenroom eval {out / 'held-out'} --model {model} --stage raw")
    return 0


def input_size(net: str, size: tuple[int, int]) -> tuple[int, int]:
    """(width, height) the network takes: --size for greenroom's own, a pretrained graph's own."""
    if net == "portrait":
        return size
    if net.endswith("+head"):
        return 256, 256  # both heads sit on a 256x256 selfie graph
    from greenroom.segmentation.mediapipe_selfie import VARIANTS
    from greenroom.training.selfie import SELFIE_NETS

    variant = VARIANTS[SELFIE_NETS[net]]
    return variant.width, variant.height


def publish(
    out: Path, datasets: tuple[Path, ...], excluded: list[str], name: str
) -> tuple[Path, int]:
    """Export the run's best checkpoint to OUT/model.onnx (+ .toml) and link the held-out pairs.

    The pairs training never saw go to OUT/held-out, a folder `greenroom eval` reads. Returns
    the model's path and how many pairs were held out.
    """
    from greenroom.training import data
    from greenroom.training.export import export_checkpoint

    held = [p for root in datasets for p in data.labelled_pairs(root) if p[0] in set(excluded)]
    if held:
        data.materialize_split(held, out / "held-out")
    return export_checkpoint(out / "best.pt", out / "model.onnx", name), len(held)
