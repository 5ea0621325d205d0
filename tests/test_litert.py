"""The load-time graph rewrite: the last transposed convolution as a 1x1 convolution +
DEPTH_TO_SPACE, which must compute exactly what the model file computes.

Each model is run twice by LiteRT on real pictures (the shipped samples, and a DAVIS frame from
../shared when there), once from its file as it is and once rewritten.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
from ai_edge_litert import schema_py_generated as schema
from ai_edge_litert.interpreter import Interpreter

from greenroom.samples import astronaut, rocket
from greenroom.segmentation import litert, load_segmenter
from greenroom.segmentation.litert import (
    CUSTOM_TRANSPOSE_CONV,
    load_interpreter,
    model_content,
    op_name,
    rewrite_transposed_convolutions,
    saved_rewrite,
)
from greenroom.segmentation.mediapipe_selfie import VARIANTS, builtin_model_path
from greenroom.segmentation.store import ENV_MODELS_DIR
from tests.conftest import SHARED, shared_path


@pytest.fixture(autouse=True)
def models_folder(tmp_path, monkeypatch):
    """Each test saves its rewrites in a fresh models folder, and starts with none in memory."""
    folder = tmp_path / "models"
    monkeypatch.setenv(ENV_MODELS_DIR, str(folder))
    litert._content.cache_clear()  # noqa: SLF001
    yield folder
    litert._content.cache_clear()  # noqa: SLF001


SHIPPED = sorted({variant.filename for variant in VARIANTS.values()})
#: Meet's models end in the same layer with two output channels (background, person).
MEET = ["segm_full_v679.tflite", "segm_lite_v681.tflite"]


def pictures(height: int, width: int) -> list[np.ndarray]:
    """Real RGB pictures at the model's input size, scaled to [0, 1] as the segmenters do."""
    images = [astronaut(), rocket()]
    davis = SHARED / "data" / "davis-dance-twirl" / "images"
    if davis.is_dir():
        first = sorted(davis.iterdir())[0]
        images.append(cv2.cvtColor(cv2.imread(str(first)), cv2.COLOR_BGR2RGB))
    return [
        cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
        for image in images
    ]


def outputs(interpreter: Interpreter, inputs: list[np.ndarray]) -> list[np.ndarray]:
    result = []
    for tensor in inputs:
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], tensor[None])
        interpreter.invoke()
        result.append(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]).copy())
    return result


def operators(content: bytes) -> list[str]:
    model = schema.ModelT.InitFromPackedBuf(content, 0)
    return [op_name(model, op) for op in model.subgraphs[0].operators]


def as_filed(path: Path) -> Interpreter:
    """LiteRT running the model file exactly as it is."""
    interpreter = Interpreter(model_path=str(path), num_threads=1)
    interpreter.allocate_tensors()
    return interpreter


#: How far the rewritten graph's output may lie from the file's: the 1x1 convolutions moved before
#: their resize sum the same products in another order (float32 rounding: up to 1.1e-5 on the
#: selfie models' 0..1 masks, 2.1e-5 on Meet's logits of about 10, here; the transposed
#: convolution's replacement alone is bit-identical). Under a hundredth of one 8-bit level.
REWRITE_TOLERANCE = {"atol": 2e-5, "rtol": 1e-5}


def assert_same_model_output(path: Path) -> None:
    original = as_filed(path)
    rewritten = load_interpreter(path, 1)
    _, height, width, _ = original.get_input_details()[0]["shape"]
    inputs = pictures(int(height), int(width))
    expected = outputs(original, inputs)
    for before, after in zip(expected, outputs(rewritten, inputs), strict=True):
        assert after.shape == before.shape
        np.testing.assert_allclose(after, before, **REWRITE_TOLERANCE)
    assert max(before.std() for before in expected) > 0.1  # a person was found somewhere


@pytest.mark.parametrize("filename", SHIPPED)
def test_the_shipped_models_run_rewritten_with_the_same_output(filename):
    path = builtin_model_path(filename)
    content = model_content(path)
    before, after = operators(path.read_bytes()), operators(content)
    assert CUSTOM_TRANSPOSE_CONV in before
    assert CUSTOM_TRANSPOSE_CONV not in after
    assert after.count("DEPTH_TO_SPACE") == 1
    # The layer's two float16 constants are no longer dequantised: nothing reads them.
    assert after.count("DEQUANTIZE") == before.count("DEQUANTIZE") - 2
    # Each decoder's three 1x1 convolutions after an enlargement now run before it.
    assert resizes_after_pointwise(content) == 3 and resizes_after_pointwise(path.read_bytes()) == 0
    assert_same_model_output(path)


def resizes_after_pointwise(content: bytes) -> int:
    """How many RESIZE_BILINEARs read a CONV_2D's output (none do in the files as shipped)."""
    model = schema.ModelT.InitFromPackedBuf(content, 0)
    graph = model.subgraphs[0]
    producers = {int(o): op for op in graph.operators for o in op.outputs}
    return sum(1 for op in graph.operators if op_name(model, op) == "RESIZE_BILINEAR"
               and int(op.inputs[0]) in producers
               and op_name(model, producers[int(op.inputs[0])]) == "CONV_2D")


def test_a_pointwise_convolution_with_an_activation_stays_after_its_resize():
    """A fused RELU does not commute with the enlargement's averaging: such a convolution is
    left where it is (the transposed convolution is still rewritten)."""
    import flatbuffers

    content = builtin_model_path(VARIANTS["landscape"].filename).read_bytes()
    model = schema.ModelT.InitFromPackedBuf(content, 0)
    graph = model.subgraphs[0]
    readers = {int(op.inputs[0]): op for op in graph.operators if op.inputs is not None
               and len(op.inputs)}
    resizes = [op for op in graph.operators if op_name(model, op) == "RESIZE_BILINEAR"]
    for resize in resizes:
        readers[int(resize.outputs[0])].builtinOptions.fusedActivationFunction = (
            schema.ActivationFunctionType.RELU)
    builder = flatbuffers.Builder(len(content))
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    rewritten = rewrite_transposed_convolutions(bytes(builder.Output()))
    assert rewritten is not None and "DEPTH_TO_SPACE" in operators(rewritten)
    assert len(resizes) == 3 and resizes_after_pointwise(rewritten) == 0


@pytest.mark.parametrize("filename", MEET)
def test_meet_models_with_two_output_channels_run_rewritten_with_the_same_output(filename):
    path = shared_path("models", filename)
    assert CUSTOM_TRANSPOSE_CONV not in operators(model_content(path))
    assert_same_model_output(path)


def test_the_default_segmenter_runs_the_rewritten_graph_and_keeps_its_answer(astronaut_rgb):
    segmenter = load_segmenter("selfie-landscape")
    mask = segmenter.segment(astronaut_rgb)
    interpreter = segmenter._interpreter  # noqa: SLF001 - which graph it was given
    names = [op["op_name"] for op in interpreter._get_ops_details()]  # noqa: SLF001
    assert "DEPTH_TO_SPACE" in names and CUSTOM_TRANSPOSE_CONV not in names
    original = as_filed(segmenter.path)
    given = interpreter.get_tensor(interpreter.get_input_details()[0]["index"])  # the same input
    assert given.std() > 0.05  # a real picture, not an empty buffer
    original.set_tensor(original.get_input_details()[0]["index"], given)
    original.invoke()
    expected = original.get_tensor(original.get_output_details()[0]["index"])[0, ..., 0]
    np.testing.assert_allclose(mask, expected, **REWRITE_TOLERANCE)


def test_overlapping_windows_are_left_alone():
    """A stride smaller than the kernel makes windows overlap: not a DEPTH_TO_SPACE."""
    import flatbuffers

    content = builtin_model_path(VARIANTS["landscape"].filename).read_bytes()
    model = schema.ModelT.InitFromPackedBuf(content, 0)
    graph = model.subgraphs[0]
    (layer,) = [op for op in graph.operators if op_name(model, op) == CUSTOM_TRANSPOSE_CONV]
    layer.customOptions = np.frombuffer(np.array([1, 1, 1], np.int32).tobytes(), np.uint8)
    builder = flatbuffers.Builder(len(content))
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    assert rewrite_transposed_convolutions(bytes(builder.Output())) is None


def test_a_model_without_the_layer_is_loaded_as_it_is(tmp_path):
    path = shared_path("models", "deeplabv3_257_mv_gpu.tflite")
    assert model_content(path) == path.read_bytes()


def test_a_file_that_is_not_a_model_still_gets_litert_s_own_error(tmp_path):
    path = tmp_path / "broken.tflite"
    path.write_bytes(b"TFL3" + bytes(range(256)) * 8)
    assert model_content(path) == path.read_bytes()  # the rewrite gave up quietly
    with pytest.raises((ValueError, RuntimeError)):
        load_interpreter(path, 1)


def landscape() -> Path:
    return builtin_model_path(VARIANTS["landscape"].filename)


def test_the_rewrite_is_saved_and_the_next_run_takes_it_without_rewriting(monkeypatch):
    path = landscape()
    first = model_content(path)
    saved = saved_rewrite(path.read_bytes())
    assert saved.parent.parent == Path(os.environ[ENV_MODELS_DIR])
    assert saved.read_bytes() == first
    assert path.read_bytes() != first  # the shipped file itself is never touched

    def no_rewrite(content: bytes) -> bytes:
        raise AssertionError("the saved rewrite should have been used")

    litert._content.cache_clear()  # noqa: SLF001 - as a new process would start
    monkeypatch.setattr(litert, "rewrite_transposed_convolutions", no_rewrite)
    assert model_content(path) == first
    assert_same_model_output(path)


def test_saving_a_rewrite_clears_what_a_killed_process_left(caplog):
    """A run killed while saving leaves its temporary file; the next save removes it, and only
    it: another process's file still being written stays."""
    path = landscape()
    folder = saved_rewrite(path.read_bytes()).parent
    folder.mkdir(parents=True)
    finished = subprocess.Popen(["true"])  # its process id, once it has exited, is nobody's
    finished.wait()
    stale = folder / f".old.tflite.tmp-{finished.pid}-abcd1234.tflite"
    stale.write_bytes(b"half a model")
    alive = folder / f".other.tflite.tmp-{os.getpid()}-efgh5678.tflite"
    alive.write_bytes(b"being written")
    model_content(path)
    assert not stale.exists() and alive.exists()
    assert f"removed {stale}" in caplog.text


def test_a_damaged_saved_rewrite_is_dropped_and_the_model_still_loads():
    path = landscape()
    saved = saved_rewrite(path.read_bytes())
    saved.parent.mkdir(parents=True)
    saved.write_bytes(b"\0\0\0\0TFL3" + b"\xff" * 4000)  # looks like a model, is not one
    assert_same_model_output(path)  # LiteRT refuses the saved bytes: the file itself is used
    assert not saved.exists()
    model_content(path)  # and the next load saves a good one again
    assert CUSTOM_TRANSPOSE_CONV not in operators(saved.read_bytes())


def test_a_models_folder_that_cannot_be_written_only_costs_the_saving(models_folder):
    models_folder.parent.mkdir(parents=True, exist_ok=True)
    models_folder.write_text("a file where the folder should be")
    content = model_content(landscape())
    assert CUSTOM_TRANSPOSE_CONV not in operators(content)
    assert models_folder.read_text() == "a file where the folder should be"
