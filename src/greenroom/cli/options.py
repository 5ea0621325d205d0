"""Effect and model options shared by every command that processes frames."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from greenroom.cli.config import command_line_first
from greenroom.compositing import DEFAULT_BLUR, Effect, EffectSpec
from greenroom.errors import GreenroomError, InvalidEffect
from greenroom.jobs.settings import Encoding
from greenroom.pipeline.processor import Processor
from greenroom.segmentation import (
    MODEL_NAMES,
    MODEL_SUFFIXES,
    ModelRequest,
    Segmenter,
    load,
    looks_like_path,
)
from greenroom.segmentation.catalogue import ALIASES

MODEL_HELP = (
    "Segmentation model: 'auto' (MediaPipe's landscape model for wide frames, the general one "
    "otherwise), a name from `greenroom models list`, or the path of your own .tflite/.onnx "
    "file (described by a .toml beside it)."
)


def validate_model(ctx: click.Context | None, param: click.Parameter | None, value: str) -> str:
    """`--model`: a registry name (or alias), or an existing .tflite/.onnx file."""
    if value is None or value in MODEL_NAMES or value in ALIASES:
        return value
    path = Path(value).expanduser()
    if looks_like_path(value) or path.is_file():
        if path.suffix.lower() not in MODEL_SUFFIXES:
            raise click.BadParameter(f"{value}: a model file must be .tflite or .onnx")
        if not path.is_file():
            raise click.BadParameter(f"{value}: no such model file")
        return str(path)
    raise click.BadParameter(
        f"unknown model {value!r}; choose from {', '.join(MODEL_NAMES)}, "
        "or give the path of a .tflite/.onnx file"
    )


def _providers(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> tuple[str, ...] | None:
    """`--provider`: short provider names, checked now so a typo is a usage error."""
    from greenroom.segmentation.backends import normalize_providers

    try:
        providers = normalize_providers(value)
    except GreenroomError as exc:
        raise click.BadParameter(str(exc)) from None
    return tuple(providers) if providers else None


def load_model(request: ModelRequest) -> Segmenter:
    """Load the model a command asked for, every runtime's refusal as one `GreenroomError`."""
    try:
        return load(request)
    except GreenroomError:
        raise
    except (ValueError, RuntimeError) as exc:
        # A runtime refusing a file (garbage or empty bytes named .tflite) raises its own
        # errors from native code; the user needs one line naming the file.
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise GreenroomError(f"{request.name}: not a model that can be loaded ({reason})") from None


def model_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--models-dir and --provider: where catalogue models live, which ONNX providers run them.

    The command receives them as the parameters `models_dir` and `provider` (a tuple of short
    provider names, or None) and passes them on in the `ModelRequest` it builds.
    """
    for decorator in reversed(_model_option_decorators()):
        command = decorator(command)
    return command


def _model_option_decorators() -> list[Callable[[Callable[..., Any]], Callable[..., Any]]]:
    return [
        click.option(
            "--models-dir",
            type=click.Path(file_okay=False),
            help="Folder for downloaded models (default: $GREENROOM_MODELS, else the user "
            "cache folder, e.g. ~/.cache/greenroom/models).",
        ),
        click.option(
            "--provider",
            metavar="NAME[,NAME]",
            callback=_providers,
            help="ONNX Runtime execution provider(s) for .onnx models: cpu (default), cuda, "
            "tensorrt, coreml, directml, openvino.",
        ),
    ]


@dataclass(frozen=True)
class EffectArgs:
    """What the shared effect and model options asked for; commands get it as `chosen`.

    `spec` is the effect, the config file's choice already overruled by the command line's;
    `background` is every background file named, even one so overruled, since no output may
    replace it either.
    """

    spec: EffectSpec = EffectSpec()
    background: str | None = None
    model: str = "auto"
    refine: bool = True
    threads: int | None = None
    matte_quality: str | None = None
    models_dir: str | None = None
    provider: tuple[str, ...] | None = None

    def model_request(self, model: str | None = None) -> ModelRequest:
        """`--model` (or `model`) with this invocation's --threads, --models-dir, --provider."""
        return ModelRequest(model or self.model, self.threads, self.models_dir, self.provider)

    def effect(self) -> Effect:
        """The effect; a background file is opened now, so a bad one fails before any work.

        A focus blur's depth model is found in (or downloaded to) --models-dir.
        """
        return self.spec.build(models_dir=self.models_dir)

    def processor(self, effect: Effect, **options: Any) -> Processor:
        """A `Processor` with the chosen model (and --models-dir/--provider) and refinement.

        With `--matte-quality` the model and stages come from `quality.plan` (a command that passes
        `temporal` processes video); a matting model's alpha is kept soft (`refiner_for`).
        """
        from greenroom.segmentation.quality import plan, refiner_for

        model, refine = self.model, self.refine
        if self.matte_quality is not None:
            if self.model != "auto":
                raise click.UsageError("give --matte-quality or --model, not both")
            chosen = plan(self.matte_quality, "video" if "temporal" in options else "photo")
            model, refine = chosen.model, refine and chosen.refine
            if "temporal" in options:
                options["temporal"] = options["temporal"] and chosen.temporal
            click.echo(f"greenroom: --matte-quality {self.matte_quality}: {chosen.describe()}",
                       err=True)
        segmenter = load_model(self.model_request(model))
        return Processor(effect, model=segmenter, refine=refiner_for(segmenter, refine), **options)


#: Parameter names of the effect options (`EffectSpec` fields) and of the model options.
SPEC_OPTIONS = ("blur", "background", "color", "light_wrap", "blur_style", "transparent", "mask")
MODEL_ARGS = ("model", "refine", "threads", "matte_quality", "models_dir", "provider")


def effect_args(values: dict[str, Any]) -> EffectArgs:
    """The effect and model options as click parsed them -> `EffectArgs`, checked.

    Conflicting effects are a usage error (exit 2), as click's own are; an unknown colour is an
    input error naming it.
    """
    chosen = command_line_first({name: values[name] for name in SPEC_OPTIONS})
    try:
        spec = EffectSpec(**chosen)
    except InvalidEffect as exc:
        raise click.UsageError(str(exc)) from None
    models = {name: values[name] for name in MODEL_ARGS}
    return EffectArgs(spec=spec, background=values["background"], **models)


def effect_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add --blur/--background/--color/--light-wrap/--transparent/--mask/--model/--models-dir/
    --provider/--refine/--threads/--matte-quality to a command, which receives them as one
    `chosen: EffectArgs`.
    """

    @functools.wraps(command)
    def bundled(*args: Any, **kwargs: Any) -> Any:
        values = {name: kwargs.pop(name) for name in (*SPEC_OPTIONS, *MODEL_ARGS)}
        kwargs["chosen"] = effect_args(values)
        return command(*args, **kwargs)

    decorators = [
        *EFFECT_CHOICE_OPTIONS,
        click.option(
            "--model",
            default="auto",
            show_default=True,
            metavar="NAME|PATH",
            callback=validate_model,
            help=MODEL_HELP,
        ),
        *_model_option_decorators(),
        click.option(
            "--refine/--no-refine",
            default=True,
            show_default=True,
            help="Redraw the mask edge along the picture's edges (guided filter); off gives "
            "the model's plain upscaled mask.",
        ),
        click.option(
            "--threads",
            type=click.IntRange(min=1),
            default=None,
            help="Inference threads (default: 1 for the fast models, the default among them; "
            "2 for the others, or 1 on a single core).",
        ),
        click.option(
            "--matte-quality",
            type=click.Choice(["fast", "balanced", "best"]),
            default=None,
            help="fast: the default model's plain mask; balanced: the default (auto, refined); "
            "best: the most accurate model measured (MODNet for photos, RVM for video, "
            "downloaded on first use) - it says which. See docs/models.md.",
        ),
    ]
    for decorator in reversed(decorators):
        bundled = decorator(bundled)
    return bundled


#: The options that choose the effect (each `click.option` makes a new Option per command).
EFFECT_CHOICE_OPTIONS = (
    click.option(
        "--blur",
        "blur",
        type=click.FloatRange(min=0),
        is_flag=False,
        flag_value=DEFAULT_BLUR,
        default=None,
        metavar="[STRENGTH]",
        help=f"Blur the background (the default effect). STRENGTH is the Gaussian sigma in "
        f"pixels of a 720p frame, scaled to the frame height; default {DEFAULT_BLUR:g}.",
    ),
    click.option(
        "--background",
        "background",
        type=click.Path(dir_okay=False),
        help="Replace the background with this image, or a video clip that loops (scaled "
        "to cover, cropped centred).",
    ),
    click.option(
        "--color",
        "color",
        metavar="COLOR",
        help="Replace the background with a colour: a CSS name (green) or hex (#00b140).",
    ),
    click.option(
        "--blur-style",
        "blur_style",
        type=click.Choice(["normal", "focus"]),
        default="normal",
        show_default=True,
        help="focus: blur the background more the farther it is from you, as a lens does "
        "(a depth model, downloaded once; needs greenroom[onnx]).",
    ),
    click.option(
        "--light-wrap",
        "light_wrap",
        type=click.FloatRange(0, 1),
        default=0.0,
        metavar="STRENGTH",
        help="With --background/--color: let the new background's light spill onto your "
        "outline (0..1, e.g. 0.3), so you look less pasted on.",
    ),
    click.option(
        "--transparent",
        is_flag=True,
        help="Remove the background: RGBA output with the matte as alpha.",
    ),
    click.option(
        "--mask",
        is_flag=True,
        help="Write the matte itself: 8-bit grayscale, 0 = background, 255 = person.",
    ),
)


Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def bundle(into: str, build: Callable[..., Any], names: Sequence[str],
           options: Sequence[Decorator]) -> Decorator:
    """Add `options` to a command, which receives them as one `into=build(**those options)`."""

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(command)
        def bundled(*args: Any, **kwargs: Any) -> Any:
            kwargs[into] = build(**{name: kwargs.pop(name) for name in names})
            return command(*args, **kwargs)

        for option in reversed(options):
            bundled = option(bundled)
        return bundled

    return decorate


#: --crf, --preset and --temporal: how a video result is encoded and steadied, as `encoding`.
encoding_options = bundle("encoding", Encoding, ("crf", "preset", "temporal"), [
    click.option("--crf", type=click.IntRange(0, 63), default=None,
                 help="Quality: lower is better and larger (default 20 for H.264, 32 for VP9)."),
    click.option("--preset", default="veryfast", show_default=True,
                 help="x264 speed preset (ultrafast ... veryslow)."),
    click.option("--temporal/--no-temporal", default=True, show_default=True,
                 help="Steady the mask over time: motion-aware smoothing plus a one-frame "
                 "look-ahead that removes single-frame flips."),
])


def framing_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """--auto-frame: keep the person centred at a steady size (videos and cameras)."""
    return click.option(
        "--auto-frame", "auto_frame", is_flag=True,
        help="Keep the person centred at a steady size with a smooth virtual pan and zoom "
        "(holds still while you sit still, follows when you move).",
    )(command)


def lowlight_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """--low-light [STRENGTH]: brighten a dim camera or clip (see `enhance.lowlight`)."""
    return click.option(
        "--low-light", "low_light", type=click.FloatRange(0, 1), is_flag=False,
        flag_value=1.0, default=None, metavar="[STRENGTH]",
        help="Brighten a dim picture with a learned enhancer run at low resolution and applied "
        "as a smooth gain map (0..1, default 1). Needs greenroom[onnx]; the model (about 1 MB) "
        "is downloaded once into the models folder.",
    )(command)


def make_enhancer(strength: float | None, models_dir: str | None = None) -> Any:
    """The low-light enhancer `--low-light` asks for (its model in `models_dir`), or None."""
    if strength is None:
        return None
    from greenroom.aux_models import aux_model_path
    from greenroom.enhance.lowlight import DEFAULT_ENHANCER, LowLightEnhancer

    return LowLightEnhancer(aux_model_path(DEFAULT_ENHANCER, models_dir), strength=strength)
