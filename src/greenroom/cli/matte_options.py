"""--threshold, --mask-expand and --feather: the user's knobs on the matte, for every command."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

from greenroom.matte import MatteAdjust


def matte_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add the three matte knobs to a command, which receives them as one `adjust: MatteAdjust`."""

    @functools.wraps(command)
    def bundled(*args: Any, **kwargs: Any) -> Any:
        kwargs["adjust"] = MatteAdjust(
            threshold=kwargs.pop("threshold"),
            expand=kwargs.pop("mask_expand"),
            feather=kwargs.pop("feather"),
        )
        return command(*args, **kwargs)

    decorators = [
        click.option(
            "--threshold",
            type=click.FloatRange(0, 1, min_open=True, max_open=True),
            default=None,
            metavar="T",
            help="Make the matte hard: person where the model is at least this sure (0..1, "
            "e.g. 0.5), background elsewhere. Pair with --feather for a soft edge.",
        ),
        click.option(
            "--mask-expand",
            "mask_expand",
            type=click.IntRange(-200, 200),
            default=0,
            metavar="PX",
            help="Grow the person's outline by PX pixels (keeps hair and ears), or shrink it "
            "with a negative value (drops a halo of old background).",
        ),
        click.option(
            "--feather",
            type=click.FloatRange(0, 200),
            default=0.0,
            metavar="PX",
            help="Soften the outline over about PX pixels.",
        ),
    ]
    for decorator in reversed(decorators):
        bundled = decorator(bundled)
    return bundled
