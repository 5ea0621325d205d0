"""Settings from a TOML file, under the command line's flags (flags win).

One schema for every command: top-level keys apply to every command that has that option
(effect settings, say), and a table named after a command holds settings for that command
only, winning over the top level::

    # greenroom.toml
    blur = 20
    model = "auto"

    [image]
    quality = 90

    [video]
    crf = 24

    [camera]
    device = 0
    width = 1280
    backgrounds = "~/Pictures/backgrounds"

Keys are the command's long option names (dashes or underscores). Values must have the
option's own kind: a flag takes true/false, a number a finite number, a path or name a string;
anything else is one line naming the file and the setting, never a guess (`duration = true` is
not one second).
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from click.core import ParameterSource

from greenroom.errors import InputError, os_error_reason

if TYPE_CHECKING:
    pass

#: Where `--config` leaves the file's path in the click context, for the output guard.
CONFIG_PATH = "greenroom.config"


def read_toml(path: Path) -> dict[str, Any]:
    """The file's TOML document; every way of failing is one `InputError` naming it."""
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise InputError(path, "no such config file") from None
    except IsADirectoryError:
        raise InputError(path, "is a folder, not a config file") from None
    except UnicodeDecodeError:
        raise InputError(path, "not UTF-8 text; a config file is TOML, which is UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(path, f"not valid TOML ({exc})") from None
    except OSError as exc:
        raise InputError(path, f"cannot read: {os_error_reason(exc)}") from None


def all_commands(ctx: click.Context) -> dict[str, click.Command]:
    """Every `greenroom` command by name, whose tables and options a config file may hold."""
    root_ctx = ctx.find_root()
    root = root_ctx.command
    commands: dict[str, click.Command] = {}
    if isinstance(root, click.Group):  # the lazy group imports each command here, not before
        for name in root.list_commands(root_ctx):
            command = root.get_command(root_ctx, name)
            if command is not None:
                commands[name] = command
    commands[ctx.command.name or ""] = ctx.command
    return commands


def option_names(command: click.Command) -> set[str]:
    return {p.name for p in command.params if p.name and p.name != "config"}


def section_for(data: dict[str, Any], ctx: click.Context, path: Path) -> dict[str, Any]:
    """The settings for this command: top-level keys it has, then its own table over them.

    A top-level key that only other commands have (`device` when converting a photo) is left
    to them; one that no command has is a typo and an error.
    """
    commands = all_commands(ctx)
    anywhere = set().union(*(option_names(c) for c in commands.values()))
    mine = option_names(ctx.command)
    shared: dict[str, Any] = {}
    for key, value in data.items():
        option = key.replace("-", "_")
        if isinstance(value, dict):
            if key not in commands:
                raise InputError(path, f"unknown table [{key}]; tables are named after "
                                 f"commands: {', '.join(sorted(n for n in commands if n))}")
        elif option in mine:
            shared[key] = value
        elif option not in anywhere:
            raise InputError(path, f"unknown setting {key!r} (no greenroom command has it)")
    return {**shared, **data.get(ctx.command.name or "", {})}


def _kind_problem(option: click.Parameter, value: Any) -> str | None:
    """Why `value`, as TOML typed it, cannot be this option's setting (None: it can)."""
    is_flag = isinstance(option, click.Option) and option.is_flag
    if is_flag:
        return None if isinstance(value, bool) else "expects true or false"
    if isinstance(value, bool):
        return "expects a value, not true or false"
    if isinstance(value, list | dict):
        return "expects a single value, not a list or table"
    kind = option.type
    if isinstance(kind, click.types.IntParamType) and not isinstance(value, int):
        return f"{value!r} is not a whole number"
    if isinstance(kind, click.types.FloatParamType):
        if not isinstance(value, int | float):
            return f"{value!r} is not a number"
        if not math.isfinite(value):
            return f"{value!r} is not a finite number"
    if isinstance(kind, click.Path | click.Choice) and not isinstance(value, str):
        return f"expects a string, not {value!r}"
    return None


def check_setting(
    ctx: click.Context, option: click.Parameter, key: str, value: Any, path: Path
) -> Any:
    """The value to hand click for `key`, checked here so a wrong one names this file."""
    if isinstance(value, str) and value.startswith("~"):
        value = str(Path(value).expanduser())  # no shell expands ~ in a config file
    if option.name == "device" and isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # camera index or path: the option is a string
    problem = _kind_problem(option, value)
    if problem is None:
        try:
            option.type_cast_value(ctx, value)
        except click.BadParameter as exc:
            problem = exc.message
        except (TypeError, ValueError, OverflowError) as exc:
            problem = f"{value!r} cannot be used ({exc})"
    if problem is not None:
        raise InputError(path, f"setting {key!r}: {problem}")
    return value


def load_config(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Eager callback for `--config`: turns the file into click's default_map for the command."""
    if not value:
        return value
    path = Path(value).expanduser()
    data = read_toml(path)
    ctx.meta[CONFIG_PATH] = path
    name = ctx.command.name or ""
    known = {p.name: p for p in ctx.command.params if p.name and p.name != "config"}
    defaults: dict[str, Any] = {}
    for key, setting in section_for(data, ctx, path).items():
        option = key.replace("-", "_")
        if option not in known:
            raise InputError(path, f"unknown setting {key!r} for `greenroom {name}`")
        defaults[option] = check_setting(ctx, known[option], key, setting, path)
    ctx.default_map = {**(ctx.default_map or {}), **defaults}
    return value


#: The options that each name an effect (only one may be chosen), with their "not chosen" values.
EFFECT_OPTIONS = {"blur": None, "background": None, "color": None, "transparent": False,
                  "mask": False}


def command_line_first(values: dict[str, Any]) -> dict[str, Any]:
    """An effect named on the command line replaces the config file's, rather than clashing.

    `blur = 20` in the file and `--color red` on the command line mean "red this time", not
    "choose one effect". `values` are the effect options as click parsed them.
    """
    source = click.get_current_context().get_parameter_source
    if not any(source(name) is ParameterSource.COMMANDLINE for name in EFFECT_OPTIONS):
        return values
    return {**values, **{
        name: unchosen
        for name, unchosen in EFFECT_OPTIONS.items()
        if source(name) is ParameterSource.DEFAULT_MAP
    }}


def config_option(command: Any) -> Any:
    """`--config FILE`, read before the other options so that flags given here win."""
    return click.option(
        "--config",
        type=click.Path(dir_okay=False),
        is_eager=True,
        expose_value=False,
        callback=load_config,
        help="TOML file with settings: top-level keys for every command, a [camera], "
        "[video] or [image] table for one (flags given here win).",
    )(command)
