"""The small segmentation network: a MobileNetV3-style encoder and a light decoder.

Why this shape: the model must run in a few milliseconds on a 720p frame on two CPU threads
(the frame is resized to the model's input, e.g. 256x256, as for MediaPipe's selfie model), so
the encoder is inverted-residual blocks of depthwise convolutions with hard-swish, squeezed to
1/32 of the input, and the decoder adds the 1/16, 1/8, 1/4 and 1/2 skips back with 1x1
convolutions and bilinear upsampling (no transposed convolutions, which export and run slowly).
Only operations every ONNX runtime and TFLite converter handle are used.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

#: Encoder stages: (expansion, output channels, stride, squeeze-excite) per block.
STAGES: tuple[tuple[tuple[int, int, int, bool], ...], ...] = (
    ((1, 16, 2, True),),  # 1/4
    ((4, 24, 2, False), (3, 24, 1, False)),  # 1/8
    ((3, 40, 2, True), (3, 40, 1, True)),  # 1/16
    ((4, 64, 2, True), (4, 64, 1, True), (4, 64, 1, True)),  # 1/32
)


def conv_bn(inp: int, out: int, kernel: int = 1, stride: int = 1, groups: int = 1,
            act: bool = True) -> nn.Sequential:
    """Convolution, batch norm (folded into the convolution by the ONNX export), hard-swish."""
    layers: list[nn.Module] = [
        nn.Conv2d(inp, out, kernel, stride, kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(out),
    ]
    if act:
        layers.append(nn.Hardswish())
    return nn.Sequential(*layers)


class SqueezeExcite(nn.Module):
    """Channel attention of MobileNetV3: cheap, and it helps small networks most."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        hidden = max(8, channels // 4)
        self.reduce = nn.Conv2d(channels, hidden, 1)
        self.expand = nn.Conv2d(hidden, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = F.adaptive_avg_pool2d(x, 1)
        scale = F.hardsigmoid(self.expand(F.relu(self.reduce(scale))))
        return x * scale


class InvertedResidual(nn.Module):
    """Expand (1x1), depthwise 3x3, optional squeeze-excite, project (1x1); residual when
    the shapes match."""

    def __init__(self, inp: int, expansion: int, out: int, stride: int, se: bool) -> None:
        super().__init__()
        hidden = inp * expansion
        layers: list[nn.Module] = []
        if expansion != 1:
            layers.append(conv_bn(inp, hidden))
        layers.append(conv_bn(hidden, hidden, 3, stride, groups=hidden))
        if se:
            layers.append(SqueezeExcite(hidden))
        layers.append(conv_bn(hidden, out, act=False))
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and inp == out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        return x + y if self.residual else y


class PortraitNet(nn.Module):
    """Image (N, 3, H, W, normalised to [-1, 1]) -> person logits (N, 1, H, W).

    H and W must be multiples of 32. `width` scales every channel count (0.5 to 2).
    """

    def __init__(self, width: float = 1.0) -> None:
        super().__init__()

        def ch(c: int) -> int:
            return max(8, int(round(c * width / 8)) * 8)

        stem = ch(16)
        self.stem = conv_bn(3, stem, 3, 2)  # 1/2
        stages = []
        inp = stem
        skips = [stem]
        for blocks in STAGES:
            layers = []
            for expansion, out, stride, se in blocks:
                layers.append(InvertedResidual(inp, expansion, ch(out), stride, se))
                inp = ch(out)
            stages.append(nn.Sequential(*layers))
            skips.append(inp)
        self.stages = nn.ModuleList(stages)
        decoder = ch(24)
        # Global context at 1/32 (as LR-ASPP in MobileNetV3's segmentation head).
        self.context = conv_bn(inp, decoder)
        self.lateral = nn.ModuleList(conv_bn(c, decoder, act=False) for c in skips[-2::-1])
        self.refine = nn.ModuleList(
            conv_bn(decoder, decoder, 3, groups=decoder) for _ in skips[-2::-1]
        )
        self.head = nn.Conv2d(decoder, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        features = [self.stem(x)]
        for stage in self.stages:
            features.append(stage(features[-1]))
        y = self.context(features[-1])
        for lateral, refine, skip in zip(self.lateral, self.refine, features[-2::-1], strict=True):
            y = F.interpolate(y, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            y = refine(y + lateral(skip))
        return F.interpolate(self.head(y), size=size, mode="bilinear", align_corners=False)


def parameter_count(model: nn.Module) -> int:
    """Number of trainable parameters (for the training log and the docs)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
