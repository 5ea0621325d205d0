"""`--net greenroom-selfie+head`: the shipped selfie graph frozen, a refinement head trained on top.

The head's last layer starts at zero, so before training the network is exactly its base; only
the head learns; the export is an ONNX file whose mask, loaded like any --model file, is what the
trained network computes (its logits times the selfie export's temperature).
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

torch = pytest.importorskip(
    "torch", reason="greenroom train needs PyTorch: pip install 'greenroom[train]'"
)
pytest.importorskip("onnxruntime", reason="the head exports to ONNX")

from greenroom.segmentation import load_segmenter  # noqa: E402
from greenroom.segmentation.mediapipe_selfie import builtin_model_path  # noqa: E402
from greenroom.training import data  # noqa: E402
from greenroom.training.export import export_checkpoint  # noqa: E402
from greenroom.training.head import HEAD_NETS, SelfieHeadNet  # noqa: E402
from greenroom.training.selfie import TEMPERATURE  # noqa: E402
from greenroom.training.tflite_graph import TfliteGraph  # noqa: E402
from tests.training_runs import train_on_four  # noqa: E402


def signed(image: np.ndarray) -> torch.Tensor:
    small = cv2.resize(image, (256, 256), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    return torch.from_numpy(small.transpose(2, 0, 1) / 127.5 - 1)[None]


def test_before_training_the_head_net_is_its_base(astronaut_rgb):
    net = SelfieHeadNet("greenroom-selfie+head")
    base = TfliteGraph(builtin_model_path(HEAD_NETS["greenroom-selfie+head"]))
    x = signed(astronaut_rgb)
    with torch.no_grad():
        ours, expected = net(x), base((x + 1) * 0.5) / TEMPERATURE
    assert torch.equal(ours, expected)
    trainable = [p for p in net.parameters() if p.requires_grad]
    assert 0 < sum(p.numel() for p in trainable) < 10_000  # the head only; the graph is frozen
    assert all(not p.requires_grad for p in net.graph.parameters())
    with torch.no_grad():  # a non-zero last layer changes the logits: the head is in the path
        net.block2[1].bias.fill_(1.0)
        assert torch.allclose(net(x), expected + 1.0)


def test_training_moves_only_the_head_and_the_onnx_export_computes_it(tmp_path):
    result, pairs = train_on_four(tmp_path, "greenroom-selfie+head", epochs=3, lr=3e-3)
    losses = [row["train_loss"] for row in result["history"]]
    assert losses[-1] < losses[0], losses
    state = torch.load(tmp_path / "run" / "best.pt", weights_only=False)["model"]
    trained = SelfieHeadNet("greenroom-selfie+head")
    start = {k: v.clone() for k, v in trained.state_dict().items()}
    trained.load_state_dict(state)
    moved = {k for k, v in trained.state_dict().items() if not torch.equal(v, start[k])}
    assert moved and all(not k.startswith("graph.") for k in moved), moved
    model = export_checkpoint(tmp_path / "run" / "best.pt", tmp_path / "head.onnx", "head")
    assert model.suffix == ".onnx"
    assert 'output = "sigmoid"' in model.with_suffix(".toml").read_text()
    image = data.read_rgb(pairs[0][1])
    with torch.no_grad():
        expected = torch.sigmoid(trained.eval()(signed(image)) * TEMPERATURE)[0, 0].numpy()
    mask = load_segmenter(str(model), 1).segment(image)
    assert mask.shape == (256, 256)
    assert np.abs(mask - expected).mean() < 1e-3
