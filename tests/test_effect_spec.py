"""`EffectSpec`: every front end asks for an effect with one, the same one for the same ask.

The sources compared: the command line's options, the TOML config file, the web page's control
messages, the preview's hotkeys and the library's `make_effect`.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import click
import numpy as np
import pytest
from click.testing import CliRunner

import greenroom
from greenroom.cli.config import config_option
from greenroom.cli.options import EffectArgs, effect_options
from greenroom.compositing import (
    DEFAULT_BLUR,
    Blur,
    ColorBackground,
    EffectSpec,
    ImageBackground,
    MaskOnly,
    Passthrough,
    Transparent,
)
from greenroom.errors import GreenroomError, InputError, InvalidEffect
from greenroom.jobs.settings import JobSettings
from greenroom.pipeline.controls import LiveControls
from greenroom.samples import sample_path

ROCKET = str(sample_path("rocket.jpg"))


def from_command_line(*args: str, config: dict[str, object] | None = None,
                      tmp_path: Path | None = None) -> EffectArgs:
    """What `effect_options` hands a command for these flags (and this config file)."""
    captured: list[EffectArgs] = []

    @click.command("image")
    @config_option
    @effect_options
    def probe(chosen: EffectArgs) -> None:
        captured.append(chosen)

    argv = list(args)
    if config is not None:
        assert tmp_path is not None
        path = tmp_path / "greenroom.toml"
        path.write_text("".join(f"{key} = {toml(value)}\n" for key, value in config.items()))
        argv += ["--config", str(path)]
    result = CliRunner().invoke(probe, argv, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return captured[0]


def toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return f'"{value}"' if isinstance(value, str) else str(value)


def from_web(message: dict[str, object]) -> EffectSpec:
    pytest.importorskip("aiohttp")
    from greenroom.web.signalling import parse_effect

    return parse_effect(message)


class StillProcessor:
    """What `LiveControls` needs of a processor: the effect it applies."""

    def __init__(self, strength: float = DEFAULT_BLUR) -> None:
        self.effect = Blur(strength)


def test_a_colour_is_the_same_spec_from_every_source(tmp_path):
    cli = from_command_line("--color", "green").spec
    config = from_command_line(config={"color": "green"}, tmp_path=tmp_path).spec
    web = from_web({"effect": "color", "color": "#008000"})
    controls = LiveControls(StillProcessor(), color=(0, 128, 0))
    controls.handle_key(ord("c"))
    assert cli == config == web == controls.spec == EffectSpec(color=(0, 128, 0))
    assert isinstance(controls.processor.effect, ColorBackground)
    assert controls.processor.effect.rgb == (0, 128, 0)


def test_a_blur_strength_is_the_same_spec_from_every_source(tmp_path):
    cli = from_command_line("--blur", "20").spec
    config = from_command_line(config={"blur": 20}, tmp_path=tmp_path).spec
    web = from_web({"effect": "blur", "strength": 20})
    controls = LiveControls(StillProcessor(16))
    controls.handle_key(ord("+"))  # 16 x 1.25
    assert cli == config == web == controls.spec == EffectSpec(blur=20.0)
    assert controls.processor.effect.strength == 20.0
    # Nothing chosen anywhere: the default blur, the same as asking for blur without a strength.
    assert from_command_line().spec == EffectSpec() == from_web({"effect": "blur"})
    assert EffectSpec().blur == DEFAULT_BLUR and EffectSpec(blur=True) == EffectSpec()


def test_a_background_file_and_the_other_effects_agree(tmp_path):
    cli = from_command_line("--background", ROCKET, "--light-wrap", "0.3").spec
    config = from_command_line(config={"background": ROCKET, "light-wrap": 0.3},
                               tmp_path=tmp_path).spec
    assert cli == config == EffectSpec(background=ROCKET, light_wrap=0.3)
    controls = LiveControls(StillProcessor(), backgrounds=[Path(ROCKET)])
    controls.handle_key(ord("n"))
    assert controls.spec == EffectSpec(background=ROCKET)
    for flag, kind in (("--mask", "mask"), ("--transparent", "transparent")):
        spec = from_command_line(flag).spec
        assert spec == from_web({"effect": kind}) == EffectSpec(**{kind: True})
        assert spec.kind == kind


def test_the_command_line_overrules_the_config_files_effect(tmp_path):
    chosen = from_command_line("--color", "red", config={"background": ROCKET, "blur": 20},
                               tmp_path=tmp_path)
    assert chosen.spec == EffectSpec(color="red")
    assert chosen.background == ROCKET  # still protected from being overwritten


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"blur": 5, "color": "red"}, "choose one effect, not blur and color"),
        ({"mask": True, "transparent": True}, "choose one effect, not transparent and mask"),
        ({"blur": -1}, "blur strength must be a number >= 0"),
        ({"blur": float("nan")}, "blur strength must be a number >= 0"),
        ({"light_wrap": 2}, "light wrap must be a number from 0 to 1"),
        ({"blur_style": "soft"}, "unknown blur style 'soft'; choose normal or focus"),
        ({"blur_style": "focus", "mask": True}, "--blur-style goes with --blur"),
        ({"color": (300, 0, 0)}, "colour must be a CSS name, a hex code or three 0..255"),
        ({"color": "blurple"}, "unknown colour"),
    ],
)
def test_invalid_effects_are_one_clear_line(options, words):
    with pytest.raises(GreenroomError) as info:
        EffectSpec(**options)
    message = str(info.value)
    assert words in message and "\n" not in message
    # Option values are a ValueError, as the library raised before; a bad colour names it.
    assert isinstance(info.value, InputError if words == "unknown colour" else InvalidEffect)
    assert isinstance(info.value, ValueError)


def test_the_command_line_says_a_conflict_is_a_usage_error():
    @click.command("image")
    @effect_options
    def probe(chosen: EffectArgs) -> None:
        raise AssertionError("never reached")

    result = CliRunner().invoke(probe, ["--mask", "--color", "red"])
    assert result.exit_code == 2 and "choose one effect, not color and mask" in result.output


def test_each_kind_builds_its_effect(astronaut_rgb):
    built = {
        "blur": EffectSpec(blur=7).build(),
        "background": EffectSpec(background=ROCKET, light_wrap=0.2).build(),
        "color": EffectSpec(color="#0000ff").build(),
        "transparent": EffectSpec(transparent=True).build(),
        "mask": EffectSpec(mask=True).build(),
        "off": EffectSpec(off=True).build(),
    }
    kinds = (Blur, ImageBackground, ColorBackground, Transparent, MaskOnly, Passthrough)
    assert [type(e) for e in built.values()] == list(kinds)
    assert built["blur"].strength == 7 and built["background"].light_wrap == 0.2
    assert built["background"].image.shape == (427, 640, 3)  # the rocket photo, read now
    alpha = np.ones(astronaut_rgb.shape[:2], np.float32)
    assert built["off"].apply(astronaut_rgb, alpha) is astronaut_rgb
    # A named picture comes from the `pictures` function: the web's gallery and uploads.
    picture = np.full((4, 4, 3), 9, np.uint8)
    named = EffectSpec(background="upload").build(lambda name: {"upload": picture}[name])
    assert isinstance(named, ImageBackground) and named.image is picture


def test_a_missing_background_fails_when_built_naming_the_file(tmp_path):
    spec = EffectSpec(background=str(tmp_path / "nope.jpg"))  # named, not read yet
    with pytest.raises(InputError, match="nope.jpg: no such file"):
        spec.build()


def test_with_effect_switches_the_choice_and_keeps_the_look():
    spec = EffectSpec(color="red", light_wrap=0.4)
    assert spec.with_effect(background=ROCKET) == EffectSpec(background=ROCKET, light_wrap=0.4)
    focus = EffectSpec(blur_style="focus")
    assert focus.with_effect(mask=True) == EffectSpec(mask=True)  # focus belongs to blur


def test_make_effect_goes_through_the_spec(astronaut_rgb):
    assert greenroom.make_effect(blur=True).strength == DEFAULT_BLUR
    assert greenroom.make_effect(color=(1, 2, 3)).rgb == (1, 2, 3)
    pixels = greenroom.make_effect(background=astronaut_rgb).image
    np.testing.assert_array_equal(pixels, astronaut_rgb)
    with pytest.raises(ValueError, match="--blur-style goes with --blur"):
        greenroom.make_effect(color="red", blur_style="focus")


def test_batch_settings_hold_a_spec_that_travels_and_decides_the_fingerprint():
    settings = JobSettings(effect=EffectSpec(color="green"))
    assert pickle.loads(pickle.dumps(settings)) == settings  # to worker processes
    assert settings.fingerprint() == JobSettings(effect=EffectSpec(color="#008000")).fingerprint()
    assert settings.fingerprint() != JobSettings(effect=EffectSpec(color="red")).fingerprint()
    assert settings.fingerprint() != JobSettings().fingerprint()
    assert settings.fingerprint() == settings.with_threads(3).fingerprint()  # speed only
    assert JobSettings(effect=EffectSpec(mask=True)).channels == 1
