"""ONNX export with the sidecar TOML, so `--model model.onnx` loads the result at once.

The graph has a fixed input (1x3xHxW, RGB in [-1, 1]) and outputs person logits (1x1xHxW); the
sidecar says so (`layout = "nchw"`, `normalize = "signed"`, `output = "sigmoid"`), which is
everything `greenroom.segmentation.specs.spec_from_settings` needs.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from greenroom.training.loop import NORMALIZE
from greenroom.training.network import PortraitNet

OPSET = 17


def sidecar_text(name: str, width: int, height: int, layout: str = "nchw",
                 normalize: str = NORMALIZE, output: str = "sigmoid") -> str:
    """The TOML that describes an exported model to `--model PATH` (defaults: PortraitNet's)."""
    return (
        f'name = "{name}"\n'
        f"width = {width}\n"
        f"height = {height}\n"
        f'layout = "{layout}"\n'
        'channels = "rgb"\n'
        f'normalize = "{normalize}"\n'
        f'output = "{output}"\n'
    )


def export_onnx(model: PortraitNet, path: Path, width: int, height: int,
                name: str | None = None) -> Path:
    """Write `path` (.onnx) and its sidecar `.toml`; returns the ONNX path."""
    model = model.cpu().eval()
    dummy = torch.zeros(1, 3, height, width)
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.stem + ".part.onnx")
    # The TorchScript exporter needs no onnxscript and gives a plain, fixed-shape graph; torch
    # marks it deprecated (a warning users cannot act on, so it is kept quiet here).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(model, (dummy,), str(part), input_names=["image"],
                          output_names=["logits"], opset_version=OPSET, dynamo=False)
    part.replace(path)
    path.with_suffix(".toml").write_text(sidecar_text(name or path.stem, width, height))
    return path


def export_checkpoint(checkpoint: Path, path: Path, name: str | None = None) -> Path:
    """Export a `best.pt`/`last.pt` of `greenroom train` (its config gives the network).

    A PortraitNet becomes `path` (ONNX); a fine-tuned selfie model becomes `path` with the
    suffix .tflite, its own graph with the trained weights (returned either way).
    """
    from greenroom.training.loop import build_network

    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    config = state["config"]
    net = config.get("net", "portrait")  # checkpoints older than --net are PortraitNets
    model = build_network(net, config["net_width"])
    model.load_state_dict(state["model"])
    if net.endswith("+head"):  # a new graph: ONNX
        from greenroom.training.head import export_head_onnx

        return export_head_onnx(model, path, name)
    if net != "portrait":
        from greenroom.training.selfie import export_tflite

        return export_tflite(model, Path(path).with_suffix(".tflite"), name)
    return export_onnx(model, path, config["width"], config["height"], name)
