"""`greenroom image` end to end on files in a temporary folder, including every bad input."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from greenroom.samples import sample_path
from tests.cli import run


@pytest.fixture()
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "in" / "person.jpg"
    path.parent.mkdir()
    path.write_bytes(sample_path("astronaut.jpg").read_bytes())
    return path


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares a size but holds (almost) no pixels: a bomb or a zero-size image."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 16)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat)
            + png_chunk(b"IEND", b""))


def test_blur_one_photo(capsys, photo, tmp_path):
    target = tmp_path / "out.jpg"
    status, _, err = run(capsys, "image", photo, "-o", target, "--blur")
    assert status == 0, err
    out = np.asarray(Image.open(target))
    source = np.asarray(Image.open(photo))
    assert out.shape == source.shape
    # Face kept, background corner changed (blurred).
    assert np.abs(out[50:140, 200:270].astype(int) - source[50:140, 200:270]).mean() < 4
    corner = (slice(0, 120), slice(400, 512))
    assert np.abs(out[corner].astype(int) - source[corner]).mean() > 4
    assert err.strip() == f"greenroom: wrote {target}"  # no "1 of 1 image" for one photo


def test_mask_output_is_grayscale_png_same_size(capsys, photo, tmp_path):
    target = tmp_path / "mask.png"
    status, _, err = run(capsys, "image", photo, "-o", target, "--mask")
    assert status == 0, err
    mask = Image.open(target)
    assert mask.mode == "L" and mask.size == (512, 512)
    values = np.asarray(mask)
    assert values[50:140, 200:270].mean() > 240 and values[0:100, 420:512].mean() < 10


def test_transparent_png_has_alpha(capsys, photo, tmp_path):
    target = tmp_path / "cut.png"
    assert run(capsys, "image", photo, "-o", target, "--transparent")[0] == 0
    rgba = np.asarray(Image.open(target))
    assert rgba.shape == (512, 512, 4)
    assert rgba[50:140, 200:270, 3].mean() > 240 and rgba[0:100, 420:512, 3].mean() < 10


def test_color_and_background(capsys, photo, tmp_path):
    target = tmp_path / "green.png"
    assert run(capsys, "image", photo, "-o", target, "--color", "#00ff00")[0] == 0
    corner = np.asarray(Image.open(target))[0:100, 420:512].astype(int)
    assert np.abs(corner - (0, 255, 0)).mean() < 5
    target = tmp_path / "rocket.png"
    background = sample_path("rocket.jpg")
    assert run(capsys, "image", photo, "-o", target, "--background", background)[0] == 0
    assert Image.open(target).size == (512, 512)


def test_folder_in_folder_out_keeps_names(capsys, tmp_path):
    source = tmp_path / "in"
    source.mkdir()
    for name in ["00002.jpg", "00005.jpg", "00007.png"]:
        Image.open(sample_path("astronaut.jpg")).resize((128, 128)).save(source / name)
    (source / "notes.txt").write_text("not an image, ignored in a folder")
    status, _, err = run(capsys, "image", source, "-o", tmp_path / "out", "--mask")
    assert status == 0, err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "00002.png", "00005.png", "00007.png"
    ]
    status, _, err = run(capsys, "image", source, "-o", tmp_path / "blur", "--blur", "5")
    assert status == 0, err
    assert sorted(p.name for p in (tmp_path / "blur").iterdir()) == [
        "00002.jpg", "00005.jpg", "00007.png"
    ]


def test_batch_goes_on_after_a_bad_file_and_reports_it(capsys, photo, tmp_path):
    bad = tmp_path / "in" / "broken.jpg"
    bad.write_bytes(b"this is not a jpeg")
    status, _, err = run(capsys, "image", photo, bad, tmp_path / "in" / "gone.png",
                         "-o", tmp_path / "out")
    assert status == 1
    assert (tmp_path / "out" / "person.jpg").exists()
    assert "broken.jpg: not an image" in err
    assert "gone.png: no such file" in err
    assert "1 of 3 images written" in err and "2 failed" in err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        (b"", "empty file"),
        (b"hello, I am text", "not an image"),
        ("truncated", "corrupt or truncated"),
        (png_header_only(40000, 40000), "too large"),
        (png_header_only(0, 10), None),  # zero width: Pillow or we must refuse it
    ],
    ids=["missing", "empty", "not-image", "truncated", "bomb", "zero-size"],
)
def test_bad_inputs_fail_with_one_line_naming_the_file(capsys, tmp_path, content, message):
    bad = tmp_path / "bad.png"
    if content == "truncated":
        data = sample_path("astronaut.jpg").read_bytes()
        bad = tmp_path / "bad.jpg"
        bad.write_bytes(data[: len(data) // 3])
    elif content is not None:
        bad.write_bytes(content)
    target = tmp_path / "out.png"
    status, out, err = run(capsys, "image", bad, "-o", target)
    assert status == 1
    error_lines = [line for line in err.splitlines() if "error" in line]
    assert len(error_lines) == 1 and str(bad) in error_lines[0]
    if message:
        assert message in error_lines[0]
    assert not target.exists()


def test_unknown_colour(capsys, photo, tmp_path):
    status, _, err = run(capsys, "image", photo, "-o", tmp_path / "o.png", "--color", "blurple")
    assert status == 1 and "blurple" in err and "unknown colour" in err


def test_unreadable_background(capsys, photo, tmp_path):
    bad = tmp_path / "bg.jpg"
    bad.write_bytes(b"\xff\xd8 garbage")
    status, _, err = run(capsys, "image", photo, "-o", tmp_path / "o.png", "--background", bad)
    assert status == 1 and str(bad) in err
    status, _, err = run(capsys, "image", photo, "-o", tmp_path / "o.png", "--background",
                         tmp_path / "missing.jpg")
    assert status == 1 and "missing.jpg: no such file" in err


def test_two_effects_is_a_usage_error(capsys, photo, tmp_path):
    status, _, err = run(capsys, "image", photo, "-o", tmp_path / "o.png", "--mask", "--blur")
    assert status == 2 and "choose one effect" in err


def test_output_in_missing_folder(capsys, photo, tmp_path):
    target = tmp_path / "nowhere" / "out.png"
    status, _, err = run(capsys, "image", photo, "-o", target)
    assert status == 1 and "does not exist" in err and str(target) in err


def test_transparent_into_jpeg_is_refused(capsys, photo, tmp_path):
    status, _, err = run(capsys, "image", photo, "-o", tmp_path / "o.jpg", "--transparent")
    assert status == 1 and "cannot store transparency" in err


@pytest.fixture()
def readonly_dir(tmp_path: Path) -> Path:
    """A folder this process cannot create files in (root ignores chmod, so use sysfs)."""
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        (folder / "probe").touch()
    except PermissionError:
        return folder
    (folder / "probe").unlink()
    for candidate in (Path("/sys"), Path("/proc/sys")):
        try:
            (candidate / "greenroom-probe.png").touch()
        except OSError:
            return candidate
    pytest.skip("no folder here refuses writes to this user")


def test_output_in_readonly_folder(capsys, photo, readonly_dir):
    target = readonly_dir / "out.png"
    status, _, err = run(capsys, "image", photo, "-o", target)
    assert status == 1 and str(target) in err
    assert not target.exists()


def test_refuses_to_overwrite_its_input(capsys, photo):
    before = photo.read_bytes()
    status, _, err = run(capsys, "image", photo, "-o", photo)
    assert status == 1 and "refusing to overwrite" in err
    assert photo.read_bytes() == before
    status, _, err = run(capsys, "image", photo, "-o", photo, "--force")
    assert status == 0
    assert photo.read_bytes() != before


def test_crash_while_writing_leaves_no_partial_file(monkeypatch, capsys, photo, tmp_path):
    target = tmp_path / "out.png"
    target.write_bytes(b"previous result")

    def explode(self, fp, *args, **kwargs):
        Path(fp).write_bytes(b"half an image")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", explode)
    status, _, err = run(capsys, "image", photo, "-o", target)
    assert status == 1 and "no space left on the device" in err  # the one wording
    assert target.read_bytes() == b"previous result"
    assert sorted(os.listdir(tmp_path)) == ["in", "out.png"]  # no temporary file left


def test_help_lists_every_option(capsys):
    status, out, _ = run(capsys, "image", "--help")
    assert status == 0
    for option in ["--blur", "--background", "--color", "--transparent", "--mask", "--model",
                   "--threads", "--force", "--format", "--quality", "--output"]:
        assert option in out
    status, out, _ = run(capsys, "--help")
    assert status == 0 and "image" in out and "demo" in out


def test_demo_writes_every_effect(capsys, tmp_path):
    status, out, err = run(capsys, "demo", "-o", tmp_path / "demo")
    assert status == 0, err
    names = sorted(p.name for p in (tmp_path / "demo").iterdir())
    assert names == sorted(["astronaut-blur.jpg", "astronaut-background.jpg", "astronaut-green.png",
                            "astronaut-transparent.png", "astronaut-mask.png"])
    assert Image.open(tmp_path / "demo" / "astronaut-transparent.png").mode == "RGBA"
