"""`greenroom models`: list, describe and download the segmentation models of the zoo."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from tqdm import tqdm

from greenroom.errors import GreenroomError
from greenroom.segmentation import MODEL_SUFFIXES, registry
from greenroom.segmentation.specs import SIDECAR_KEYS

_DIR_OPTION = click.option(
    "--models-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Models folder (default: $GREENROOM_MODELS, else the user cache folder).",
)


def _size(size: int) -> str:
    return f"{size / 1e6:.2f} MB" if size >= 1e6 else f"{size / 1e3:.0f} KB"


def _state(info: registry.ModelInfo, folder: Path | None) -> str:
    if info.builtin:
        return "built-in" if registry.is_available(info) else "missing: reinstall greenroom"
    return "cached" if registry.is_available(info, folder) else "not downloaded"


@click.group("models")
def models() -> None:
    """List, describe and download segmentation models (use them with --model NAME)."""


@models.command("list")
@_DIR_OPTION
def list_models(models_dir: Path | None) -> None:
    """One line per model: name, backend, input size, file size, speed, license, state."""
    rows = [("NAME", "BACKEND", "INPUT", "SIZE", "SPEED", "LICENSE", "STATE")]
    for info in registry.MODELS.values():
        spec = info.spec
        if spec is not None and spec.keep_aspect:
            size_in = f"<={max(spec.width, spec.height)}"
        elif spec is not None:
            size_in = f"{spec.width}x{spec.height}"
        elif info.input_size is not None:  # a built-in model
            size_in = "{}x{}".format(*info.input_size)
        else:
            size_in = "any"  # recurrent: any frame size
        rows.append((
            info.name,
            info.backend,
            size_in,
            _size(info.size),
            info.speed,
            info.license.split(" (")[0],
            _state(info, models_dir),
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    click.echo(f"\nmodels folder: {registry.models_dir(models_dir)}; 'auto' (the default) picks "
               "selfie-landscape for wide frames and selfie-general otherwise.")


@models.command("info")
@click.argument("name")
@_DIR_OPTION
def info_command(name: str, models_dir: Path | None) -> None:
    """Everything known about one model: source, sha256, license, input spec, notes.

    NAME may also be the path of your own .tflite/.onnx file: this shows the spec greenroom
    derives for it from its sidecar TOML (same stem, .toml), whose keys are listed.
    """
    if name not in registry.MODELS and name not in registry.ALIASES and (
        name.lower().endswith(MODEL_SUFFIXES)
    ):
        _info_file(Path(name))
        return
    info = registry.get(name)
    folder = registry.models_dir(models_dir)
    lines = [
        ("name", info.name),
        ("backend", "LiteRT (TFLite)" if info.backend == "tflite" else "ONNX Runtime"),
        ("file", info.filename),
        ("size", f"{_size(info.size)} ({info.size} bytes)"),
        ("license", info.license),
        ("source", info.source),
    ]
    if info.terms:
        lines.append(("terms", info.terms))
    if info.url:
        lines.append(("url", info.url))
    if info.wheel:
        lines.append(("pip", f"{info.wheel.describe()} (`{info.wheel.command()}`)"))
    lines.append(("sha256", info.sha256 or "–"))
    if info.spec is not None:
        lines.append(("input/output", info.spec.describe()))
    elif info.recurrent:
        lines.append(("input/output", "RGB frame scaled to at most 512 px a side, downsample "
                      "ratio 256 / longer side, recurrent state carried across frames; soft "
                      "alpha matte out"))
    else:
        lines.append(("input/output", "MediaPipe's own preprocessing (see mediapipe_selfie.py)"))
    lines.append(("speed", info.speed))
    if info.builtin:
        lines.append(("state", _state(info, None)))
    else:
        cached = registry.cached_path(info, folder)
        lines.append(("state", f"cached at {cached}" if cached else
                      f"not downloaded (would go to {folder / info.filename})"))
    lines.append(("notes", info.notes))
    for key, value in lines:
        click.echo(f"{key + ':':14} {value}")


def _info_file(path: Path) -> None:
    from greenroom.segmentation import load_model_file

    segmenter = load_model_file(path)
    try:
        spec = getattr(segmenter, "spec", None)
        click.echo(f"{'file:':14} {path}")
        click.echo(f"{'name:':14} {segmenter.name}")
        if spec is not None:
            click.echo(f"{'input/output:':14} {spec.describe()}")
        else:
            click.echo(f"{'input/output:':14} recurrent matting model (RVM signature)")
        sidecar = path.with_suffix(".toml")
        click.echo(f"{'sidecar:':14} {sidecar if sidecar.is_file() else 'none'}")
        click.echo("sidecar keys:")
        for key, meaning in SIDECAR_KEYS.items():
            click.echo(f"  {key:17} {meaning}")
    finally:
        segmenter.close()


@models.command("download")
@click.argument("names", nargs=-1)
@click.option("--all", "everything", is_flag=True, help="Download every downloadable model.")
@_DIR_OPTION
def download_command(names: tuple[str, ...], everything: bool, models_dir: Path | None) -> int:
    """Download models into the models folder (sha256-verified; kept files are reused)."""
    if not names and not everything:
        raise click.UsageError("name a model (see `greenroom models list`) or give --all")
    chosen = (
        [info for info in registry.MODELS.values() if not info.builtin]
        if everything
        else [registry.get(name) for name in names]
    )
    failed = 0
    for info in chosen:
        if info.builtin:
            click.echo(f"{info.name}: ships with greenroom, nothing to download")
            continue
        if info.terms:
            click.echo(f"{info.name}: license {info.license}. {info.terms}")
        cached = registry.cached_path(info, models_dir)
        if cached is not None:
            click.echo(f"{info.name}: already there, {cached}")
            continue
        bar = tqdm(desc=info.name, unit="B", unit_scale=True, total=info.size,
                   file=sys.stderr, disable=None, leave=False)

        def progress(done: int, total: int | None, bar: tqdm = bar) -> None:
            bar.update(done - bar.n)

        try:
            path = registry.ensure_model(info, models_dir, progress=progress)
        except GreenroomError as exc:
            if len(chosen) == 1:
                raise
            click.echo(f"greenroom: error: {exc}", err=True)
            failed += 1
            continue
        finally:
            bar.close()
        click.echo(f"{info.name}: downloaded, {path}")
    return 1 if failed else 0
