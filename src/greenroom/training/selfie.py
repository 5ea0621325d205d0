"""MediaPipe's selfie model as the network `greenroom train --net selfie-general` fine-tunes.

Why fine-tune it rather than train from scratch: on this project's 2-core machine a network
trained from random weights reached IoU 0.855 on the held-out portraits, the selfie model
0.955 out of the box. The converted graph (`tflite_graph.TfliteGraph`) has exactly the
shipped model's weights; training moves them, and `export_tflite` writes them back into a copy
of the same .tflite, so the result runs on LiteRT + XNNPACK exactly as fast as the
model it started from.

The training loop feeds RGB in [-1, 1] (`loop.to_tensor`); the selfie models want [0, 1] (as
greenroom's inference gives them, `normalize = "unit"`), so `SelfieNet` maps one to the other
first: exact, and the rest of the loop stays the same for every network.

The selfie graph's last logits are huge (median |logit| about 100 on EG1800 portraits: the
shipped mask is all but binary), so a wrong pixel costs about 100 in BCE and the cheapest way to
lower the loss is to shrink every logit: fine-tuning on the raw logits first made the model soft
(held-out boundary F 0.63 -> 0.52, MAE 0.03 -> 0.10) before it learned anything. `SelfieNet`
divides them by `TEMPERATURE` (32, about where plain BCE of the unchanged model is lowest on the
validation portraits), so training starts calibrated; the written .tflite keeps the graph as it
is, i.e. its output is sigmoid(TEMPERATURE x the trained logit): the same 0.5 contour as the
trained network, as sharp as the shipped model.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from greenroom.segmentation.mediapipe_selfie import VARIANTS, builtin_model_path
from greenroom.training.export import sidecar_text
from greenroom.training.tflite_graph import TfliteGraph

#: Divides the graph's logits in training (see the module docstring).
TEMPERATURE = 32.0

#: `--net` choices that fine-tune a shipped selfie model, and the variant each one is.
SELFIE_NETS: dict[str, str] = {f"selfie-{name}": name for name in VARIANTS}


class SelfieNet(nn.Module):
    """A shipped selfie model, trainable: signed RGB (N, 3, H, W) in, person logits / T out."""

    def __init__(self, net: str) -> None:
        super().__init__()
        if net not in SELFIE_NETS:
            raise ValueError(f"unknown selfie network {net!r}; choose from {sorted(SELFIE_NETS)}")
        self.net = net
        self.graph = TfliteGraph(builtin_model_path(VARIANTS[SELFIE_NETS[net]].filename))

    @property
    def input_size(self) -> tuple[int, int]:
        """(width, height) the graph was built for."""
        return self.graph.input_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.graph((x + 1) * 0.5) / TEMPERATURE


def export_tflite(model: SelfieNet, path: Path, name: str | None = None) -> Path:
    """Write `path` (.tflite, the trained float16 weights in the original graph) and its TOML."""
    path = model.graph.write_tflite(Path(path))
    width, height = model.input_size
    # The graph takes NHWC RGB in [0, 1] and ends in its own LOGISTIC: a probability.
    path.with_suffix(".toml").write_text(sidecar_text(
        name or path.stem, width, height, layout="nhwc", normalize="unit", output="probability"))
    return path
