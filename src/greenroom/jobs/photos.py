"""Photos in, photos out, in this process: the work of `greenroom image`, apart from its options.

`plan_photos` decides where each result goes (one file, or a folder mirroring the inputs' names),
and `process_photos` runs them one after another through one `Processor`, reporting a file that
fails and going on, so one bad photo never stops the rest. Kept out of the CLI so that it can be
called (and tested) without click; `jobs.batch` is the many-process, resumable counterpart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from greenroom.errors import GreenroomError, OutputError, os_error_reason
from greenroom.pipeline.processor import Processor
from greenroom.sinks.images import FORMATS, check_output_path, write_image
from greenroom.sources.images import expand_inputs, read_image

#: (input photo, output file), in the order they are processed.
PhotoJob = tuple[Path, Path]


def output_suffix(source: Path, channels: int, chosen: str | None) -> str:
    """The file ending for one output in a folder: `chosen`, else the input's, else PNG.

    Mattes and transparent results default to PNG since JPEG has no alpha and is lossy.
    """
    if chosen:
        return "." + chosen.lower().lstrip(".")
    if channels in (1, 4):
        return ".png"
    suffix = source.suffix.lower()
    return suffix if suffix in FORMATS else ".png"


def is_single_photo(inputs: Sequence[Path], output: Path) -> bool:
    """One input file and an output named like an image file: -o is that file, not a folder."""
    return len(inputs) == 1 and not inputs[0].is_dir() and output.suffix.lower() in FORMATS


def plan_photos(
    inputs: Sequence[Path], output: Path, channels: int, fmt: str | None
) -> list[PhotoJob]:
    """Every (input, output) pair; a folder output is created, keeping each input's name.

    `channels` is the effect's (PNG for mattes and cut-outs unless `fmt` says otherwise).
    """
    if is_single_photo(inputs, output):
        return [(inputs[0], check_output_path(output, channels))]
    if output.exists() and not output.is_dir():
        raise OutputError(output, "exists and is not a folder")
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(output, f"cannot create folder: {os_error_reason(exc)}") from None
    jobs = [
        (source, output / (source.stem + output_suffix(source, channels, fmt)))
        for source in expand_inputs(inputs)
    ]
    if not jobs:
        raise GreenroomError(f"{', '.join(map(str, inputs))}: no images found")
    return jobs


def process_photos(
    processor: Processor,
    jobs: Iterable[PhotoJob],
    quality: int,
    check: Callable[[Path, Path], None],
    report: Callable[[GreenroomError], None],
) -> int:
    """Process and write each photo; returns how many failed (each one given to `report`).

    `check(source, target)` refuses an output that would replace an input (it raises an
    `OutputError`); two inputs of the same name meeting in one output is refused here.
    """
    failures = 0
    written: dict[Path, Path] = {}
    for source, target in jobs:
        try:
            check(source, target)
            if target.resolve() in written:
                raise OutputError(target, f"already written from {written[target.resolve()]}"
                                  "; inputs with the same name need separate runs")
            write_image(target, processor.process(read_image(source)), quality=quality)
            written[target.resolve()] = source
        except GreenroomError as exc:
            failures += 1
            report(exc)
    return failures
