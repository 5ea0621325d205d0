"""Would an 8-bit build of the default model be faster? Build one and time it beside the original.

The default landscape model (MediaPipe selfie segmentation, 144x256) ships with float16
weights and runs in float32 on XNNPACK. This script makes a fully int8 version with Google's
`ai-edge-quantizer` (static int8, calibrated on real frames of people), and times one-thread
invokes of both. It also reports how far the int8 output moves from the float one.

The quantizer cannot take the graph as MediaPipe ships it, so it is rewritten first. Each step
leaves the float model's output unchanged (checked on real frames before quantising):
1. the float16 constants (behind DEQUANTIZE ops) become float32;
2. MediaPipe's custom `Convolution2DTransposeBias` becomes the builtin TRANSPOSE_CONV with a bias;
3. RELUs that follow a convolution are fused into it, and HARD_SWISH becomes
   ADD(+3, RELU6), MUL, MUL(1/6). XNNPACK's delegate runs neither op in int8, and every one it
   leaves out splits the graph into another partition.

On this project's 2-core AMD EPYC (AVX2, no VNNI), 2026-12-07: float16 original 2.5 ms,
int8 3.3 ms (one XNNPACK partition), int8 before step 3 4.9 ms (12 partitions). So the default
stays float. Run it again on a machine with VNNI or ARM dot-product instructions, where int8
kernels are the fast ones.

    python -m venv /tmp/q && /tmp/q/bin/pip install ai-edge-quantizer opencv-python-headless
    PYTHONPATH=src /tmp/q/bin/python benchmarks/int8_model.py --out /tmp/int8

(a venv of its own, since the quantizer pins its own litert; greenroom's source on the path for
the shipped model file). It needs ../shared/data/davis-people-unlabeled for real frames.
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from ai_edge_litert import schema_py_generated as schema
from ai_edge_litert.interpreter import Interpreter
from ai_edge_litert.tools import flatbuffer_utils

from greenroom.segmentation.litert import add_tensor, op_name, opcode
from greenroom.segmentation.store import builtin_model_path

FRAMES = Path(__file__).resolve().parents[2] / "shared" / "data" / "davis-people-unlabeled"
WIDTH, HEIGHT = 256, 144
Op = schema.BuiltinOperator


def new_op(builtin_index: int, inputs: list[int], outputs: list[int], options_type: int,
           options: object) -> schema.OperatorT:
    op = schema.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = builtin_index, inputs, outputs
    op.builtinOptionsType, op.builtinOptions = options_type, options
    return op


def float32_constants(model: schema.ModelT) -> None:
    """Step 1: every DEQUANTIZE of a float16 constant becomes a float32 constant."""
    graph = model.subgraphs[0]
    kept = []
    for op in graph.operators:
        source = graph.tensors[op.inputs[0]]
        data = model.buffers[source.buffer].data
        if (op_name(model, op) == "DEQUANTIZE" and source.type == schema.TensorType.FLOAT16
                and data is not None and len(data)):
            values = np.frombuffer(bytes(bytearray(data)), np.float16).astype(np.float32)
            buffer = schema.BufferT()
            buffer.data = np.frombuffer(values.tobytes(), np.uint8)
            model.buffers.append(buffer)
            graph.tensors[op.outputs[0]].buffer = len(model.buffers) - 1
        else:
            kept.append(op)
    graph.operators = kept


def builtin_transpose_conv(model: schema.ModelT) -> None:
    """Step 2: MediaPipe's custom transposed convolution as the builtin one (weights are OHWI
    in both; the custom options are padding, stride w, stride h as int32)."""
    graph = model.subgraphs[0]
    index = opcode(model, Op.TRANSPOSE_CONV, version=3)  # version 3: with a bias input
    for op in graph.operators:
        if op_name(model, op) != "Convolution2DTransposeBias":
            continue
        padding, stride_w, stride_h = np.frombuffer(
            bytes(bytearray(op.customOptions))[:12], np.int32)
        source, weights, bias = op.inputs
        shape = np.array(graph.tensors[op.outputs[0]].shape, np.int32)
        output_shape = add_tensor(model, [4], "output_shape", shape)
        options = schema.TransposeConvOptionsT()
        options.padding = schema.Padding.SAME if padding == 1 else schema.Padding.VALID
        options.strideW, options.strideH = int(stride_w), int(stride_h)
        op.opcodeIndex, op.customOptions = index, None
        op.inputs = [output_shape, weights, source, bias]
        op.builtinOptionsType = schema.BuiltinOptions.TransposeConvOptions
        op.builtinOptions = options


def int8_friendly(model: schema.ModelT) -> None:
    """Step 3: RELUs fused into the convolution before them; HARD_SWISH spelled out."""
    graph = model.subgraphs[0]
    producer, consumers = {}, collections.Counter()
    for index, op in enumerate(graph.operators):
        producer.update({int(t): index for t in op.outputs})
        consumers.update(int(t) for t in op.inputs if t >= 0)
    add, mul = opcode(model, Op.ADD), opcode(model, Op.MUL)
    rewritten = []
    for op in graph.operators:
        name = op_name(model, op)
        if name == "RELU":
            source = int(op.inputs[0])
            before = graph.operators[producer[source]] if source in producer else None
            if (before is not None and consumers[source] == 1
                    and op_name(model, before) in ("CONV_2D", "DEPTHWISE_CONV_2D")
                    and before.builtinOptions.fusedActivationFunction == 0):
                before.builtinOptions.fusedActivationFunction = schema.ActivationFunctionType.RELU
                before.outputs = [op.outputs[0]]
                continue
        if name == "HARD_SWISH":
            x, y = int(op.inputs[0]), int(op.outputs[0])
            shape, kind = list(graph.tensors[x].shape), graph.tensors[x].type
            three = add_tensor(model, [1], "three", np.float32([3]))
            sixth = add_tensor(model, [1], "sixth", np.float32([1 / 6]))
            relu6 = add_tensor(model, shape, "relu6", kind=kind)
            product = add_tensor(model, shape, "product", kind=kind)
            add_options = schema.AddOptionsT()
            add_options.fusedActivationFunction = schema.ActivationFunctionType.RELU6
            rewritten += [
                new_op(add, [x, three], [relu6], schema.BuiltinOptions.AddOptions, add_options),
                new_op(mul, [x, relu6], [product], schema.BuiltinOptions.MulOptions,
                       schema.MulOptionsT()),
                new_op(mul, [product, sixth], [y], schema.BuiltinOptions.MulOptions,
                       schema.MulOptionsT()),
            ]
            continue
        rewritten.append(op)
    graph.operators = rewritten


def compact(model: schema.ModelT) -> None:
    """Drop tensors no operator uses any more (the quantizer's calibration reads every tensor)
    and give the graph the signature the quantizer asks for."""
    graph = model.subgraphs[0]
    used = {int(t) for t in graph.inputs} | {int(t) for t in graph.outputs}
    for op in graph.operators:
        used |= {int(t) for t in op.inputs if t >= 0} | {int(t) for t in op.outputs}
    order = sorted(used)
    renumber = {old: new for new, old in enumerate(order)}
    graph.tensors = [graph.tensors[i] for i in order]
    for op in graph.operators:
        op.inputs = [renumber[int(t)] if t >= 0 else -1 for t in op.inputs]
        op.outputs = [renumber[int(t)] for t in op.outputs]
    graph.inputs = [renumber[int(t)] for t in graph.inputs]
    graph.outputs = [renumber[int(t)] for t in graph.outputs]
    signature = schema.SignatureDefT()
    signature.inputs = [schema.TensorMapT(name="input", tensorIndex=graph.inputs[0])]
    signature.outputs = [schema.TensorMapT(name="output", tensorIndex=graph.outputs[0])]
    signature.signatureKey, signature.subgraphIndex = "serving_default", 0
    model.signatureDefs = [signature]


def frames(count: int, offset: int) -> list[np.ndarray]:
    """Model inputs (1x144x256x3 float in [0, 1]) from real frames of people."""
    paths = sorted(FRAMES.rglob("*.jpg"))[offset::4][:count]
    return [cv2.resize(cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB), (WIDTH, HEIGHT),
                       interpolation=cv2.INTER_AREA).astype(np.float32)[None] / 255
            for p in paths]


class Timed:
    """One model on one inference thread, fed float frames (quantised for an int8 input)."""

    def __init__(self, path: Path) -> None:
        self.interpreter = Interpreter(model_path=str(path), num_threads=1)
        self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]
        self.partitions = sum(op["op_name"] == "DELEGATE"
                              for op in self.interpreter._get_ops_details())

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        if self.input["dtype"] != np.float32:
            scale, zero = self.input["quantization"]
            frame = np.clip(np.round(frame / scale + zero), -128, 127).astype(np.int8)
        self.interpreter.set_tensor(self.input["index"], frame)
        self.interpreter.invoke()
        result = self.interpreter.get_tensor(self.output["index"])
        if self.output["dtype"] != np.float32:
            scale, zero = self.output["quantization"]
            result = (result.astype(np.float32) - zero) * scale
        return result[0, :, :, 0].copy()


def check_unchanged(original: Path, rewritten: dict[str, Path], inputs: list[np.ndarray]) -> str:
    """An empty string if every rewritten float graph gives the original's output (to float
    rounding), else what differs."""
    reference = Timed(original)
    expected = [reference(frame) for frame in inputs]
    for name, path in rewritten.items():
        run = Timed(path)
        worst = max(float(np.abs(run(frame) - want).max())
                    for frame, want in zip(inputs, expected, strict=True))
        if worst > 1e-4:
            return f"{name}: output differs from the original by up to {worst:.4f}"
    return ""


def compare(models: dict[str, Path], inputs: list[np.ndarray], rounds: int = 5) -> None:
    runners = {name: Timed(path) for name, path in models.items()}
    best = dict.fromkeys(runners, float("inf"))
    outputs: dict[str, np.ndarray] = {}
    for _ in range(rounds):  # interleaved, the fastest round of each
        for name, run in runners.items():
            started = time.process_time()
            results = [run(frame) for frame in inputs]
            best[name] = min(best[name], (time.process_time() - started) / len(inputs) * 1e3)
            outputs[name] = np.array(results)
    reference = outputs[next(iter(runners))]
    print("| model | XNNPACK partitions | ms per invoke, 1 thread | MAD vs the original |")
    print("|---|---:|---:|---:|")
    for name, run in runners.items():
        difference = float(np.abs(outputs[name] - reference).mean())
        print(f"| {name} | {run.partitions} | {best[name]:.2f} | {difference:.4f} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the built models")
    parser.add_argument("--calibration", type=int, default=80, help="calibration frames (80)")
    args = parser.parse_args()
    try:
        from ai_edge_quantizer import quantizer, recipe
    except ImportError:
        print("int8_model: needs ai-edge-quantizer (pip install ai-edge-quantizer)",
              file=sys.stderr)
        return 1
    if not FRAMES.is_dir():
        print(f"int8_model: {FRAMES} is missing (the shared evaluation data)", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    original = builtin_model_path("selfie_segmentation_landscape.tflite")
    model = flatbuffer_utils.read_model(str(original))
    float32_constants(model)
    builtin_transpose_conv(model)
    stages = {}
    for name, step in (("float, builtin ops", None), ("float, int8-friendly", int8_friendly)):
        if step is not None:
            step(model)
        compact(model)
        stages[name] = args.out / f"landscape_{name.split(', ')[1].replace(' ', '_')}.tflite"
        flatbuffer_utils.write_model(model, str(stages[name]))
    problem = check_unchanged(original, stages, frames(10, 2))
    if problem:
        print(f"int8_model: a graph rewrite changed the model: {problem}", file=sys.stderr)
        return 1
    calibration = [{"input": frame} for frame in frames(args.calibration, 0)]
    for name, source in list(stages.items()):
        quantized = quantizer.Quantizer(str(source))
        quantized.load_quantization_recipe(recipe.static_wi8_ai8())
        result = quantized.quantize(quantized.calibrate({"serving_default": calibration}))
        target = source.with_name(source.stem + "_int8.tflite")
        result.export_model(str(target), overwrite=True)
        stages[name.replace("float", "int8")] = target
    compare({"float16 original": original, **stages}, frames(40, 1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
