"""The `greenroom` command: a few verbs over the library, one per kind of input."""

from __future__ import annotations

import logging
import sys

import click

from greenroom import __version__
from greenroom.cli.camera import camera
from greenroom.cli.demo import demo
from greenroom.cli.eval import eval_command
from greenroom.cli.image import image
from greenroom.cli.models import models
from greenroom.cli.serve import serve
from greenroom.cli.video import video
from greenroom.errors import GreenroomError
from greenroom.pipeline.allocator import tune_allocator


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="greenroom")
def cli() -> None:
    """Blur, replace or remove the background behind people in photos, videos and cameras.

    Runs a real-time person-segmentation model (MediaPipe selfie segmentation by default) on the
    CPU. Start with `greenroom demo`, or `greenroom image photo.jpg -o out.jpg --blur`.
    """


cli.add_command(camera)
cli.add_command(demo)
cli.add_command(eval_command)
cli.add_command(image)
cli.add_command(models)
cli.add_command(serve)
cli.add_command(video)


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors become one line on stderr and exit status 1."""
    # Library modules report recoverable problems (audio left out, a decoder missing) through
    # logging; on the command line they are one-line warnings.
    logging.basicConfig(level=logging.WARNING, format="greenroom: warning: %(message)s")
    tune_allocator()  # frame-sized buffers are reused instead of page-faulted in every frame
    try:
        status = cli.main(args=argv, prog_name="greenroom", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("greenroom: interrupted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except GreenroomError as exc:
        click.echo(f"greenroom: error: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("greenroom: interrupted", err=True)
        sys.exit(130)
    # Commands return their exit status (e.g. 1 when some files of a batch failed).
    sys.exit(status if isinstance(status, int) else 0)
