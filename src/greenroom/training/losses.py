"""The training objective: region loss (BCE and/or soft IoU), boundary loss, OHEM, distillation.

- BCE on every pixel, optionally with online hard example mining (OHEM, as in SINet and
  PortraitNet's training code): only the hardest `ohem` fraction of pixels count, so the many
  easy background pixels stop drowning the few hard ones along hair and hands.
- Soft (Lovasz-free) IoU loss, 1 - |P∩T| / |P∪T|: it optimises the score we report.
- Boundary loss: BCE over a band a few pixels wide around the true contour, the region the
  boundary F-score measures (PortraitNet's boundary loss, without its extra head).
- Distillation: teacher-labelled samples carry soft targets in [0, 1]; BCE against a soft
  target is the KD loss of a one-class output, weighted by `distill` relative to hand labels.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F

#: Loss term names `--no-loss` accepts.
LOSS_TERMS: tuple[str, ...] = ("bce", "iou", "boundary", "ohem")


@dataclass(frozen=True)
class LossWeights:
    """Weights of each term; 0 turns one off. `ohem` is the fraction of pixels kept (0 = all)."""

    bce: float = 1.0
    iou: float = 1.0
    boundary: float = 1.0
    ohem: float = 0.3
    distill: float = 0.5
    band: int = 5  # boundary band width in pixels at the training resolution


def boundary_band(target: torch.Tensor, width: int) -> torch.Tensor:
    """1 on pixels within `width` of the contour of `target` (N, 1, H, W, hard or soft), else 0."""
    hard = (target > 0.5).float()
    kernel = 2 * width + 1
    dilated = F.max_pool2d(hard, kernel, stride=1, padding=width)
    eroded = -F.max_pool2d(-hard, kernel, stride=1, padding=width)
    return dilated - eroded


def ohem_mean(pixel_loss: torch.Tensor, keep: float) -> torch.Tensor:
    """Mean of the hardest `keep` fraction of per-pixel losses per image (all when keep is 0)."""
    if keep <= 0 or keep >= 1:
        return pixel_loss.mean()
    flat = pixel_loss.flatten(1)
    k = max(1, int(flat.shape[1] * keep))
    return flat.topk(k, dim=1).values.mean()


def soft_iou_loss(prob: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1 - soft IoU per image, averaged; an empty image with an empty prediction scores 0."""
    inter = (prob * target).flatten(1).sum(1)
    union = (prob + target - prob * target).flatten(1).sum(1)
    return (1 - (inter + 1) / (union + 1)).mean()


def segmentation_loss(logits: torch.Tensor, target: torch.Tensor, teacher: torch.Tensor,
                      weights: LossWeights) -> tuple[torch.Tensor, dict[str, float]]:
    """Total loss and its parts (as floats for the log).

    logits, target: (N, 1, H, W); teacher: (N,) bool, True where the target is a teacher's.
    """
    sample_weight = torch.where(teacher, weights.distill, 1.0).to(logits.dtype)
    pixel = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    pixel = pixel * sample_weight.view(-1, 1, 1, 1)
    parts: dict[str, torch.Tensor] = {}
    if weights.bce:
        parts["bce"] = weights.bce * ohem_mean(pixel, weights.ohem)
    if weights.iou:
        parts["iou"] = weights.iou * soft_iou_loss(torch.sigmoid(logits), target)
    if weights.boundary:
        band = boundary_band(target, weights.band)
        parts["boundary"] = weights.boundary * (pixel * band).sum() / band.sum().clamp(min=1)
    if not parts:
        raise ValueError("every loss term is switched off")
    total = torch.stack(list(parts.values())).sum()
    return total, {name: float(value.detach()) for name, value in parts.items()}
