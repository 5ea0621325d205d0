"""Focus blur: the far background is blurred more than what is near the person."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from greenroom.aux_models import aux_model_path
from greenroom.compositing import Blur
from tests.cli import error_lines, run
from tests.conftest import shared_path

pytest.importorskip("onnxruntime", reason="focus blur needs greenroom[onnx]")


@pytest.fixture(scope="module")
def dancer():
    """A DAVIS frame (a dancer on a square, a crowd behind her) and its hand-drawn mask."""
    folder = shared_path("data", "davis-dance-twirl")
    image = cv2.imread(str(sorted((folder / "images").iterdir())[40]))[:, :, ::-1].copy()
    mask = cv2.imread(str(sorted((folder / "masks").iterdir())[40]), cv2.IMREAD_GRAYSCALE)
    return image, (mask > 127).astype(np.float32)


def sharpness(image: np.ndarray, region: np.ndarray) -> float:
    """Detail finer than about 6 pixels: what a blur takes away first."""
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return float(np.abs(gray - cv2.GaussianBlur(gray, (0, 0), 6))[region].mean())


def test_far_background_loses_more_detail_than_near(dancer):
    from greenroom.compositing.focus import DepthEstimator, FocusBlur

    image, alpha = dancer
    focus = FocusBlur(DepthEstimator(aux_model_path("tcmonodepth", shared_path("models"),
                                                    download=False)), strength=15)
    out = focus.apply(image, alpha)
    plain = Blur(15).apply(image, alpha)
    background = cv2.erode(1 - alpha, np.ones((25, 25), np.uint8)) > 0.5
    height = image.shape[0]
    far = background.copy()
    far[height // 3 :] = False  # the crowd at the top: far from the camera
    near = background.copy()
    near[: 2 * height // 3] = False  # the ground by her feet: as near as she is
    kept_far = sharpness(out, far) / sharpness(image, far)
    kept_near = sharpness(out, near) / sharpness(image, near)
    assert kept_near > 1.5 * kept_far  # the ground by her stays sharper than the crowd
    assert sharpness(out, near) > 2 * sharpness(plain, near)  # unlike the uniform blur
    person = cv2.erode(alpha, np.ones((9, 9), np.uint8)) > 0.5
    assert np.abs(out[person].astype(int) - image[person]).mean() < 2  # she stays sharp


def test_focus_goes_with_blur_only(capfd, astronaut_rgb, tmp_path):
    from greenroom.samples import sample_path

    code, _, err = run(capfd, "image", sample_path("astronaut.jpg"), "-o", tmp_path / "x.png",
                       "--blur-style", "focus", "--color", "red")
    assert code == 2 and "--blur-style goes with --blur" in err


def test_image_focus_blur_from_the_command_line(capfd, tmp_path):
    from greenroom.samples import sample_path

    out = tmp_path / "focus.jpg"
    code, _, err = run(capfd, "image", sample_path("astronaut.jpg"), "-o", out,
                       "--blur-style", "focus", "--models-dir", shared_path("models"))
    assert code == 0, err
    assert out.is_file() and not error_lines(err)
