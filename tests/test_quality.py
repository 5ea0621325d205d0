"""`--matte-quality`, licences in view, and real alpha from matting models.

The plan and licence rules, and the band-free refinement that keeps a matting model's soft
alpha, are tested on synthetic frames and the tiny RVM-signature model; the commands with the
real MODNet and RVM files run when ../shared is present.
"""

from __future__ import annotations

import re

import cv2
import numpy as np
import pytest

from greenroom.compositing import Transparent
from greenroom.compositing.effects import alpha_to_uint8
from greenroom.matte import GuidedRefiner
from greenroom.segmentation import load_segmenter, registry
from greenroom.segmentation.quality import (
    MATTING_GUIDED,
    QUALITIES,
    is_matting,
    plan,
    refiner_for,
)
from greenroom.segmentation.recurrent import RecurrentMattingSegmenter
from tests.cli import run
from tests.clips import make_clip
from tests.conftest import shared_path

#: Copyleft or non-commercial licence names (GPL, AGPL, LGPL, CC BY-NC...).
RESTRICTED = re.compile(r"GPL|\bNC\b|non-?commercial", re.IGNORECASE)


def test_plans():
    assert plan("balanced", "photo").model == "auto" and plan("balanced", "photo").refine
    assert plan("balanced", "video").temporal
    assert not plan("fast", "photo").refine and plan("fast", "photo").model == "auto"
    assert plan("best", "photo").model == "modnet"
    assert plan("best", "video").model == "rvm-mobilenetv3" and plan("best", "video").temporal
    with pytest.raises(ValueError, match="quality must be one of fast, balanced, best"):
        plan("ultra", "photo")


def test_a_copyleft_or_non_commercial_model_is_never_a_default():
    for info in registry.MODELS.values():
        licence = info.license.split(" (")[0]  # the licence itself, not its history
        if RESTRICTED.search(licence):
            assert info.terms, f"{info.name} must state its terms"
    restricted = {name for name, info in registry.MODELS.items() if info.terms}
    assert "rvm-mobilenetv3" in restricted
    for quality in ("fast", "balanced"):
        for kind in ("photo", "video"):
            assert plan(quality, kind).model not in restricted
    # `best` may pick one, and then says so with its terms.
    assert "GPL-3.0" in plan("best", "video").describe()
    assert "Apache-2.0" in plan("best", "photo").describe()


def test_only_matting_models_get_the_band_free_refinement(tmp_path):
    from tests.test_recurrent import build_rvm_like

    rvm_like = RecurrentMattingSegmenter(build_rvm_like(tmp_path / "rvm_like.onnx"))
    assert is_matting(rvm_like)
    refiner = refiner_for(rvm_like)
    assert isinstance(refiner, GuidedRefiner) and refiner.params == MATTING_GUIDED
    assert refiner_for(rvm_like, refine=False) is False
    general = load_segmenter("selfie-general")
    assert not is_matting(general) and refiner_for(general) is True
    assert registry.MODELS["modnet"].matting and registry.MODELS["rvm-mobilenetv3"].matting


def soft_fraction(alpha: np.ndarray) -> float:
    return float(np.mean((alpha > 0.05) & (alpha < 0.95)))


def test_band_free_refinement_keeps_soft_alpha():
    """A wide soft edge (as in hair) stays soft; the segmentation band would harden it."""
    height, width = 360, 640
    ramp = np.clip((np.arange(width, dtype=np.float32) - 260) / 120, 0, 1)  # 120 px soft edge
    alpha_true = np.tile(ramp, (height, 1))
    frame = np.dstack([(alpha_true * 200 + 30).astype(np.uint8)] * 3)  # the edge is visible
    small = cv2.resize(alpha_true, (256, 144), interpolation=cv2.INTER_AREA)
    soft = GuidedRefiner(MATTING_GUIDED).refine(frame, small)
    hard = GuidedRefiner().refine(frame, small)
    assert soft_fraction(soft) > 2 * soft_fraction(hard)
    assert np.abs(soft - alpha_true).mean() < 0.02
    # The compositor takes that alpha as it is: the cut-out's alpha is the matte, rounded.
    rgba = Transparent().apply(frame, soft)
    np.testing.assert_array_equal(rgba[:, :, 3], alpha_to_uint8(soft))


@pytest.fixture()
def shared_models(monkeypatch):
    monkeypatch.setenv(registry.ENV_MODELS_DIR, str(shared_path("models")))


def test_best_on_a_photo_uses_modnet_and_keeps_hair_soft(capsys, shared_models, tmp_path):
    portrait = sorted(shared_path("data", "eg1800-dev", "images").iterdir())[0]
    outputs = {}
    for quality in ("balanced", "best"):
        out = tmp_path / f"{quality}.png"
        status, _, err = run(capsys, "image", portrait, "-o", out, "--transparent",
                             "--matte-quality", quality)
        assert status == 0, err
        outputs[quality] = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
        if quality == "best":
            assert "--matte-quality best: modnet (Apache-2.0)" in err
    best, balanced = (outputs[q][:, :, 3].astype(np.float32) / 255 for q in ("best", "balanced"))
    assert soft_fraction(best) > 1.5 * soft_fraction(balanced)


def test_best_on_a_video_uses_rvm_and_states_its_terms(capsys, shared_models, tmp_path):
    clip = make_clip(tmp_path / "clip.mp4", frames=6, audio=False)
    status, _, err = run(capsys, "video", clip.path, "-o", tmp_path / "out.mp4",
                         "--matte-quality", "best")
    assert status == 0, err
    assert "--matte-quality best: rvm-mobilenetv3 (GPL-3.0; GPL-3.0:" in err


def test_quality_and_model_together_are_refused(capsys, astronaut_rgb, tmp_path):
    photo = tmp_path / "photo.png"
    cv2.imwrite(str(photo), astronaut_rgb[:, :, ::-1])
    status, _, err = run(capsys, "image", photo, "-o", tmp_path / "out.png",
                         "--matte-quality", "best", "--model", "selfie-general")
    assert status == 2 and "give --matte-quality or --model, not both" in err
    assert not (tmp_path / "out.png").exists()


@pytest.mark.parametrize("quality", [q for q in QUALITIES if q != "best"])
def test_fast_and_balanced_need_no_download(capsys, astronaut_rgb, tmp_path, quality,
                                            monkeypatch):
    monkeypatch.setenv(registry.ENV_MODELS_DIR, str(tmp_path / "empty"))
    photo = tmp_path / "photo.png"
    cv2.imwrite(str(photo), astronaut_rgb[:, :, ::-1])
    status, _, err = run(capsys, "image", photo, "-o", tmp_path / "out.png",
                         "--matte-quality", quality)
    assert status == 0, err
    assert f"--matte-quality {quality}: auto" in err


def test_eval_scores_a_quality_level(capsys, shared_models):
    import json

    photos = shared_path("data", "eg1800-dev")
    video = shared_path("data", "davis-dance-twirl")
    status, out, err = run(capsys, "eval", photos, "--sequence", video, "--matte-quality", "best",
                           "--limit", "4", "--json")
    assert status == 0, err
    rows = {row["stage"]: row for row in json.loads(out)}
    assert set(rows) == {"best (modnet)", "best (rvm-mobilenetv3)"}
    assert rows["best (modnet)"]["dataset"] == "eg1800-dev"
    assert rows["best (rvm-mobilenetv3)"]["temporal_instability_pred"] is not None
    assert rows["best (modnet)"]["person_iou"] > 0.9
    status, _, err = run(capsys, "eval", photos, "--matte-quality", "best", "--model", "sinet")
    assert status == 2 and "not both" in err
