"""`greenroom demo`: every photo effect on the shipped sample, with no camera and no download."""

from __future__ import annotations

import time
from pathlib import Path

import click

from greenroom.compositing import Blur, ColorBackground, ImageBackground, MaskOnly, Transparent
from greenroom.errors import OutputError, os_error_reason
from greenroom.pipeline import Processor
from greenroom.samples import astronaut, rocket
from greenroom.sinks.images import write_image


@click.command("demo")
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("out"),
    show_default=True,
    help="Folder for the results (created if missing).",
)
def demo(output: Path) -> int:
    """Blur, replace and remove the background of a sample photo (NASA's astronaut portrait)."""
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(output, f"cannot create folder: {os_error_reason(exc)}") from None
    frame = astronaut()
    effects = {
        "astronaut-blur.jpg": Blur(),
        "astronaut-background.jpg": ImageBackground(rocket()),
        "astronaut-green.png": ColorBackground((0, 177, 64)),
        "astronaut-transparent.png": Transparent(),
        "astronaut-mask.png": MaskOnly(),
    }
    with Processor() as processor:
        started = time.perf_counter()
        matte = processor.matte(frame)
        seconds = time.perf_counter() - started
        click.echo(
            f"segmented a {frame.shape[1]}x{frame.shape[0]} photo in {seconds * 1000:.0f} ms "
            f"(including loading the model)"
        )
        for name, effect in effects.items():
            path = write_image(output / name, effect.apply(frame, matte))
            click.echo(f"wrote {path}")
    return 0
