"""Low-light enhancement: brighter, steady over time, detail kept, well-lit frames left alone."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from greenroom.aux_models import AUX_MODELS, aux_model_path
from greenroom.compositing import Blur
from greenroom.enhance.lowlight import LowLightEnhancer
from greenroom.errors import GreenroomError
from greenroom.pipeline import Processor
from greenroom.pipeline.controls import LiveControls
from tests.conftest import shared_path

pytest.importorskip("onnxruntime", reason="low light needs greenroom[onnx]")


@pytest.fixture(scope="module")
def model_path():
    return aux_model_path("semantic-guided-llie", shared_path("models"), download=False)


@pytest.fixture(scope="module")
def photo(astronaut_rgb):
    return cv2.resize(astronaut_rgb, (640, 360))


def test_a_dim_picture_is_brightened_and_keeps_its_detail(model_path, photo):
    dark = (photo * 0.2).astype(np.uint8)
    out = LowLightEnhancer(model_path).apply(dark)
    assert out.mean() > 2.5 * dark.mean()
    # The gain is smooth, so the picture's own edges survive in place: the brightened frame's
    # edges line up with the dim frame's (high correlation of their Laplacians).
    edges_in = cv2.Laplacian(cv2.cvtColor(dark, cv2.COLOR_RGB2GRAY), cv2.CV_32F)
    edges_out = cv2.Laplacian(cv2.cvtColor(out, cv2.COLOR_RGB2GRAY), cv2.CV_32F)
    assert np.corrcoef(edges_in.ravel(), edges_out.ravel())[0, 1] > 0.8


def test_a_well_lit_picture_is_left_nearly_alone(model_path, photo):
    out = LowLightEnhancer(model_path).apply(photo)
    assert abs(out.mean() - photo.mean()) < 0.25 * photo.mean()


def test_no_brightness_pumping_when_the_person_moves(model_path, photo):
    enhancer = LowLightEnhancer(model_path)
    dark = (photo * 0.2).astype(np.uint8)
    means = []
    for shift in range(0, 120, 2):  # the picture slides sideways, as a person moving would
        frame = np.roll(dark, shift, axis=1)
        means.append(enhancer.apply(frame).mean())
    settled = np.array(means[10:])
    assert settled.std() < 0.03 * settled.mean()
    assert np.abs(np.diff(settled)).max() < 0.02 * settled.mean()


def test_strength_zero_is_the_camera_picture_and_l_toggles_it(model_path, photo):
    enhancer = LowLightEnhancer(model_path, strength=0.6)
    processor = Processor(Blur(10), model="selfie-general", enhancer=enhancer)
    controls = LiveControls(processor)
    controls.handle_key(ord("l"))
    assert enhancer.strength == 0 and enhancer.apply(photo) is photo
    controls.handle_key(ord("l"))
    assert enhancer.strength == pytest.approx(0.6)


def test_a_missing_model_says_where_to_get_it(tmp_path):
    with pytest.raises(GreenroomError, match="sha256") as error:
        aux_model_path("zero-dce", tmp_path, download=False)
    assert AUX_MODELS["zero-dce"].filename in str(error.value)
    with pytest.raises(GreenroomError, match="unknown helper model"):
        aux_model_path("nope", tmp_path)


def test_video_low_light_brightens_the_output(capfd, tmp_path, photo):
    import av

    from tests.cli import run

    clip = tmp_path / "dim.mp4"
    with av.open(str(clip), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 640, 360, "yuv420p"
        for i in range(12):
            dim = (np.roll(photo, 4 * i, axis=1) * 0.2).astype(np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(dim, format="rgb24")))
        container.mux(stream.encode(None))

    def mean_brightness(path):
        with av.open(str(path)) as container:
            return np.mean([f.to_ndarray(format="gray").mean() for f in container.decode(video=0)])

    models = shared_path("models")
    bright, plain = tmp_path / "bright.mp4", tmp_path / "plain.mp4"
    code, _, err = run(capfd, "video", clip, "-o", bright, "--low-light", "--no-progress",
                       "--models-dir", models)
    assert code == 0, err
    assert run(capfd, "video", clip, "-o", plain, "--no-progress")[0] == 0
    assert mean_brightness(bright) > 2 * mean_brightness(plain)
