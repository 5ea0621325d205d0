"""The matte knobs (--threshold, --mask-expand, --feather) and the options every command shows."""

from __future__ import annotations

import click
import numpy as np
import pytest
from PIL import Image

from greenroom.cli.main import cli
from greenroom.matte import MatteAdjust
from greenroom.samples import sample_path
from greenroom.sources.video import VideoFileSource
from tests.cli import run
from tests.clips import make_clip


def disc(size: int = 101, radius: int = 30, soft: float = 0.0) -> np.ndarray:
    """A round matte: 1 inside, 0 outside, with a linear ramp `soft` pixels wide."""
    yy, xx = np.mgrid[0:size, 0:size] - size // 2
    distance = np.hypot(yy, xx) - radius
    if soft:
        return np.clip(0.5 - distance / soft, 0, 1).astype(np.float32)
    return (distance <= 0).astype(np.float32)


def radius_of(matte: np.ndarray) -> int:
    """The radius of a centred disc: person pixels along the middle row, from the centre."""
    middle = matte[matte.shape[0] // 2]
    return int((middle[matte.shape[1] // 2:] >= 0.5).sum()) - 1


def test_default_adjusts_nothing():
    assert not MatteAdjust().active


def test_threshold_makes_the_matte_hard():
    soft = disc(soft=20)
    hard = MatteAdjust(threshold=0.8).apply(soft)
    assert set(np.unique(hard)) == {0.0, 1.0}
    assert radius_of(hard) < radius_of(soft)  # 0.8 keeps only the surer part
    assert radius_of(MatteAdjust(threshold=0.2).apply(soft)) > radius_of(soft)


@pytest.mark.parametrize("pixels", [5, -5, 12])
def test_expand_grows_or_shrinks_by_that_many_pixels(pixels):
    matte = disc()
    grown = radius_of(MatteAdjust(expand=pixels).apply(matte))
    assert grown == pytest.approx(radius_of(matte) + pixels, abs=1)  # a disc's pixel steps


def test_feather_softens_the_edge_over_about_that_many_pixels():
    feathered = MatteAdjust(feather=12).apply(disc())
    middle = feathered[50, 50:]
    ramp = int(((middle > 0.02) & (middle < 0.98)).sum())
    assert 8 <= ramp <= 14
    assert feathered[50, 50] == pytest.approx(1) and feathered[50, 100] == pytest.approx(0)


def test_input_matte_is_not_changed():
    matte = disc(soft=10)
    before = matte.copy()
    MatteAdjust(threshold=0.5, expand=3, feather=4).apply(matte)
    np.testing.assert_array_equal(matte, before)


def test_knobs_on_the_command_line(capsys, tmp_path):
    photo = sample_path("astronaut.jpg")
    masks = {}
    for name, args in {"plain": [], "grown": ["--mask-expand", "15"],
                       "shrunk": ["--mask-expand", "-15"],
                       "hard": ["--threshold", "0.5"]}.items():
        out = tmp_path / f"{name}.png"
        status, _, err = run(capsys, "image", photo, "-o", out, "--mask", *args)
        assert status == 0, err
        masks[name] = np.asarray(Image.open(out), dtype=np.float32) / 255
    area = {name: float((m >= 0.5).mean()) for name, m in masks.items()}
    assert area["shrunk"] < area["plain"] < area["grown"]
    assert set(np.unique(masks["hard"])) <= {0.0, 1.0}


def test_camera_mirror_option_flips_the_recording(capsys, tmp_path):
    clip = make_clip(tmp_path / "clip.mp4", frames=3, audio=False)
    with VideoFileSource(clip.path) as source:
        captured = [frame.image.astype(int) for frame in source]
    for flag, flip in (("--no-mirror", False), ("--mirror", True)):
        out = tmp_path / f"{flag}.mkv"
        # A blur too faint to see: the recording shows the picture as it was captured.
        status, _, err = run(capsys, "camera", "--source", clip.path, "--no-realtime",
                             "--record", out, "--max-frames", 1, "--blur", "0.01", flag)
        assert status == 0, err
        with VideoFileSource(out) as recorded:
            image = next(iter(recorded)).image.astype(int)
        # A live run may drop the first frames (newest wins): compare with the frame it kept.
        shown = min(captured, key=lambda c: np.abs(image - (c[:, ::-1] if flip else c)).mean())
        expected = shown[:, ::-1] if flip else shown
        assert np.abs(image - expected).mean() < 6, flag
        assert np.abs(image - expected[:, ::-1]).mean() > 20, flag  # and not the other way


def every_option():
    context = click.Context(cli)
    for name in cli.list_commands(context):
        command = cli.get_command(context, name)
        for param in command.params:
            if isinstance(param, click.Option) and param.name != "help":
                yield name, param


@pytest.mark.parametrize("name", ["image", "video", "camera", "demo", "batch"])
def test_every_option_has_help_text(name):
    missing = [p.opts[0] for n, p in every_option() if n == name and not p.help]
    assert missing == []


@pytest.mark.parametrize("name", ["image", "video", "camera", "batch"])
def test_every_effect_command_takes_config_and_the_knobs(name):
    options = {p.opts[0] for n, p in every_option() if n == name}
    assert {"--config", "--threshold", "--mask-expand", "--feather"} <= options


def test_one_config_file_for_image_and_video(capsys, tmp_path):
    """Top-level keys for every command, a table for one; keys only another command has are
    left to it."""
    config = tmp_path / "greenroom.toml"
    config.write_text('color = "red"\n[image]\nquality = 90\n[camera]\ndevice = 2\n'
                      '[video]\ncrf = 30\n')
    out = tmp_path / "red.png"
    status, _, err = run(capsys, "image", sample_path("astronaut.jpg"), "-o", out,
                         "--config", config)
    assert status == 0, err
    corner = np.asarray(Image.open(out))[:40, -60:].reshape(-1, 3).mean(axis=0)
    assert corner[0] > 200 and corner[1] < 60 and corner[2] < 60
    clip = make_clip(tmp_path / "clip.mp4", frames=2, audio=False)
    status, _, err = run(capsys, "video", clip.path, "-o", tmp_path / "red.mp4", "--config",
                         config, "--no-progress")
    assert status == 0, err
    # An effect on the command line replaces the file's rather than clashing with it.
    status, _, err = run(capsys, "image", sample_path("astronaut.jpg"), "-o", tmp_path / "b.png",
                         "--config", config, "--blur", "5")
    assert status == 0, err
