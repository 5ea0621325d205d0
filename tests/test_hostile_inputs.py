"""The command-line findings of the hostile-input campaign, each a test that failed before its fix.

Deep pixels (16-bit, float) scaled rather than clipped; a model file that is not a model; a
picture declaring 16000x16000 read as a video or a camera; settings files are in
test_cli_camera.py (`test_bad_config_file_is_one_line`).
"""

from __future__ import annotations

import io
import os
import signal
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from greenroom.errors import InputError
from greenroom.samples import sample_path
from greenroom.sources.camera import CameraSettings, CameraSource
from greenroom.sources.images import read_image
from greenroom.sources.video import VideoError, VideoFileSource
from greenroom.web.uploads import decode_upload
from tests.cli import error_lines, interrupt_once_writing, run
from tests.clips import make_clip
from tests.test_cli_image import png_header_only
from tests.test_live import FakeCapture, opener_sequence

# -- deep pixels ---------------------------------------------------------------------------------


def gray16(path: Path, level8: int) -> Path:
    """A 16-bit grayscale PNG whose pixels are `level8` in 8-bit terms, with a gradient."""
    ramp = np.linspace(-20, 20, 64)[None, :].repeat(48, axis=0)
    values = np.clip((level8 + ramp) * 257, 0, 65535).astype(np.uint16)
    Image.fromarray(values).save(path)
    assert Image.open(path).mode.startswith("I")
    return path


def test_16_bit_grayscale_png_is_scaled_not_clipped(tmp_path):
    image = read_image(gray16(tmp_path / "deep.png", 115))
    assert image.shape == (48, 64, 3) and image.dtype == np.uint8
    assert abs(image.mean() - 115) < 1  # Pillow's convert("RGB") clipped it to ~229
    assert image[:, 0].mean() < image[:, -1].mean()  # the gradient survives


def test_16_bit_upload_goes_through_the_same_scaling(tmp_path):
    path = gray16(tmp_path / "deep.png", 115)
    assert abs(decode_upload(path.read_bytes(), "deep.png").mean() - 115) < 1


def test_float_tiff_in_0_to_1_is_scaled(tmp_path):
    path = tmp_path / "float.tif"
    Image.fromarray(np.full((32, 40), 0.45, np.float32)).save(path)
    image = read_image(path)
    assert image.shape == (32, 40, 3)
    assert abs(image.mean() - 0.45 * 255) < 1  # was black


@pytest.mark.parametrize("value", [450.0, -1.0, np.nan])
def test_float_tiff_out_of_range_is_refused_in_one_line(tmp_path, value):
    path = tmp_path / "float.tif"
    Image.fromarray(np.full((8, 8), value, np.float32)).save(path)
    with pytest.raises(InputError) as info:
        read_image(path)
    message = str(info.value)
    assert message.startswith(str(path)) and "floating-point" in message and "\n" not in message


def test_16_bit_photo_through_the_command(capsys, tmp_path):
    path = gray16(tmp_path / "deep.png", 115)
    out = tmp_path / "out.png"
    status, _, err = run(capsys, "image", path, "-o", out, "--color", "black")
    assert status == 0, err
    result = np.asarray(Image.open(out).convert("L"), dtype=float)
    assert result.max() < 150  # nothing washed out towards white


# -- a model file that is not a model ------------------------------------------------------------


@pytest.mark.parametrize("content", [b"", b"\x00garbage" * 100], ids=["empty", "garbage"])
def test_model_file_that_is_not_a_model_is_one_line(capsys, tmp_path, content):
    model = tmp_path / "garbage.tflite"
    model.write_bytes(content)
    out = tmp_path / "out.jpg"
    status, _, err = run(capsys, "image", sample_path("astronaut.jpg"), "-o", out,
                         "--model", model)
    assert status == 1
    assert "Traceback" not in err
    lines = error_lines(err)
    assert len(lines) == 1 and str(model) in lines[0] and "model" in lines[0], err
    assert not out.exists()


# -- the pixel limit for every source ------------------------------------------------------------


def test_huge_picture_opened_as_a_video_is_refused(tmp_path):
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_header_only(16000, 16000))
    with pytest.raises(VideoError, match="too large: 16000x16000"):
        VideoFileSource(bomb)


@pytest.mark.parametrize(
    "args",
    [
        ["video", "{bomb}", "-o", "{out}.mp4"],
        ["video", "{clip}", "-o", "{out}.mp4", "--background", "{bomb_video}"],
        ["camera", "--source", "{bomb_video}", "--record", "{out}.mp4"],
    ],
    ids=["video-input", "video-background", "camera-source"],
)
def test_huge_picture_as_any_video_source_is_one_line(capsys, tmp_path, args):
    clip = make_clip(tmp_path / "clip.mp4", frames=2, audio=False)
    bomb = tmp_path / "bomb.gif"  # a PNG under a name that reads as a video background
    bomb.write_bytes(png_header_only(16000, 16000))
    values = {"bomb": bomb, "clip": clip.path, "out": tmp_path / "out", "bomb_video": bomb}
    status, _, err = run(capsys, *[a.format(**values) for a in args])
    assert status == 1
    lines = error_lines(err)
    assert len(lines) == 1 and "16000x16000" in lines[0] and str(bomb) in lines[0], err
    assert not (tmp_path / "out.mp4").exists()


class HugeCapture(FakeCapture):
    """A camera (or stream) that claims frames far over the pixel limit."""

    def get(self, prop: int) -> float:
        if prop == cv2.CAP_PROP_FRAME_WIDTH:
            return 16000.0
        if prop == cv2.CAP_PROP_FRAME_HEIGHT:
            return 16000.0
        return super().get(prop)


def test_camera_declaring_huge_frames_is_refused():
    capture = HugeCapture(np.zeros((2, 2, 3), np.uint8), 1)
    with pytest.raises(InputError, match="too large: 16000x16000"):
        CameraSource(CameraSettings(device=0), opener_sequence([capture]))
    assert not capture.opened  # released, not leaked


def test_upload_decoding_is_unchanged_for_ordinary_pictures():
    buffer = io.BytesIO()
    Image.open(sample_path("astronaut.jpg")).save(buffer, format="PNG")
    assert decode_upload(buffer.getvalue(), "a.png").dtype == np.uint8


# -- a run killed outright -----------------------------------------------------------------------


def test_temp_file_of_a_killed_run_is_removed_by_the_next(capsys, caplog, tmp_path):
    clip = make_clip(tmp_path / "long.mp4", frames=300, audio=False)
    out = tmp_path / "out" / "talk.mp4"
    out.parent.mkdir()
    status, _ = interrupt_once_writing(
        ["video", str(clip.path), "-o", str(out), "--no-progress"],
        out.parent / ".talk.mp4.tmp-*", 0.3, signal.SIGKILL,
    )
    assert status == -signal.SIGKILL
    left = [p for p in out.parent.iterdir()]
    assert len(left) == 1 and left[0].name.startswith(".talk.mp4.tmp-") and not out.exists()
    # A live writer's temporary file is never touched: only the dead process's goes.
    live = out.parent / f".other.png.tmp-{os.getpid()}-abcd1234.png"
    live.write_bytes(b"being written")
    status, _, err = run(capsys, "video", clip.path, "-o", out, "--no-progress", "--mask")
    assert status == 0, err
    assert f"removed {left[0]}, left by an interrupted run" in caplog.text  # a CLI warning
    assert sorted(p.name for p in out.parent.iterdir()) == [live.name, "talk.mp4"]


def test_eval_bad_masks_are_one_line(capfd, tmp_path):
    """A mask of another size and a truncated mask: one line each, status 1, no traceback."""
    import cv2

    from greenroom.samples import sample_path
    from tests.cli import run as run_cli

    photo = cv2.imread(str(sample_path("astronaut.jpg")))
    whole = np.zeros((512, 512), np.uint8)
    whole[100:400, 100:400] = 255
    ok, png = cv2.imencode(".png", whole)
    cases = {
        "small": cv2.imencode(".png", np.zeros((100, 100), np.uint8))[1].tobytes(),
        "truncated": png.tobytes()[: len(png) // 2],
    }
    for name, mask in cases.items():
        root = tmp_path / name
        (root / "images").mkdir(parents=True)
        (root / "masks").mkdir()
        cv2.imwrite(str(root / "images" / "a.jpg"), photo)
        (root / "masks" / "a.png").write_bytes(mask)
        code, _, err = run_cli(capfd, "eval", root)
        assert code == 1 and "Traceback" not in err, err
        errors = [line for line in err.splitlines() if "error" in line]
        assert len(errors) == 1 and "a.png" in errors[0], err
