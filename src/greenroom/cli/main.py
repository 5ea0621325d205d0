"""The `greenroom` command: a few verbs over the library, one per kind of input."""

from __future__ import annotations

import importlib
import logging
import sys

import click

from greenroom import __version__
from greenroom.errors import GreenroomError

#: Command name -> (module, attribute, the short help `greenroom --help` shows). Each command's
#: module is imported only when that command runs or shows its own help, so `greenroom --help`
#: stays instant; tests/test_cli_main.py checks the short help against each command's own.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "batch": ("greenroom.cli.batch", "batch",
              "Process many videos and photos: a mirrored output tree, a manifest, resume, all "
              "cores."),
    "camera": ("greenroom.cli.camera", "camera",
               "Turn a camera into a virtual camera with a blurred or replaced background."),
    "demo": ("greenroom.cli.demo", "demo",
             "Blur, replace and remove the background of a sample photo (NASA's astronaut "
             "portrait)."),
    "eval": ("greenroom.cli.eval", "eval_command",
             "Score person segmentation against ground-truth masks."),
    "image": ("greenroom.cli.image", "image",
              "Blur, replace or remove the background of photos."),
    "models": ("greenroom.cli.models", "models",
               "List, describe and download segmentation models (use them with --model NAME)."),
    "serve": ("greenroom.cli.serve", "serve",
              "Serve a web page that shows your camera with its background blurred or "
              "replaced, live."),
    "train": ("greenroom.cli.train", "train_command",
              "Train, fine-tune or distil greenroom's small segmentation network."),
    "video": ("greenroom.cli.video", "video",
              "Blur, replace or remove the background of a video file."),
}


class LazyGroup(click.Group):
    """A click group that imports a command's module only when that command is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module, attribute, _ = COMMANDS[cmd_name]
        return getattr(importlib.import_module(module), attribute)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="greenroom")
def cli() -> None:
    """Blur, replace or remove the background behind people in photos, videos and cameras.

    Runs a real-time person-segmentation model (MediaPipe selfie segmentation by default) on the
    CPU. Start with `greenroom demo`, or `greenroom image photo.jpg -o out.jpg --blur`.
    """


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors become one line on stderr and exit status 1."""
    # Library modules report recoverable problems (audio left out, a decoder missing) through
    # logging; on the command line they are one-line warnings.
    logging.basicConfig(level=logging.WARNING, format="greenroom: warning: %(message)s")
    from greenroom.pipeline.allocator import tune_process

    # frame-sized buffers reused instead of page-faulted in every frame; OpenCV without a
    # thread pool of its own beside the pipeline's threads
    tune_process()
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
