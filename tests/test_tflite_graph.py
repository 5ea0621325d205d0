"""The selfie .tflite as a trainable PyTorch graph, its weights written back, and fine-tuning it.

Every comparison is against LiteRT running the real file on a real image (skimage's astronaut,
EG1800 portraits from ../shared where named): the converted graph must compute what the shipped
model computes, and a written-back file must compute what the trained graph computes.
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
from greenroom.segmentation.mediapipe_selfie import VARIANTS, builtin_model_path  # noqa: E402
from greenroom.training import data  # noqa: E402
from greenroom.training.export import export_checkpoint  # noqa: E402
from greenroom.training.loop import TrainConfig, frozen_copy, keep_loss  # noqa: E402
from greenroom.training.selfie import TEMPERATURE, SelfieNet  # noqa: E402
from greenroom.training.tflite_graph import TfliteGraph, same_padding  # noqa: E402
from tests.training_runs import train_on_four  # noqa: E402


def litert_output(path: Path, tensor: np.ndarray) -> np.ndarray:
    """The model's own output for an NHWC float input, run by LiteRT (XNNPACK)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=1)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], tensor[None])
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])[0, ..., 0]


def unit_input(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA).astype(np.float32) / 255


def torch_probability(graph: TfliteGraph, tensor: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        logits = graph(torch.from_numpy(tensor.transpose(2, 0, 1))[None])
    return torch.sigmoid(logits)[0, 0].numpy()


def test_tensorflow_same_padding_puts_the_odd_pixel_after():
    assert same_padding(256, 3, 2) == (0, 1)
    assert same_padding(64, 5, 1) == (2, 2)
    assert same_padding(16, 1, 1) == (0, 0)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_the_converted_graph_computes_what_litert_computes(variant, astronaut_rgb):
    path = builtin_model_path(VARIANTS[variant].filename)
    graph = TfliteGraph(path)
    assert graph.logits  # the final LOGISTIC is left to the loss
    assert graph.input_size == (VARIANTS[variant].width, VARIANTS[variant].height)
    assert len(graph.params) == 110  # every float16 constant is a parameter
    tensor = unit_input(astronaut_rgb, graph.input_size)
    reference = litert_output(path, tensor)
    ours = torch_probability(graph, tensor)
    assert reference.std() > 0.2  # a real mask, not a flat one that anything would match
    assert np.abs(ours - reference).max() < 1e-3


def test_trained_weights_written_back_run_in_litert_as_in_torch(tmp_path, astronaut_rgb):
    """Move every weight, write the .tflite, and LiteRT must follow the torch graph exactly."""
    path = builtin_model_path(VARIANTS["general"].filename)
    graph = TfliteGraph(path)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for param in graph.params.values():
            param.mul_(1 + 0.2 * torch.randn(param.shape, generator=generator))
            param.copy_(param.half().float())  # what the float16 file can hold
    written = graph.write_tflite(tmp_path / "moved.tflite")
    tensor = unit_input(astronaut_rgb, graph.input_size)
    ours = torch_probability(graph, tensor)
    theirs = litert_output(written, tensor)
    original = litert_output(path, tensor)
    assert np.abs(theirs - original).max() > 0.05  # the weights really changed the output
    assert np.abs(ours - theirs).max() < 1e-3
    # Written unchanged, the file computes what the shipped model does, bit for bit.
    same = TfliteGraph(path).write_tflite(tmp_path / "same.tflite")
    assert np.array_equal(litert_output(same, tensor), original)


def test_fine_tuning_lowers_the_loss_on_real_portraits_and_exports_a_tflite(tmp_path):
    result, pairs = train_on_four(tmp_path, "selfie-general", epochs=4, lr=1e-3)
    losses = [row["train_loss"] for row in result["history"]]
    assert losses[-1] < losses[0] * 0.9, losses
    model = export_checkpoint(tmp_path / "run" / "best.pt", tmp_path / "tuned.onnx", "tuned")
    assert model.suffix == ".tflite" and 'normalize = "unit"' in model.with_suffix(
        ".toml").read_text()
    # The exported file, loaded like any --model file, gives what the trained graph gives.
    trained = SelfieNet("selfie-general")
    trained.load_state_dict(torch.load(tmp_path / "run" / "best.pt", weights_only=False)["model"])
    image = data.read_rgb(pairs[0][1])
    tensor = cv2.resize(image, (256, 256), interpolation=cv2.INTER_LINEAR)
    expected = torch_probability(trained.graph, tensor.astype(np.float32) / 255)
    segmenter = load_segmenter(str(model), 1)
    mask = segmenter.segment(image)
    assert mask.shape == (256, 256)
    assert np.abs(mask - expected).mean() < 0.01


def test_the_selfie_net_trains_on_tempered_logits_of_signed_input(tmp_path, astronaut_rgb):
    """`net` is part of the run's config, so export and --init know which graph to build."""
    config = replace(TrainConfig(out=tmp_path), net="selfie-landscape")
    assert config.to_json()["net"] == "selfie-landscape"
    net = SelfieNet("selfie-general")
    tensor = unit_input(astronaut_rgb, net.input_size)
    with torch.no_grad():
        signed = torch.from_numpy(tensor.transpose(2, 0, 1) * 2 - 1)[None]
        tempered = net(signed)
        raw = net.graph(torch.from_numpy(tensor.transpose(2, 0, 1))[None])
    assert torch.allclose(tempered * TEMPERATURE, raw, rtol=1e-4, atol=1e-3)
    assert float(raw.abs().median()) > 20 > float(tempered.abs().median())
    assert SelfieNet("selfie-landscape").input_size == (256, 144)
    with pytest.raises(ValueError, match="unknown selfie network"):
        SelfieNet("selfie-portrait")


def test_the_keep_loss_is_lowest_where_the_network_began(astronaut_rgb):
    """Learning without forgetting: the starting network scores best against itself."""
    net = SelfieNet("selfie-general")
    reference = frozen_copy(net)
    tensor = unit_input(astronaut_rgb, net.input_size)
    images = torch.from_numpy(tensor.transpose(2, 0, 1) * 2 - 1)[None]
    with torch.no_grad():
        same = net(images)
        at_start = float(keep_loss(same, reference, images))
        moved = float(keep_loss(same + 2.0, reference, images))
        flipped = float(keep_loss(-same, reference, images))
    assert at_start < moved < flipped
    assert all(not p.requires_grad for p in reference.parameters())
