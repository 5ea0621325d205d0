"""Auto-framing: follows the person smoothly, holds still, holds on, and eases back."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from greenroom.compositing import Blur
from greenroom.compositing.framing import AutoFramer, Crop
from greenroom.pipeline import Processor
from greenroom.pipeline.controls import LiveControls
from tests.conftest import shared_path

W, H = 640, 360


def matte_with_person(cx: float, top: float = 0.3, height: float = 0.5, width: float = 0.15,
                      noise: float = 0.0, seed: int = 0) -> np.ndarray:
    """A person-shaped box: centre x, head at `top`, as fractions of the frame."""
    alpha = np.zeros((H, W), np.float32)
    rng = np.random.default_rng(seed)
    jitter = rng.uniform(-noise, noise, 3) if noise else np.zeros(3)
    x0 = int((cx - width / 2 + jitter[0]) * W)
    y0 = int((top + jitter[1]) * H)
    alpha[y0 : min(H, y0 + int((height + jitter[2]) * H)), x0 : x0 + int(width * W)] = 1.0
    return alpha


def run(framer: AutoFramer, mattes: list[np.ndarray]) -> list[Crop]:
    return [Crop(**vars(framer.update(m))) for m in mattes]


def test_it_frames_the_person_centred_with_headroom():
    framer = AutoFramer()
    crop = run(framer, [matte_with_person(0.4)] * 200)[-1]
    assert crop.cx == pytest.approx(0.4, abs=0.03)
    assert crop.height < 0.8  # zoomed in on a person half the frame tall
    # the person's head sits near the top of the crop, with headroom
    head_in_crop = (0.3 - (crop.cy - crop.height / 2)) / crop.height
    assert 0.03 < head_in_crop < 0.2


def test_no_jitter_while_the_person_sits_still():
    framer = AutoFramer()
    run(framer, [matte_with_person(0.5)] * 150)
    # a noisy matte of a still person (edges moving by up to 1% each frame) moves nothing
    crops = run(framer, [matte_with_person(0.5, noise=0.01, seed=i) for i in range(100)])
    assert len({(c.cx, c.cy, c.height) for c in crops}) == 1


def test_it_follows_a_move_smoothly_within_the_speed_limit():
    framer = AutoFramer(max_pan=0.02)
    run(framer, [matte_with_person(0.4)] * 150)
    crops = run(framer, [matte_with_person(0.6)] * 200)
    steps = np.abs(np.diff([c.cx for c in crops]))
    assert steps.max() <= 0.02 + 1e-9  # never a jump
    assert crops[-1].cx == pytest.approx(0.6, abs=0.03)  # and it arrives


def test_it_holds_when_the_person_leaves_then_eases_back_out():
    framer = AutoFramer(hold_frames=30)
    settled = run(framer, [matte_with_person(0.3)] * 150)[-1]
    empty = np.zeros((H, W), np.float32)
    held = run(framer, [empty] * 30)
    assert all((c.cx, c.height) == (settled.cx, settled.height) for c in held)
    after = run(framer, [empty] * 300)
    assert after[-1].height == pytest.approx(1.0, abs=0.01)  # back to the whole frame


def test_the_output_keeps_the_size_and_shows_the_crop():
    framer = AutoFramer()
    image = np.zeros((H, W, 3), np.uint8)
    image[:, : W // 2] = (255, 0, 0)  # left half red, right half blue
    image[:, W // 2 :] = (0, 0, 255)
    alpha = matte_with_person(0.25, height=0.3)  # small: the zoom reaches its limit, 2x
    for _ in range(200):
        out = framer.frame(image, alpha)
    assert out.shape == image.shape
    assert (out[:, :, 0] > 200).mean() > 0.9  # zoomed onto the left (red) side
    framer.enabled = False
    assert framer.frame(image, alpha) is image


def test_the_a_key_turns_it_on_and_off():
    framer = AutoFramer()
    processor = Processor(Blur(10), model="selfie-general", framing=framer)
    controls = LiveControls(processor)
    controls.handle_key(ord("a"))
    assert not framer.enabled and controls.message == "auto-framing off"
    controls.handle_key(ord("a"))
    assert framer.enabled
    assert "a auto-framing" in controls.help_lines() or not controls.help  # listed in h


def test_a_real_dancer_stays_in_the_picture_and_the_camera_moves_smoothly():
    """DAVIS dance-twirl, hand-labelled masks: a fast full-body dancer, followed without cuts."""
    folder = shared_path("data", "davis-dance-twirl", "masks")
    masks = [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in sorted(folder.glob("*.png"))]
    framer = AutoFramer()
    inside, crops = [], []
    for mask in masks:
        alpha = (mask > 127).astype(np.float32)
        crop = framer.update(alpha)
        crops.append((crop.cx, crop.cy, crop.height))
        xs = np.flatnonzero(alpha.sum(axis=0) > 0) / alpha.shape[1]
        half_width = crop.height / 2
        left, right = crop.cx - half_width - 0.02, crop.cx + half_width + 0.02
        inside.append(xs.min() >= left and xs.max() <= right)
    assert np.mean(inside) > 0.9  # the dancer is in the shot nearly all the time
    steps = np.abs(np.diff(np.array(crops), axis=0))
    assert steps[:, :2].max() <= framer.max_pan + 1e-9
    assert steps[:, 2].max() <= framer.max_zoom_step + 1e-9
    # she fills most of the frame, so it zooms in only a little, but it does frame her
    assert min(c[2] for c in crops) < 0.99


def test_video_auto_frame_keeps_size_and_frames(capfd, tmp_path):
    import av

    from tests.cli import run as run_cli
    from tests.clips import make_clip

    clip = make_clip(tmp_path / "in.mp4", frames=30, width=320, height=180, audio=False)
    out = tmp_path / "out.mp4"
    code, _, err = run_cli(capfd, "video", clip.path, "-o", out, "--auto-frame", "--no-progress")
    assert code == 0, err
    with av.open(str(out)) as container:
        frames = list(container.decode(video=0))
    assert len(frames) == 30 and (frames[0].width, frames[0].height) == (320, 180)
