"""The training loop: data, epochs with a progress bar, validation, checkpoints, early stop.

Reproducible by construction: the shuffle of epoch e and the augmentation of sample i in epoch
e are drawn from generators seeded by (seed, e) and (seed, e, i), and the checkpoint holds the
model, optimiser, scheduler, torch RNG and history. Resuming from `last.pt` after epoch e thus
gives the same weights as never stopping (tests/test_train.py checks this).
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from itertools import groupby
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from greenroom.atomic import atomic_path, remove_stale_temps
from greenroom.errors import InputError
from greenroom.training import data as datamod
from greenroom.training.augment import Augment, make_view
from greenroom.training.losses import LossWeights, segmentation_loss
from greenroom.training.network import PortraitNet, parameter_count

#: (mean, std) in pixel units: the network sees [-1, 1] ("signed" in the sidecar TOML).
NORMALIZE = "signed"


@dataclass
class TrainConfig:
    """Everything one run depends on (written to config.json in the output folder)."""

    out: Path
    labelled: Sequence[Path] = ()
    unlabelled: Sequence[Path] = ()
    teacher: Path | None = None
    exclude: Sequence[str] = ()
    width: int = 256
    height: int = 256
    net_width: float = 1.0
    net: str = "portrait"  # or a selfie model to fine-tune (`selfie.SELFIE_NETS`)
    keep: float = 0.0  # weight of agreeing with the network's starting weights (`keep_loss`)
    epochs: int = 30
    batch: int = 8
    lr: float = 3e-3
    weight_decay: float = 1e-4
    val_fraction: float = 0.1
    patience: int = 5
    seed: int = 0
    max_side: int = 400
    video_every: int = 5
    steps_per_epoch: int | None = None
    init: Path | None = None
    losses: LossWeights = field(default_factory=LossWeights)
    augment: Augment = field(default_factory=Augment)
    threads: int | None = None
    device: str | None = None

    def to_json(self) -> dict[str, Any]:
        values = asdict(self)
        return json.loads(json.dumps(values, default=str))


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """RGB uint8 HxWx3 -> float 3xHxW in [-1, 1] (the exported sidecar says `signed`)."""
    return torch.from_numpy(image.transpose(2, 0, 1).astype(np.float32) / 127.5 - 1.0)


def batch_views(samples: Sequence[datamod.Sample], indices: Sequence[int], size: tuple[int, int],
                augment: Augment | None, seed: tuple[int, ...]) -> tuple[torch.Tensor, ...]:
    """(images, masks, teacher flags) of the samples at `indices`, each from its own generator."""
    images, masks = [], []
    for i in indices:
        rng = np.random.default_rng((*seed, i))
        other = samples[int(rng.integers(len(samples)))].image if augment else None
        image, mask = make_view(samples[i], size, rng, augment, other)
        images.append(to_tensor(image))
        masks.append(torch.from_numpy(mask)[None])
    flags = torch.tensor([samples[i].teacher for i in indices])
    return torch.stack(images), torch.stack(masks), flags


def iou_counts(logits: torch.Tensor, target: torch.Tensor) -> tuple[float, float]:
    """(intersection, union) of the 0.5-thresholded prediction and target, summed."""
    pred = logits > 0
    truth = target > 0.5
    return float((pred & truth).sum()), float((pred | truth).sum())


def teacher_samples(config: TrainConfig, log: Callable[[str], None]) -> list[datamod.Sample]:
    """Unlabelled frames labelled by the teacher, one source (video or folder) at a time."""
    from greenroom.training.teacher import label_frames, load_teacher

    files = datamod.unlabelled_files(list(config.unlabelled))
    if not files:
        return []
    if config.teacher is None:
        raise InputError(config.unlabelled[0], "unlabelled frames need a --teacher model")
    teacher = load_teacher(config.teacher, config.threads)
    cache = config.out / "teacher-labels"
    samples = []
    videos = [f for f in files if f.suffix.lower() in datamod.VIDEO_EXTENSIONS]
    images = [f for f in files if f not in videos]
    sources: list[tuple[Path, list[np.ndarray]]] = [
        (v, datamod.read_frames(v, config.video_every, config.max_side)) for v in videos
    ]
    for folder, group in groupby(images, key=lambda p: p.parent):
        picked = list(group)[:: config.video_every]
        sources.append((folder, [datamod.read_frames(p, 1, config.max_side)[0] for p in picked]))
    for source, frames in tqdm(sources, desc="teacher labels", unit="source", file=sys.stderr,
                               disable=None):
        teacher.reset()
        labels = label_frames(teacher, source, frames, cache)
        samples.extend(
            datamod.Sample(f"{source.name}/{i}", frame, label, teacher=True)
            for i, (frame, label) in enumerate(zip(frames, labels, strict=True))
        )
    log(f"teacher {config.teacher.name}: {len(samples)} frames from {len(sources)} source(s)")
    return samples


def load_samples(config: TrainConfig, log: Callable[[str], None],
                 ) -> tuple[list[datamod.Sample], list[datamod.Sample]]:
    """(training, validation) samples: labelled pairs split by seed, teacher frames added."""
    excluded = set(config.exclude)
    pairs = [p for root in config.labelled for p in datamod.labelled_pairs(root)
             if p[0] not in excluded]
    labelled = datamod.load_labelled(pairs, config.max_side)
    train_idx, val_idx = datamod.split_validation(len(labelled), config.val_fraction, config.seed)
    train = [labelled[i] for i in train_idx]
    val = [labelled[i] for i in val_idx]
    distilled = teacher_samples(config, log) if config.unlabelled else []
    if distilled and not val:  # teacher-only training: validate on held-back teacher frames
        t_idx, v_idx = datamod.split_validation(len(distilled), config.val_fraction, config.seed)
        val = [distilled[i] for i in v_idx]
        distilled = [distilled[i] for i in t_idx]
    train += distilled
    if not train:
        raise InputError(config.out, "no training samples: give labelled folders or --unlabelled")
    log(f"{len(train)} training samples ({len(distilled)} teacher-labelled), "
        f"{len(val)} validation, {len(excluded)} names excluded")
    return train, val


def build_network(net: str, net_width: float) -> torch.nn.Module:
    """The untrained (PortraitNet) or pretrained (a selfie model) network a run starts from."""
    if net == "portrait":
        return PortraitNet(net_width)
    if net.endswith("+head"):
        from greenroom.training.head import SelfieHeadNet

        return SelfieHeadNet(net)
    from greenroom.training.selfie import SelfieNet

    return SelfieNet(net)


def make_model(config: TrainConfig, device: torch.device) -> torch.nn.Module:
    model = build_network(config.net, config.net_width).to(device)
    if config.init is not None:
        state = torch.load(config.init, map_location=device, weights_only=False)
        model.load_state_dict(state.get("model", state))
    return model


def frozen_copy(model: torch.nn.Module) -> torch.nn.Module:
    """The network as it starts, fixed: the reference `keep_loss` holds the training to."""
    import copy

    reference = copy.deepcopy(model).eval()
    for param in reference.parameters():
        param.requires_grad_(False)
    return reference


def keep_loss(logits: torch.Tensor, reference: torch.nn.Module,
              images: torch.Tensor) -> torch.Tensor:
    """BCE against the starting network's own soft output on the same view.

    Learning without forgetting (Li and Hoiem, 2016): fine-tuning a pretrained model on one
    kind of picture (EG1800's head-and-shoulder portraits) must not undo what it does well on
    others (full-body video), so every view also asks the network to agree with where it began.
    """
    with torch.no_grad():
        target = torch.sigmoid(reference(images))
    return torch.nn.functional.binary_cross_entropy_with_logits(logits, target)


def evaluate(model: torch.nn.Module, samples: Sequence[datamod.Sample], config: TrainConfig,
             device: torch.device) -> tuple[float, float]:
    """(loss, IoU) on the plain views of `samples`; (nan, nan) when there are none."""
    if not samples:
        return math.nan, math.nan
    model.eval()
    total, inter, union = 0.0, 0.0, 0.0
    with torch.no_grad():
        for start in range(0, len(samples), config.batch):
            idx = range(start, min(start + config.batch, len(samples)))
            images, masks, flags = batch_views(samples, idx, (config.width, config.height),
                                               None, (config.seed,))
            logits = model(images.to(device))
            loss, _ = segmentation_loss(logits, masks.to(device), flags.to(device), config.losses)
            total += float(loss) * len(idx)
            i, u = iou_counts(logits, masks.to(device))
            inter, union = inter + i, union + u
    return total / len(samples), inter / max(union, 1.0)


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write atomically: a crash mid-write never leaves a truncated checkpoint to resume from."""
    with atomic_path(path) as temporary:
        torch.save(state, temporary)


def train(config: TrainConfig, resume: bool = False,
          log: Callable[[str], None] = print) -> dict[str, Any]:
    """Train (or resume) into `config.out`; returns the history and the best epoch's numbers.

    Writes `last.pt` after every epoch, `best.pt` whenever validation IoU improves (or, with no
    validation split, training loss falls), `history.json` (the curves) and `config.json`.
    """
    if config.net == "portrait" and (config.width % 32 or config.height % 32):
        raise InputError(config.out, f"--size must be multiples of 32, got {config.width}x"
                                     f"{config.height}")
    config.out.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(config.out)  # checkpoints a killed run was writing
    if config.threads:
        torch.set_num_threads(config.threads)
    device = torch.device(config.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    torch.manual_seed(config.seed)
    train_set, val_set = load_samples(config, log)
    model = make_model(config, device)
    reference = frozen_copy(model) if config.keep > 0 else None
    steps = config.steps_per_epoch or max(1, len(train_set) // config.batch)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr,
                                  weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=config.lr, total_steps=config.epochs * steps, pct_start=0.1)
    history: list[dict[str, float]] = []
    best = {"epoch": -1, "score": -math.inf}
    start = 0
    last = config.out / "last.pt"
    if resume and last.is_file():
        state = torch.load(last, map_location=device, weights_only=False)
        saved = state["config"]
        if (saved["epochs"], saved["steps_per_epoch"]) != (config.epochs, config.steps_per_epoch):
            # The learning-rate schedule spans the whole run: another length is another run.
            raise InputError(last, f"resume with the run's own --epochs {saved['epochs']} and "
                                   f"--steps-per-epoch {saved['steps_per_epoch']}, or start a "
                                   "new run with --init")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["torch_rng"])
        history, best, start = state["history"], state["best"], state["epoch"] + 1
        log(f"resumed from {last} after epoch {start}")
    (config.out / "config.json").write_text(json.dumps(config.to_json(), indent=2))
    log(f"network: {parameter_count(model):,} parameters, input {config.width}x{config.height}, "
        f"{device}")
    size = (config.width, config.height)
    for epoch in range(start, config.epochs):
        if epoch - best["epoch"] > config.patience and best["epoch"] >= 0:
            log(f"early stop: no improvement for {config.patience} epochs")
            break
        model.train()
        began = time.monotonic()
        order = np.random.default_rng((config.seed, epoch)).permutation(len(train_set))
        order = np.resize(order, steps * config.batch)  # wraps when steps ask for more
        running, inter, union = 0.0, 0.0, 0.0
        bar = tqdm(range(steps), desc=f"epoch {epoch + 1}/{config.epochs}", unit="step",
                   file=sys.stderr, disable=None, leave=False)
        for step in bar:
            idx = order[step * config.batch:(step + 1) * config.batch].tolist()
            images, masks, flags = batch_views(train_set, idx, size, config.augment,
                                               (config.seed, epoch))
            images, masks, flags = images.to(device), masks.to(device), flags.to(device)
            logits = model(images)
            loss, _ = segmentation_loss(logits, masks, flags, config.losses)
            if reference is not None:
                loss = loss + config.keep * keep_loss(logits, reference, images)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            running += float(loss.detach())
            i, u = iou_counts(logits.detach(), masks)
            inter, union = inter + i, union + u
            bar.set_postfix(loss=f"{running / (step + 1):.4f}", iou=f"{inter / max(union, 1):.3f}")
        bar.close()
        val_loss, val_iou = evaluate(model, val_set, config, device)
        row = {"epoch": epoch + 1, "train_loss": running / steps,
               "train_iou": inter / max(union, 1.0), "val_loss": val_loss, "val_iou": val_iou,
               "lr": scheduler.get_last_lr()[0], "seconds": time.monotonic() - began}
        history.append(row)
        score = val_iou if val_set else -row["train_loss"]
        log(f"epoch {epoch + 1}: train loss {row['train_loss']:.4f} IoU {row['train_iou']:.4f}"
            f" | val loss {val_loss:.4f} IoU {val_iou:.4f} | {row['seconds']:.0f} s")
        state = {"model": model.state_dict(), "config": config.to_json(), "epoch": epoch}
        if score > best["score"]:
            best = {**row, "epoch": epoch, "score": score}
            save_checkpoint(config.out / "best.pt", state)
        save_checkpoint(last, {**state, "optimizer": optimizer.state_dict(),
                               "scheduler": scheduler.state_dict(),
                               "torch_rng": torch.get_rng_state(), "history": history,
                               "best": best})
        (config.out / "history.json").write_text(json.dumps(history, indent=2))
    return {"history": history, "best": best}
