"""Loading `.tflite` models into LiteRT, with graph rewrites that XNNPACK runs faster.

MediaPipe's selfie models, Meet's and ML Kit's all end in a transposed convolution
(`Convolution2DTransposeBias`, MediaPipe's custom op) whose kernel equals its stride: 2x2,
stride 2, from 16 channels to one or two. XNNPACK runs a transposed convolution as
"sub-convolutions" with a one-row micro-kernel padded to 8 output channels, so this last layer,
a tiny share of the model's arithmetic, took about 1.4 ms of each 720p live frame here (perf,
the landscape model), a third of the whole invoke.

When the kernel equals the stride the windows do not overlap: each output pixel is its input
pixel's channels times one kernel tap, plus the bias. That is exactly a 1x1 convolution to
`kh * kw * out` channels followed by DEPTH_TO_SPACE, which XNNPACK runs with its fast GEMM
kernels. Every output value is the same sum of the same products; on this machine the outputs
are bit-identical (tests/test_litert.py checks them on real frames) and each model's invoke is
about 1.3-1.6x faster, one thread (`benchmarks/model_graph.py`,
docs/benchmarks-model-graph.md).

The same rewrite also moves each 1x1 convolution that reads a bilinear enlargement (three in
each of these models' decoders) before the enlargement, where it runs on a quarter of the
pixels (`_pointwise_before_resize`): about 10% off the landscape model's invoke here
(`benchmarks/model_graph.py`). The two commute exactly in arithmetic, but float32 sums the
products in another order, so the output moves by up to about 1e-5 on a 0..1 mask (tests allow
2e-5): under a hundredth of one 8-bit level.

The rewrite is done at load time on a copy (about 0.1 s for a 250 KB model) and kept in the
models folder for the next run: the model file, shipped or downloaded and sha256-checked, is
never changed. Anything the rewrite does not recognise is left as it was, and if the rewrite
itself fails the original bytes are loaded, so a model LiteRT can run is never refused because
of it.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from greenroom.atomic import atomic_path, remove_stale_temps

if TYPE_CHECKING:
    from ai_edge_litert import schema_py_generated as schema

#: MediaPipe's transposed convolution with a bias (the models' last layer).
CUSTOM_TRANSPOSE_CONV = "Convolution2DTransposeBias"


def _schema() -> Any:  # noqa: ANN401 - the generated module
    from ai_edge_litert import schema_py_generated

    return schema_py_generated


def op_name(model: schema.ModelT, op: schema.OperatorT) -> str:
    """An operator's name: the custom code, or the builtin's name (BuiltinOperator)."""
    code = model.operatorCodes[op.opcodeIndex]
    if code.customCode:
        return bytes(code.customCode).decode()
    return _builtin_names()[max(code.builtinCode, code.deprecatedBuiltinCode)]


@functools.cache
def _builtin_names() -> dict[int, str]:
    operators = _schema().BuiltinOperator
    return {value: name for name, value in vars(operators).items() if not name.startswith("_")}


def _has_transposed_convolution(content: bytes) -> bool:
    """A cheap look at the operator codes (no unpacking of the graph)."""
    schema = _schema()
    model = schema.Model.GetRootAs(content, 0)
    for i in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(i)
        custom = code.CustomCode()
        if custom == CUSTOM_TRANSPOSE_CONV.encode():
            return True
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        if builtin == schema.BuiltinOperator.TRANSPOSE_CONV:
            return True
    return False


def opcode(model: schema.ModelT, builtin: int, version: int = 1) -> int:
    """The index of `builtin`'s operator code, added (at `version`) if the model has none."""
    for index, code in enumerate(model.operatorCodes):
        if not code.customCode and max(code.builtinCode, code.deprecatedBuiltinCode) == builtin:
            return index
    code = _schema().OperatorCodeT()
    code.builtinCode, code.deprecatedBuiltinCode = builtin, min(builtin, 127)
    code.version = version
    model.operatorCodes.append(code)
    return len(model.operatorCodes) - 1


def add_tensor(model: schema.ModelT, shape: list[int], name: str,
               values: np.ndarray | None = None, kind: int | None = None) -> int:
    """A new tensor of subgraph 0 (a constant when `values` is given); its index.

    Its type is `kind`, else that of `values` (float32 or int32), else float32. Names get the
    index added, so each is unique (tools such as the quantizer insist)."""
    schema = _schema()
    kinds = {np.dtype(np.float32): schema.TensorType.FLOAT32,
             np.dtype(np.int32): schema.TensorType.INT32}
    buffer = schema.BufferT()
    if values is not None:
        values = np.ascontiguousarray(values)
        if kind is None:
            kind = kinds[values.dtype]
        buffer.data = np.frombuffer(values.tobytes(), np.uint8)
    model.buffers.append(buffer)
    graph = model.subgraphs[0]
    tensor = schema.TensorT()
    tensor.shape = np.array(shape, np.int32)
    tensor.type = schema.TensorType.FLOAT32 if kind is None else kind
    tensor.buffer, tensor.name = len(model.buffers) - 1, f"{name}_{len(graph.tensors)}".encode()
    graph.tensors.append(tensor)
    return len(graph.tensors) - 1


def _constant(model: schema.ModelT, graph: schema.SubGraphT, index: int,
              producers: dict[int, schema.OperatorT]) -> np.ndarray | None:
    """A float constant's values as float32: stored as float32, or as float16 behind the
    DEQUANTIZE that MediaPipe's files use; None for anything else (computed, quantised)."""
    schema = _schema()
    producer = producers.get(index)
    if producer is not None:
        if op_name(model, producer) != "DEQUANTIZE":
            return None
        index = int(producer.inputs[0])
    tensor = graph.tensors[index]
    data = model.buffers[tensor.buffer].data
    kinds = {schema.TensorType.FLOAT32: np.float32, schema.TensorType.FLOAT16: np.float16}
    if data is None or not len(data) or tensor.type not in kinds:
        return None
    values = np.frombuffer(bytes(bytearray(data)), kinds[tensor.type])
    return values.astype(np.float32).reshape([int(d) for d in tensor.shape])


def _transposed_parts(model: schema.ModelT, op: schema.OperatorT) -> tuple[
        int, int, int | None, int, int, int, int] | None:
    """(input, weights, bias or None, stride h, stride w, fused activation, output) of a
    transposed convolution, custom or builtin; None for any other op."""
    schema = _schema()
    name = op_name(model, op)
    if name == CUSTOM_TRANSPOSE_CONV:
        if op.customOptions is None or len(op.customOptions) < 12:
            return None
        _padding, stride_w, stride_h = np.frombuffer(bytes(bytearray(op.customOptions))[:12],
                                                     np.int32)
        source, weights, bias = (int(i) for i in op.inputs[:3])
        return source, weights, bias, int(stride_h), int(stride_w), 0, int(op.outputs[0])
    if name == "TRANSPOSE_CONV" and isinstance(op.builtinOptions, schema.TransposeConvOptionsT):
        options = op.builtinOptions
        inputs = [int(i) for i in op.inputs]
        bias = inputs[3] if len(inputs) > 3 and inputs[3] >= 0 else None
        activation = int(getattr(options, "fusedActivationFunction", 0) or 0)
        return (inputs[2], inputs[1], bias, int(options.strideH), int(options.strideW),
                activation, int(op.outputs[0]))
    return None


def _as_depth_to_space(model: schema.ModelT, op: schema.OperatorT,
                       producers: dict[int, schema.OperatorT]) -> list[schema.OperatorT] | None:
    """CONV_2D 1x1 + DEPTH_TO_SPACE doing exactly what `op` does, or None if it can't."""
    schema = _schema()
    graph = model.subgraphs[0]
    parts = _transposed_parts(model, op)
    if parts is None:
        return None
    source, weights_index, bias_index, stride_h, stride_w, activation, output = parts
    weights = _constant(model, graph, weights_index, producers)  # OHWI
    if weights is None or weights.ndim != 4:
        return None
    out_channels, kernel_h, kernel_w, in_channels = weights.shape
    if not kernel_h == kernel_w == stride_h == stride_w > 1:
        return None  # overlapping windows, or blocks DEPTH_TO_SPACE can't express
    bias = (np.zeros(out_channels, np.float32) if bias_index is None
            else _constant(model, graph, bias_index, producers))
    in_shape = [int(d) for d in graph.tensors[source].shape]
    out_shape = [int(d) for d in graph.tensors[output].shape]
    if (bias is None or bias.size != out_channels or len(in_shape) != 4
            or graph.tensors[source].type != schema.TensorType.FLOAT32
            or out_shape != [in_shape[0], in_shape[1] * stride_h, in_shape[2] * stride_w,
                             out_channels]):
        return None
    block = kernel_h
    # Channel (dy * block + dx) * out + o of the 1x1 convolution is output pixel (dy, dx) of the
    # block, channel o: DEPTH_TO_SPACE's order.
    kernel = weights.transpose(1, 2, 0, 3).reshape(block * block * out_channels, 1, 1,
                                                   in_channels)
    channels = block * block * out_channels
    kernel_tensor = add_tensor(model, list(kernel.shape), "block_kernel", kernel)
    bias_tensor = add_tensor(model, [channels], "block_bias", np.tile(bias, block * block))
    blocks = add_tensor(model, [in_shape[0], in_shape[1], in_shape[2], channels], "blocks")

    conv = schema.OperatorT()
    conv.opcodeIndex = opcode(model, schema.BuiltinOperator.CONV_2D)
    conv.inputs, conv.outputs = [source, kernel_tensor, bias_tensor], [blocks]
    conv_options = schema.Conv2DOptionsT()
    conv_options.padding = schema.Padding.VALID
    conv_options.strideW = conv_options.strideH = 1
    conv_options.dilationWFactor = conv_options.dilationHFactor = 1
    conv_options.fusedActivationFunction = activation  # elementwise: the same before the shuffle
    conv.builtinOptionsType = schema.BuiltinOptions.Conv2DOptions
    conv.builtinOptions = conv_options

    shuffle = schema.OperatorT()
    shuffle.opcodeIndex = opcode(model, schema.BuiltinOperator.DEPTH_TO_SPACE)
    shuffle.inputs, shuffle.outputs = [blocks], [output]
    shuffle_options = schema.DepthToSpaceOptionsT()
    shuffle_options.blockSize = block
    shuffle.builtinOptionsType = schema.BuiltinOptions.DepthToSpaceOptions
    shuffle.builtinOptions = shuffle_options
    return [conv, shuffle]


def _pointwise_before_resize(model: schema.ModelT,
                             producers: dict[int, schema.OperatorT]) -> bool:
    """Run each 1x1 convolution that only reads a RESIZE_BILINEAR's enlargement before it
    instead, on the smaller picture; True if any was moved.

    The two commute: a 1x1 convolution mixes channels pixel by pixel, bilinear weights sum to 1
    (so the bias passes through too), and with no fused activation nothing else happens. The
    convolution then runs at a quarter of the pixels for a 2x enlargement. Only where its output
    has no more channels than its input, so the resize never has more to do than before.
    """
    schema = _schema()
    graph = model.subgraphs[0]
    readers: dict[int, list[schema.OperatorT]] = {}
    for op in graph.operators:
        for index in op.inputs:
            readers.setdefault(int(index), []).append(op)
    outputs = {int(t) for t in graph.outputs}
    order = list(graph.operators)
    moved = False
    for resize in list(order):
        if op_name(model, resize) != "RESIZE_BILINEAR":
            continue
        source, enlarged = int(resize.inputs[0]), int(resize.outputs[0])
        users = readers.get(enlarged, [])
        if len(users) != 1 or enlarged in outputs or op_name(model, users[0]) != "CONV_2D":
            continue
        conv = users[0]
        options = conv.builtinOptions
        weights = _constant(model, graph, int(conv.inputs[1]), producers)  # OHWI
        in_shape = [int(d) for d in graph.tensors[source].shape]
        if (weights is None or weights.ndim != 4 or weights.shape[1:3] != (1, 1)
                or not isinstance(options, schema.Conv2DOptionsT)
                or options.strideH != 1 or options.strideW != 1
                or options.fusedActivationFunction != schema.ActivationFunctionType.NONE
                or int(conv.inputs[0]) != enlarged or len(in_shape) != 4
                or graph.tensors[source].type != schema.TensorType.FLOAT32
                or weights.shape[0] > in_shape[3]):
            continue
        mixed = add_tensor(model, [*in_shape[:3], weights.shape[0]], "mixed_before_resize")
        output = int(conv.outputs[0])
        conv.inputs = [source, *(int(i) for i in conv.inputs[1:])]
        conv.outputs = [mixed]
        resize.inputs = [mixed, *(int(i) for i in resize.inputs[1:])]
        resize.outputs = [output]
        order.remove(resize)  # now after the convolution (whose weights may be made before it)
        order.insert(order.index(conv) + 1, resize)
        moved = True
    graph.operators = order
    return moved


def _drop_unused_dequantize(model: schema.ModelT) -> None:
    """DEQUANTIZE ops left feeding nothing (the replaced layer's float16 weights)."""
    graph = model.subgraphs[0]
    while True:
        used = {int(t) for op in graph.operators for t in op.inputs if t >= 0}
        used |= {int(t) for t in graph.outputs}
        kept = [op for op in graph.operators
                if op_name(model, op) != "DEQUANTIZE" or int(op.outputs[0]) in used]
        if len(kept) == len(graph.operators):
            return
        graph.operators = kept


def rewrite_transposed_convolutions(content: bytes, reorder: bool = True) -> bytes | None:
    """The model with each non-overlapping transposed convolution of its main graph as a 1x1
    convolution + DEPTH_TO_SPACE, and (`reorder`) its 1x1 convolutions moved before the
    resizes they read; None when there is no transposed convolution to rewrite. `reorder=False`
    gives the bit-identical rewrite alone (for comparison: benchmarks/model_graph.py)."""
    import flatbuffers

    if not _has_transposed_convolution(content):
        return None
    schema = _schema()
    model = schema.ModelT.InitFromPackedBuf(content, 0)
    if len(model.subgraphs) != 1:
        return None  # control flow: leave it to LiteRT as it is
    graph = model.subgraphs[0]
    producers = {int(o): op for op in graph.operators for o in op.outputs}
    operators: list[schema.OperatorT] = []
    changed = False
    for op in graph.operators:
        replacement = _as_depth_to_space(model, op, producers)
        changed |= replacement is not None
        operators.extend(replacement or [op])
    if not changed:
        return None
    graph.operators = operators
    if reorder:
        _pointwise_before_resize(model, producers)
    _drop_unused_dequantize(model)
    builder = flatbuffers.Builder(len(content) + 4096)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


#: Part of each saved rewrite's name: raise it when the rewrite changes, so that files saved by
#: an older greenroom are not taken for the new rewrite.
REWRITE_VERSION = 2
#: The saved rewrites' folder, inside the models folder (`store.models_dir`).
SAVED_FOLDER = "rewritten"


def saved_rewrite(content: bytes) -> Path:
    """Where the rewrite of a model with these bytes is kept between runs: named by the
    original's sha256, so a changed model file never finds an old rewrite."""
    from greenroom.segmentation.store import models_dir

    digest = hashlib.sha256(content).hexdigest()
    return models_dir() / SAVED_FOLDER / f"{digest}-v{REWRITE_VERSION}.tflite"


def _read_saved(path: Path) -> bytes | None:
    try:
        saved = path.read_bytes()
    except OSError:
        return None
    return saved if saved[4:8] == b"TFL3" else None  # the flatbuffer's file identifier


def _save(path: Path, content: bytes) -> None:
    """Write `content` to `path` whole or not at all (`atomic_path`: a temporary file beside
    it, then a rename); a folder that cannot be written only means the rewrite is made again
    next time."""
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(path.parent)  # what a process killed while saving left behind
        with atomic_path(path) as temporary:
            temporary.write_bytes(content)


def model_content(path: str | Path) -> bytes:
    """What LiteRT should load for the model file at `path`: the file's bytes, rewritten where
    `rewrite_transposed_convolutions` applies. A rewrite that fails leaves the bytes as read
    (LiteRT then reports on the file itself).

    The rewrite costs about 0.1 s, more than a photo's whole inference, so it is kept: for the
    life of the process per file (by size and modification time), so that a server opening a
    model for each session rewrites it once, and between runs in the models folder
    (`saved_rewrite`), so that the next command starts as fast as it did before there was a
    rewrite."""
    stat = Path(path).stat()
    return _content(str(path), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _content(path: str, _size: int, _mtime_ns: int) -> bytes:
    content = Path(path).read_bytes()
    try:
        if not _has_transposed_convolution(content):
            return content
        saved = saved_rewrite(content)
        rewritten = _read_saved(saved)
        if rewritten is None:
            rewritten = rewrite_transposed_convolutions(content)
            if rewritten is None:
                return content
            _save(saved, rewritten)
        return rewritten
    except Exception:  # noqa: BLE001 - any failure: load the file exactly as it is
        return content


def _forget(original: bytes) -> None:
    """Drop what is kept of the rewrite of the model with these bytes (in this process and on
    disk)."""
    _content.cache_clear()
    with contextlib.suppress(OSError):
        saved_rewrite(original).unlink(missing_ok=True)


def load_interpreter(path: str | Path, num_threads: int) -> Any:  # noqa: ANN401
    """A LiteRT interpreter for the model file at `path`, tensors allocated.

    If the rewritten graph will not load (a damaged saved rewrite, say), it is forgotten and
    the file is loaded as it is. Raises LiteRT's ValueError or RuntimeError for a file it cannot
    load (the callers put the path in their messages)."""
    from ai_edge_litert.interpreter import Interpreter

    def interpreter(content: bytes) -> Any:  # noqa: ANN401
        loaded = Interpreter(model_content=content, num_threads=num_threads)
        loaded.allocate_tensors()
        return loaded

    content = model_content(path)
    try:
        return interpreter(content)
    except (ValueError, RuntimeError):
        original = Path(path).read_bytes()
        if content == original:
            raise
        _forget(original)
        return interpreter(original)
