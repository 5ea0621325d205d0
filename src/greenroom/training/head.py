"""A selfie model with a light refinement head at its full 256x256 output resolution.

The selfie graph's mask comes from a stride-2 transposed convolution of 128x128 features, so each
2x2 block of the 256x256 output is one feature vector times four fixed kernels: the boundary is
coarse by construction. `SelfieHeadNet` keeps the graph (its weights frozen, from a shipped
.tflite: by default greenroom's fine-tuned one) and adds a residual head that sees, at 256x256,
the graph's logits (divided by the training temperature), the input image and the 16 features
before the transposed convolution (bilinearly upsampled): one 3x3 convolution, two depthwise-
separable 3x3 blocks, a 1x1 to one logit added to the graph's. The last layer starts at zero, so
training starts from exactly the base model. It exports to ONNX (a new graph, run by ONNX
Runtime) with the sidecar TOML `--model PATH` reads; its output is a logit (`output = "sigmoid"`)
at temperature 1, i.e. a soft mask, not the base model's nearly binary one.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from greenroom.segmentation.litert import CUSTOM_TRANSPOSE_CONV
from greenroom.segmentation.store import builtin_model_path
from greenroom.training.selfie import TEMPERATURE
from greenroom.training.tflite_graph import TfliteGraph

#: `--net` choices: the base .tflite (in segmentation/weights) each head sits on.
HEAD_NETS: dict[str, str] = {
    "greenroom-selfie+head": "greenroom_selfie.tflite",
    "selfie-general+head": "selfie_segmentation.tflite",
}


def _separable(channels: int, out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(channels, channels, 3, padding=1, groups=channels, bias=False),
        nn.Conv2d(channels, out, 1),
    )


class SelfieHeadNet(nn.Module):
    """Signed RGB (N, 3, 256, 256) in, person logits out: frozen selfie graph + trained head."""

    def __init__(self, net: str, width: int = 16) -> None:
        super().__init__()
        if net not in HEAD_NETS:
            raise ValueError(f"unknown head network {net!r}; choose from {sorted(HEAD_NETS)}")
        self.net = net
        self.graph = TfliteGraph(builtin_model_path(HEAD_NETS[net]))
        for param in self.graph.parameters():
            param.requires_grad_(False)
        self.features = self.graph.last_input(CUSTOM_TRANSPOSE_CONV)
        channels = int(self.graph._graph.tensors[self.features].shape[3])
        self.stem = nn.Conv2d(1 + 3 + channels, width, 3, padding=1)
        self.block1 = _separable(width, width)
        self.block2 = _separable(width, 1)
        nn.init.zeros_(self.block2[1].weight)
        nn.init.zeros_(self.block2[1].bias)

    @property
    def input_size(self) -> tuple[int, int]:
        return self.graph.input_size

    def train(self, mode: bool = True) -> SelfieHeadNet:
        super().train(mode)
        self.graph.eval()  # frozen: no batch statistics anyway, but say so
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits, features = self.graph.forward_with((x + 1) * 0.5, self.features)
        base = logits / TEMPERATURE
        up = F.interpolate(features, size=base.shape[2:], mode="bilinear", align_corners=False)
        h = F.relu(self.stem(torch.cat([base, x, up], 1)))
        h = F.relu(self.block1(h)) + h
        return base + self.block2(h)


class _Sharpened(nn.Module):
    """The trained logits times `TEMPERATURE`: the selfie export's own convention."""

    def __init__(self, model: SelfieHeadNet) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x) * TEMPERATURE


def export_head_onnx(model: SelfieHeadNet, path: Path, name: str | None = None) -> Path:
    """Write `path` (.onnx: signed RGB NCHW in, logits out) and its sidecar TOML.

    As the fine-tuned .tflite keeps the graph's sigmoid(32 x trained logit), the export scales
    the trained logits by `TEMPERATURE`: the same 0.5 contour, a nearly binary mask (at
    temperature 1 the soft mask raised MAE from 0.022 to 0.036 and dance-twirl instability from
    0.024 to 0.027; docs/training.md).
    """
    from greenroom.training.export import export_onnx

    width, height = model.input_size
    return export_onnx(_Sharpened(model.eval()), Path(path).with_suffix(".onnx"), width, height,
                       name)
