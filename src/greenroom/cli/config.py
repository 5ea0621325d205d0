"""Settings from a TOML file, under the command line's flags (flags win).

    # greenroom.toml
    [camera]
    device = 0
    width = 1280
    blur = 20
    backgrounds = "~/Pictures/backgrounds"

Keys are the command's long option names (dashes or underscores); a table named after the
command is used if present, else the top level.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import click

from greenroom.errors import InputError


def load_config(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Eager callback for `--config`: turns the file into click's default_map for the command."""
    if not value:
        return value
    path = Path(value).expanduser()
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise InputError(path, "no such config file") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(path, f"not valid TOML ({exc})") from None
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from None
    name = ctx.command.name or ""
    section: dict[str, Any] = data.get(name, data) if isinstance(data.get(name), dict) else data
    known = {p.name: p for p in ctx.command.params if p.name and p.name != "config"}
    defaults: dict[str, Any] = {}
    for key, setting in section.items():
        option = key.replace("-", "_")
        if option not in known:
            raise InputError(path, f"unknown setting {key!r} for `greenroom {name}`")
        if isinstance(setting, str) and setting.startswith("~"):
            setting = str(Path(setting).expanduser())  # no shell expands ~ in a config file
        setting = str(setting) if option in ("device",) else setting
        # Checked here, so that a wrong value names this file rather than a flag not given.
        try:
            known[option].type_cast_value(ctx, setting)
        except click.BadParameter as exc:
            raise InputError(path, f"setting {key!r}: {exc.message}") from None
        defaults[option] = setting
    ctx.default_map = {**(ctx.default_map or {}), **defaults}
    return value


def config_option(command: Any) -> Any:
    return click.option(
        "--config",
        type=click.Path(dir_okay=False),
        is_eager=True,
        expose_value=False,
        callback=load_config,
        help="TOML file with settings for this command (flags given here win).",
    )(command)
