"""greenroom train: data, augmentation, losses, the loop (overfit, resume, early stop), export.

Small and real: synthetic "people" (filled ellipses of a random colour on noise) at 64x64, so a
few dozen steps train a network that must find them; tests needing ../shared skip without it.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

torch = pytest.importorskip(
    "torch", reason="greenroom train needs PyTorch: pip install 'greenroom[train]'"
)

from greenroom.segmentation import load_segmenter  # noqa: E402
from greenroom.segmentation.base import mask_to_frame  # noqa: E402
from greenroom.training import data  # noqa: E402
from greenroom.training.augment import Augment, make_view  # noqa: E402
from greenroom.training.export import export_checkpoint  # noqa: E402
from greenroom.training.loop import TrainConfig, train  # noqa: E402
from greenroom.training.losses import (  # noqa: E402
    LossWeights,
    boundary_band,
    ohem_mean,
    segmentation_loss,
    soft_iou_loss,
)
from tests.cli import error_lines, run  # noqa: E402
from tests.conftest import shared_path  # noqa: E402

SIZE = 64
PLAIN = Augment.without(["flip", "scale", "color", "blur", "background"])


def make_dataset(root: Path, count: int, seed: int = 1, size: tuple[int, int] = (80, 96)) -> Path:
    """images/ and masks/ of `count` synthetic portraits (an ellipse person on noise)."""
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    w, h = size
    for i in range(count):
        image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        image = cv2.GaussianBlur(image, (0, 0), 2)
        mask = np.zeros((h, w), np.uint8)
        centre = (int(rng.integers(w // 3, 2 * w // 3)), int(rng.integers(h // 3, 2 * h // 3)))
        axes = (int(rng.integers(w // 6, w // 3)), int(rng.integers(h // 5, h // 3)))
        cv2.ellipse(mask, centre, axes, float(rng.uniform(0, 180)), 0, 360, 255, -1)
        image[mask > 0] = rng.integers(0, 256, 3)
        cv2.imwrite(str(root / "images" / f"{i:03d}.jpg"), image)
        cv2.imwrite(str(root / "masks" / f"{i:03d}.png"), mask)
    return root


def config(tmp_path: Path, dataset: Path, **changes) -> TrainConfig:
    base = TrainConfig(out=tmp_path / "run", labelled=[dataset], width=SIZE, height=SIZE,
                       net_width=0.5, epochs=3, batch=4, lr=1e-2, val_fraction=0.0,
                       steps_per_epoch=4, seed=3, threads=1, device="cpu", augment=PLAIN)
    return replace(base, **changes)


def mask_iou(pred: np.ndarray, truth: np.ndarray) -> float:
    p, t = pred > 0.5, truth > 127
    return float((p & t).sum() / max((p | t).sum(), 1))


# --- data and augmentation ---------------------------------------------------------------------


def test_splits_are_seeded_disjoint_and_cover_everything():
    train_idx, val_idx = data.split_validation(50, 0.1, seed=4)
    assert (train_idx, val_idx) == data.split_validation(50, 0.1, seed=4)
    assert len(val_idx) == 5 and not set(train_idx) & set(val_idx)
    assert sorted(train_idx + val_idx) == list(range(50))
    assert data.split_validation(50, 0.1, seed=5)[1] != val_idx


def test_the_listed_holdout_is_the_seeded_tenth_of_eg1800_dev():
    root = shared_path("data", "eg1800-dev")
    names = [name for name, _, _ in data.labelled_pairs(root)]
    assert data.draw_holdout(names) == data.eg1800_holdout()
    assert len(data.eg1800_holdout()) == round(len(names) / 10)


def test_views_are_reproducible_and_keep_image_and_mask_aligned(tmp_path):
    root = make_dataset(tmp_path / "d", 1)
    sample = data.load_labelled(data.labelled_pairs(root), 400)[0]
    colour = sample.image[sample.mask > 127].mean(axis=0)
    for seed in range(6):
        image, mask = make_view(sample, (64, 64), np.random.default_rng(seed),
                                Augment(background=False, color=False, blur=False))
        again = make_view(sample, (64, 64), np.random.default_rng(seed),
                          Augment(background=False, color=False, blur=False))
        assert np.array_equal(image, again[0]) and np.array_equal(mask, again[1])
        assert image.shape == (64, 64, 3) and mask.shape == (64, 64)
        inside = image[mask > 0.99].astype(float)
        if len(inside):  # the person's colour stays under the person's mask (flip, crop, scale)
            assert np.abs(inside.mean(axis=0) - colour).max() < 12


def test_a_composited_background_changes_only_the_background(tmp_path):
    root = make_dataset(tmp_path / "d", 1, size=(64, 64))  # the view is the whole image
    sample = data.load_labelled(data.labelled_pairs(root), 400)[0]
    plain, mask = make_view(sample, (64, 64), np.random.default_rng(0), None)
    augment = Augment(flip=False, scale=False, color=False, blur=False,
                      background_probability=1.0)
    image, mask2 = make_view(sample, (64, 64), np.random.default_rng(0), augment)
    assert np.array_equal(mask, mask2)
    assert np.array_equal(image[mask == 1], plain[mask == 1])
    assert not np.array_equal(image[mask == 0], plain[mask == 0])


# --- losses --------------------------------------------------------------------------------------


def test_boundary_band_surrounds_the_contour_only():
    target = torch.zeros(1, 1, 40, 40)
    target[..., 10:30, 10:30] = 1
    band = boundary_band(target, 2)
    assert band[0, 0, 20, 20] == 0 and band[0, 0, 0, 0] == 0
    assert band[0, 0, 10, 20] == 1 and band[0, 0, 8, 20] == 1 and band[0, 0, 12, 20] == 0


def test_ohem_keeps_the_hardest_pixels():
    loss = torch.tensor([[0.0, 0.0, 0.0, 4.0]])
    assert float(ohem_mean(loss, 0.25)) == 4.0
    assert float(ohem_mean(loss, 0.0)) == 1.0


def test_a_perfect_prediction_scores_lower_than_a_wrong_one():
    target = torch.zeros(2, 1, 16, 16)
    target[..., 4:12, 4:12] = 1
    assert float(soft_iou_loss(target, target)) == pytest.approx(0.0)
    teacher = torch.tensor([False, True])
    good, parts = segmentation_loss((target - 0.5) * 20, target, teacher, LossWeights())
    bad, _ = segmentation_loss((0.5 - target) * 20, target, teacher, LossWeights())
    assert set(parts) == {"bce", "iou", "boundary"} and float(good) < 0.05 < float(bad)
    with pytest.raises(ValueError):
        segmentation_loss(target, target, teacher, LossWeights(bce=0, iou=0, boundary=0))


# --- the loop ------------------------------------------------------------------------------------


def test_overfits_four_images_and_the_export_finds_them(tmp_path):
    """Loss falls, and the exported ONNX (loaded like any --model file) segments its images."""
    root = make_dataset(tmp_path / "d", 4)
    result = train(config(tmp_path, root, epochs=30, steps_per_epoch=3), log=lambda _: None)
    losses = [row["train_loss"] for row in result["history"]]
    assert losses[-1] < losses[0] / 3
    model = export_checkpoint(tmp_path / "run" / "best.pt", tmp_path / "m.onnx")
    assert (tmp_path / "m.toml").is_file()
    segmenter = load_segmenter(str(model), 1)
    scores = []
    for _, image_path, mask_path in data.labelled_pairs(root):
        image = data.read_rgb(image_path)
        mask = mask_to_frame(segmenter.segment(image), image.shape[1::-1])
        assert mask.shape == image.shape[:2] and mask.dtype == np.float32
        scores.append(mask_iou(mask, data.read_mask(mask_path)))
    assert min(scores) > 0.85, scores


def test_resuming_gives_the_same_weights_as_an_uninterrupted_run(tmp_path):
    root = make_dataset(tmp_path / "d", 6)
    settings = {"epochs": 3, "augment": Augment(), "val_fraction": 0.3}
    train(config(tmp_path / "a", root, **settings), log=lambda _: None)
    train(config(tmp_path / "b", root, **{**settings, "epochs": 3}), log=lambda _: None)
    stopped = config(tmp_path / "c", root, **settings)
    # Stop after epoch 1 by running a copy whose schedule is the same but which ends early.
    import greenroom.training.loop as loop

    real = loop.save_checkpoint
    calls = []

    def stop_after_first(path, state):
        real(path, state)
        calls.append(path.name)
        if path.name == "last.pt":
            raise KeyboardInterrupt

    loop.save_checkpoint = stop_after_first
    try:
        with pytest.raises(KeyboardInterrupt):
            train(stopped, log=lambda _: None)
    finally:
        loop.save_checkpoint = real
    assert torch.load(stopped.out / "last.pt", weights_only=False)["epoch"] == 0
    train(stopped, resume=True, log=lambda _: None)
    a = torch.load(tmp_path / "a" / "run" / "last.pt", weights_only=False)["model"]
    b = torch.load(tmp_path / "b" / "run" / "last.pt", weights_only=False)["model"]
    c = torch.load(stopped.out / "last.pt", weights_only=False)["model"]
    for key in a:
        assert torch.equal(a[key], b[key]), key  # a fixed seed repeats a run exactly
        assert torch.equal(a[key], c[key]), key  # and resuming repeats it too


def test_early_stopping_ends_a_run_that_stopped_improving(tmp_path):
    root = make_dataset(tmp_path / "d", 6)
    result = train(config(tmp_path, root, epochs=12, lr=1e-9, patience=1, val_fraction=0.3),
                   log=lambda _: None)
    assert len(result["history"]) < 12


# --- the command ---------------------------------------------------------------------------------


def test_train_command_writes_a_model_that_eval_scores(tmp_path, capfd):
    root = make_dataset(tmp_path / "d", 6)
    out = tmp_path / "run"
    (tmp_path / "exclude.txt").write_text("# kept for eval\n004\n005\n")
    code, stdout, err = run(capfd, "train", root, "-o", out, "--size", "64x64", "--epochs", "2",
                            "--batch", "2", "--steps-per-epoch", "2", "--net-width", "0.5",
                            "--threads", "1", "--exclude", tmp_path / "exclude.txt",
                            "--no-loss", "ohem", "--no-augment", "background")
    assert code == 0, err
    assert "validation IoU" in stdout and "model.onnx" in stdout
    assert "3 training samples (0 teacher-labelled), 1 validation, 2 names excluded" in err
    assert sorted(p.name for p in (out / "held-out" / "masks").iterdir()) == ["004.png", "005.png"]
    assert {"best.pt", "last.pt", "history.json", "config.json", "model.onnx", "model.toml"} <= {
        p.name for p in out.iterdir()}
    code, stdout, err = run(capfd, "eval", out / "held-out", "--model", out / "model.onnx",
                            "--stage", "raw")
    assert code == 0, err
    assert "person IoU" in stdout and "| held-out | raw | 2 |" in stdout


def test_a_folder_without_masks_is_one_line_naming_it(tmp_path, capfd):
    (tmp_path / "photos").mkdir()
    code, _, err = run(capfd, "train", tmp_path / "photos", "-o", tmp_path / "run")
    assert code == 1
    lines = error_lines(err)
    assert len(lines) == 1 and str(tmp_path / "photos") in lines[0], err


def test_unlabelled_frames_need_a_teacher(tmp_path, capfd):
    root = make_dataset(tmp_path / "d", 2)
    code, _, err = run(capfd, "train", "-o", tmp_path / "run", "--unlabelled", root / "images")
    assert code == 2 and "--teacher" in err


# --- distillation --------------------------------------------------------------------------------


@pytest.mark.parametrize("teacher", ["modnet.onnx", "rvm_mobilenetv3_fp32.onnx"])
def test_a_teacher_labels_a_dancer_close_to_the_hand_drawn_mask(tmp_path, teacher):
    from greenroom.training.teacher import label_frames, load_teacher

    model = shared_path("models", teacher)
    frames_dir = shared_path("data", "davis-dance-twirl")
    pairs = data.labelled_pairs(frames_dir)[:2]
    frames = [data.read_rgb(image) for _, image, _ in pairs]
    labeler = load_teacher(model, 2)
    labels = label_frames(labeler, frames_dir, frames, tmp_path / "cache")
    assert [label.shape for label in labels] == [f.shape[:2] for f in frames]
    assert mask_iou(labels[0] / 255.0, data.read_mask(pairs[0][2])) > 0.6
    cached = label_frames(labeler, frames_dir, frames, tmp_path / "cache")  # from the cache
    assert all(np.array_equal(a, b) for a, b in zip(labels, cached, strict=True))
    assert len(list((tmp_path / "cache").iterdir())) == 2


def test_distillation_trains_on_teacher_labelled_frames(tmp_path):
    teacher = shared_path("models", "modnet.onnx")
    frames = tmp_path / "frames" / "clip"
    frames.mkdir(parents=True)
    for _, image, _ in data.labelled_pairs(shared_path("data", "davis-dance-twirl"))[:3]:
        (frames / image.name).symlink_to(image)
    lines: list[str] = []
    result = train(config(tmp_path, tmp_path / "none", labelled=[], unlabelled=[frames.parent],
                          teacher=teacher, video_every=1, val_fraction=0.34, epochs=1,
                          steps_per_epoch=1, batch=2), log=lines.append)
    assert any("teacher modnet.onnx: 3 frames" in line for line in lines), lines
    assert result["history"][0]["val_iou"] >= 0


def test_fine_tuning_on_a_video_labelled_by_the_teacher(tmp_path, capfd):
    """The docs' own-footage recipe: a video, a teacher, --init from an earlier run, --resume."""
    from tests.clips import make_clip

    teacher = shared_path("models", "modnet.onnx")
    root = make_dataset(tmp_path / "d", 4)
    base = config(tmp_path / "base", root, epochs=1, steps_per_epoch=1)
    train(base, log=lambda _: None)
    clip = make_clip(tmp_path / "room.mp4", frames=12, audio=False).path
    args = ["train", "--unlabelled", clip, "--teacher", teacher, "--every", "3", "--init",
            base.out / "best.pt", "-o", tmp_path / "room", "--size", "64x64", "--net-width",
            "0.5", "--epochs", "1", "--batch", "2", "--steps-per-epoch", "1", "--threads", "1"]
    code, stdout, err = run(capfd, *args)
    assert code == 0, err
    assert "teacher modnet.onnx: 4 frames from 1 source(s)" in err
    assert "3 training samples (3 teacher-labelled), 1 validation" in err
    assert len(list((tmp_path / "room" / "teacher-labels").iterdir())) == 4
    code, _, err = run(capfd, *args[:-7], "2", *args[-6:], "--resume")  # --epochs 2
    assert code == 1
    lines = error_lines(err)
    assert len(lines) == 1 and "last.pt" in lines[0] and "--epochs 1" in lines[0], err
