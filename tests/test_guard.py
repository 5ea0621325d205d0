"""No output ever lands on an input: every (command, output, input) pair, by path and by inode.

Each case builds the input under a name, points the output at the same file (the same path, a
symlink, or a hard link, which shares the inode under another name), and checks that the
command refuses in one line naming both files, exits 1, and leaves the input's bytes alone.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image

from greenroom.cli.guard import Input, _printf_regex, check_sequence, same_file
from greenroom.errors import OutputError
from greenroom.samples import sample_path
from tests.cli import error_lines, no_temp_files, run
from tests.clips import make_clip


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory):
    return make_clip(tmp_path_factory.mktemp("clips") / "clip.mp4", frames=6, audio=False)


def copy_to(source: Path, dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(source.read_bytes())
    return dest


def alias(target: Path, where: Path, how: str) -> Path:
    """Another name for `target`: the path itself, a symlink or a hard link."""
    if how == "same":
        return target
    if how == "symlink":
        where.symlink_to(target)
    else:
        os.link(target, where)
    return where


def refused(capsys, args: list[object], victim: Path, output: Path) -> str:
    before = victim.read_bytes()
    status, _, err = run(capsys, *args)
    assert status == 1, err
    lines = error_lines(err)
    assert len(lines) == 1, err
    assert str(output) in lines[0] and str(victim) in lines[0], err  # names both
    assert "refusing to overwrite" in lines[0], err
    assert victim.read_bytes() == before
    return lines[0]


HOWS = ["same", "symlink", "hardlink"]


# -- greenroom image -----------------------------------------------------------------------------


@pytest.mark.parametrize("how", HOWS)
def test_image_output_is_the_background(capsys, tmp_path, how):
    photo = copy_to(sample_path("astronaut.jpg"), tmp_path / "photo.jpg")
    beach = copy_to(sample_path("rocket.jpg"), tmp_path / "beach.jpg")
    out = alias(beach, tmp_path / "out.jpg", how)
    line = refused(capsys, ["image", photo, "-o", out, "--background", beach], beach, out)
    assert "background image" in line
    # --force allows replacing the photo, never the background.
    line = refused(capsys, ["image", photo, "-o", out, "--background", beach, "--force"],
                   beach, out)
    assert "--force" not in line
    assert no_temp_files(tmp_path)


@pytest.mark.parametrize("how", ["symlink", "hardlink"])
def test_image_output_is_the_photo_another_way(capsys, tmp_path, how):
    photo = copy_to(sample_path("astronaut.jpg"), tmp_path / "photo.jpg")
    out = alias(photo, tmp_path / "out.jpg", how)
    line = refused(capsys, ["image", photo, "-o", out], photo, out)
    assert "input photo" in line and "--force" in line


def test_image_output_is_the_config_file(capsys, tmp_path):
    photo = copy_to(sample_path("astronaut.jpg"), tmp_path / "photo.jpg")
    config = tmp_path / "settings.toml"
    config.write_text("blur = 20\n")
    out = alias(config, tmp_path / "out.png", "hardlink")
    for extra in ([], ["--force"]):
        line = refused(capsys, ["image", photo, "-o", out, "--config", config, *extra],
                       config, out)
        assert "config file" in line


def test_image_output_is_the_model_file(capsys, tmp_path):
    photo = copy_to(sample_path("astronaut.jpg"), tmp_path / "photo.jpg")
    model = tmp_path / "mine.tflite"
    model.write_bytes(b"not really a model, but it must survive")
    out = alias(model, tmp_path / "out.png", "hardlink")
    line = refused(capsys, ["image", photo, "-o", out, "--model", model, "--force"], model, out)
    assert "model file" in line


def test_image_batch_never_writes_over_another_input(capsys, tmp_path):
    """photos/a.jpg -> photos/a.png would replace the input photos/a.png of the same batch."""
    folder = tmp_path / "photos"
    copy_to(sample_path("astronaut.jpg"), folder / "a.jpg")
    a_png = folder / "a.png"
    Image.open(folder / "a.jpg").save(a_png)
    before = a_png.read_bytes()
    status, _, err = run(capsys, "image", folder / "a.jpg", a_png, "-o", folder,
                         "--format", "png", "--mask")
    assert status == 1
    assert any("refusing to overwrite" in line and "a.png" in line for line in error_lines(err))
    assert a_png.read_bytes() == before


def test_image_batch_output_folder_holds_the_background(capsys, tmp_path):
    folder = tmp_path / "photos"
    copy_to(sample_path("astronaut.jpg"), folder / "beach.jpg")
    beach = copy_to(sample_path("rocket.jpg"), tmp_path / "out" / "beach.jpg")
    before = beach.read_bytes()
    status, _, err = run(capsys, "image", folder, "-o", beach.parent, "--background", beach)
    assert status == 1 and "background image" in err, err
    assert beach.read_bytes() == before


# -- greenroom video -----------------------------------------------------------------------------


@pytest.mark.parametrize("how", HOWS)
def test_video_output_is_the_background_video(capsys, tmp_path, clip, how):
    movie = copy_to(clip.path, tmp_path / "talk.mp4")
    waves = copy_to(clip.path, tmp_path / "waves.mp4")
    out = alias(waves, tmp_path / "out.mp4", how)
    line = refused(capsys, ["video", movie, "-o", out, "--background", waves], waves, out)
    assert "background video" in line
    assert no_temp_files(tmp_path)


def test_video_output_is_the_config_or_model(capsys, tmp_path, clip):
    movie = copy_to(clip.path, tmp_path / "talk.mp4")
    config = tmp_path / "greenroom.toml"
    config.write_text("[video]\ncrf = 30\n")
    out = alias(config, tmp_path / "out.mp4", "hardlink")
    assert "config file" in refused(capsys, ["video", movie, "-o", out, "--config", config],
                                    config, out)
    model = tmp_path / "m.onnx"
    model.write_bytes(b"model bytes")
    out = alias(model, tmp_path / "out.mkv", "hardlink")
    assert "model file" in refused(capsys, ["video", movie, "-o", out, "--model", model],
                                   model, out)


def test_video_png_sequence_would_overwrite_an_input(capsys, tmp_path, clip):
    movie = copy_to(clip.path, tmp_path / "talk.mp4")
    frames = tmp_path / "frames"
    beach = copy_to(sample_path("rocket.jpg"), frames / "beach.jpg")
    # A PNG named like the sequence's first frame, used as the background: frame 0 replaces it.
    first = frames / "00000.png"
    Image.open(beach).save(first)
    line = refused(capsys, ["video", movie, "-o", f"{frames}/", "--background", first],
                   first, first)
    assert "background image" in line


# -- greenroom camera ----------------------------------------------------------------------------


@pytest.mark.parametrize("how", HOWS)
def test_camera_record_is_the_source(capsys, tmp_path, clip, how):
    source = copy_to(clip.path, tmp_path / "clip.mp4")
    out = alias(source, tmp_path / "rec.mp4", how)
    line = refused(capsys, ["camera", "--source", source, "--record", out, "--max-frames", 1],
                   source, out)
    assert "source video" in line


def test_camera_record_is_a_background_or_the_config(capsys, tmp_path, clip):
    source = copy_to(clip.path, tmp_path / "clip.mp4")
    waves = copy_to(clip.path, tmp_path / "waves.mp4")
    base = ["camera", "--source", source, "--no-realtime", "--max-frames", 1]
    assert "background video" in refused(
        capsys, [*base, "--record", waves, "--background", waves], waves, waves)
    folder = tmp_path / "backgrounds"
    still = copy_to(sample_path("rocket.jpg"), folder / "rocket.jpg")
    out = alias(still, tmp_path / "rec.mkv", "hardlink")
    assert "background image" in refused(
        capsys, [*base, "--record", out, "--backgrounds", folder], still, out)
    config = tmp_path / "c.toml"
    config.write_text("[camera]\nloop = true\n")
    out = alias(config, tmp_path / "rec2.mkv", "hardlink")
    assert "config file" in refused(capsys, [*base, "--record", out, "--config", config],
                                    config, out)


# -- the guard itself ----------------------------------------------------------------------------


def test_same_file_by_path_and_by_inode(tmp_path):
    a = tmp_path / "a.png"
    a.write_bytes(b"x")
    os.link(a, tmp_path / "b.png")
    (tmp_path / "c.png").symlink_to(a)
    assert same_file(a, tmp_path / "b.png") and same_file(a, tmp_path / "c.png")
    assert same_file(a, tmp_path / "." / "a.png")
    assert same_file(tmp_path / "missing.png", tmp_path / "missing.png")  # same resolved path
    d = tmp_path / "d.png"
    d.write_bytes(b"x")
    assert not same_file(a, d)  # equal bytes, different files


def test_printf_patterns():
    assert _printf_regex("%05d.png") == r"-?\d+\.png"
    assert _printf_regex("f_%d_%%.png") == r"f_-?\d+_%\.png"


def test_sequence_check_only_matches_the_pattern(tmp_path):
    (tmp_path / "00001.png").write_bytes(b"x")
    (tmp_path / "cover.png").write_bytes(b"x")
    check_sequence(tmp_path, "%05d.png", [Input("background image", tmp_path / "cover.png")])
    with pytest.raises(OutputError, match="00001.png"):
        check_sequence(tmp_path, "%05d.png", [Input("background image", tmp_path / "00001.png")])
