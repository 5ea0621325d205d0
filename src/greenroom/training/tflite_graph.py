"""A TFLite model as a trainable PyTorch module, and its trained weights written back.

MediaPipe's selfie models are small float16 TFLite graphs (convolutions, depthwise convolutions,
hard-swish, squeeze-excite built from global average pooling, LOGISTIC and MUL, bilinear
upsampling and MediaPipe's custom `Convolution2DTransposeBias`). Fine-tuning them needs the same
network in PyTorch with the same weights, and shipping the result needs the weights back in the
same graph, so LiteRT + XNNPACK run it exactly as fast as the original.

`TfliteGraph` reads the flatbuffer with LiteRT's generated schema and executes its operator list
generically: every float16 constant behind a DEQUANTIZE becomes a float32 `nn.Parameter`, tensors
are kept NCHW, TFLite's SAME/VALID padding, fused activations and RESIZE_BILINEAR's
`align_corners`/`half_pixel_centers` flags are honoured. If the graph ends with LOGISTIC,
`forward` returns the logits before it (what the losses want). `write_tflite` puts the trained
parameters back (rounded to float16) into a copy of the original file, graph untouched.
`tests/test_tflite_graph.py` proves both directions against LiteRT on real images.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from ai_edge_litert import schema_py_generated as schema
from torch import nn
from torch.nn import functional as F

from greenroom.segmentation.litert import CUSTOM_TRANSPOSE_CONV, op_name

_SAME, _VALID = schema.Padding.SAME, schema.Padding.VALID
_FLOAT16, _INT32 = schema.TensorType.FLOAT16, schema.TensorType.INT32


def read_model(path: Path) -> schema.ModelT:
    """The whole flatbuffer as LiteRT's mutable object tree."""
    return schema.ModelT.InitFromPackedBuf(Path(path).read_bytes(), 0)


def same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow's SAME padding (before, after): the extra pixel goes after, unlike torch."""
    effective = (kernel - 1) * dilation + 1
    total = max((math.ceil(size / stride) - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def _pad_same(x: torch.Tensor, kernel: tuple[int, int], stride: tuple[int, int],
              dilation: tuple[int, int] = (1, 1)) -> torch.Tensor:
    top, bottom = same_padding(x.shape[2], kernel[0], stride[0], dilation[0])
    left, right = same_padding(x.shape[3], kernel[1], stride[1], dilation[1])
    if top or bottom or left or right:
        x = F.pad(x, (left, right, top, bottom))
    return x


_NHWC_TO_NCHW = {0: 0, 1: 2, 2: 3, 3: 1}

_ACTIVATIONS: dict[int, Callable[[torch.Tensor], torch.Tensor]] = {
    schema.ActivationFunctionType.NONE: lambda x: x,
    schema.ActivationFunctionType.RELU: F.relu,
    schema.ActivationFunctionType.RELU6: F.relu6,
    schema.ActivationFunctionType.RELU_N1_TO_1: lambda x: x.clamp(-1, 1),
}


def _activate(x: torch.Tensor, options: object) -> torch.Tensor:
    code = getattr(options, "fusedActivationFunction", schema.ActivationFunctionType.NONE)
    if code not in _ACTIVATIONS:
        raise NotImplementedError(f"fused activation {code} is not supported")
    return _ACTIVATIONS[code](x)


class TfliteGraph(nn.Module):
    """One float TFLite subgraph (NHWC, float16 weights) executed in PyTorch, NCHW throughout.

    Input: (N, C, H, W) float, normalised as the model expects (the selfie models: RGB in
    [0, 1]). Output: (N, C, H, W); the logits before a final LOGISTIC when `logits` is True.
    """

    def __init__(self, path: Path, logits: bool = True) -> None:
        super().__init__()
        self.path = Path(path)
        model = read_model(self.path)
        if len(model.subgraphs) != 1:
            raise NotImplementedError("only single-subgraph models are supported")
        graph = model.subgraphs[0]
        self._model, self._graph = model, graph
        self.input_index = int(graph.inputs[0])
        self.output_index = int(graph.outputs[0])
        shape = graph.tensors[self.input_index].shape
        self.input_size = (int(shape[2]), int(shape[1]))  # (width, height)
        self.params = nn.ParameterDict()
        self._constants: dict[int, torch.Tensor] = {}
        self._param_of: dict[int, str] = {}  # dequantized tensor index -> parameter key
        self._layout: dict[str, tuple[int, int]] = {}  # key -> (float16 tensor, buffer) index
        self._plan: list[tuple[str, schema.OperatorT]] = []
        for op in graph.operators:
            name = op_name(model, op)
            if name == "DEQUANTIZE":
                self._add_parameter(int(op.inputs[0]), int(op.outputs[0]))
            else:
                self._plan.append((name, op))
        self.logits = logits and bool(self._plan) and self._plan[-1][0] == "LOGISTIC" \
            and int(self._plan[-1][1].outputs[0]) == self.output_index
        for _, op in self._plan:
            for i in op.inputs:
                if i >= 0 and int(i) not in self._param_of and int(i) not in self._constants:
                    self._add_constant(int(i))

    def _buffer_array(self, index: int) -> np.ndarray | None:
        tensor = self._graph.tensors[index]
        data = self._model.buffers[tensor.buffer].data
        if data is None or len(data) == 0:
            return None
        dtype = {_FLOAT16: np.float16, _INT32: np.int32,
                 schema.TensorType.FLOAT32: np.float32}[tensor.type]
        return np.frombuffer(np.asarray(data, np.uint8).tobytes(), dtype).reshape(tensor.shape)

    def _add_parameter(self, source: int, target: int) -> None:
        values = self._buffer_array(source)
        if values is None or self._graph.tensors[source].type != _FLOAT16:
            raise NotImplementedError(f"DEQUANTIZE of tensor {source}: only float16 constants")
        key = f"t{target}"
        self.params[key] = nn.Parameter(torch.from_numpy(values.astype(np.float32)))
        self._param_of[target] = key
        self._layout[key] = (source, int(self._graph.tensors[source].buffer))

    def _add_constant(self, index: int) -> None:
        values = self._buffer_array(index)
        if values is not None:
            self._constants[index] = torch.from_numpy(values.copy())

    def _const(self, index: int) -> torch.Tensor:
        key = self._param_of.get(index)
        return self.params[key] if key is not None else self._constants[index]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with(x)[0]

    def forward_with(self, x: torch.Tensor, *keep: int) -> list[torch.Tensor]:
        """[the output (logits when `logits`), then the tensors numbered `keep`, in order]."""
        values: dict[int, torch.Tensor] = {self.input_index: x}
        plan = self._plan[:-1] if self.logits else self._plan
        for name, op in plan:
            args = [values[int(i)] if int(i) in values else self._const(int(i))
                    for i in op.inputs if i >= 0]
            values[int(op.outputs[0])] = self._run(name, op, args)
        last = self._plan[-1][1]
        out = values[int(last.inputs[0])] if self.logits else values[self.output_index]
        return [out, *(values[index] for index in keep)]

    def last_input(self, op_name_: str) -> int:
        """The tensor number of the first input of the last operator called `op_name_`."""
        for name, op in reversed(self._plan):
            if name == op_name_:
                return int(op.inputs[0])
        raise ValueError(f"the graph has no {op_name_}")

    def _run(self, name: str, op: schema.OperatorT, args: list[torch.Tensor]) -> torch.Tensor:
        options = op.builtinOptions
        if name == "CONV_2D":
            x, w = args[0], args[1].permute(0, 3, 1, 2)  # OHWI -> OIHW
            return _activate(self._conv(x, w, args[2] if len(args) > 2 else None, options, 1),
                             options)
        if name == "DEPTHWISE_CONV_2D":
            x, w = args[0], args[1].permute(3, 0, 1, 2)  # 1HW(C*M) -> (C*M)1HW
            return _activate(self._conv(x, w, args[2] if len(args) > 2 else None, options,
                                        x.shape[1]), options)
        if name == "AVERAGE_POOL_2D":
            kernel = (options.filterHeight, options.filterWidth)
            stride = (options.strideH, options.strideW)
            x = args[0]
            if options.padding == _SAME and any(same_padding(s, k, st) != (0, 0) for s, k, st
                                                in zip(x.shape[2:], kernel, stride, strict=True)):
                raise NotImplementedError("AVERAGE_POOL_2D with SAME padding that pads")
            return _activate(F.avg_pool2d(x, kernel, stride), options)
        if name == "MEAN":  # global pooling in the landscape model; axes given in NHWC
            axes = sorted(_NHWC_TO_NCHW[int(a) % 4] for a in np.atleast_1d(args[1].numpy()))
            return args[0].mean(dim=axes, keepdim=bool(options.keepDims))
        if name == "ADD":
            return _activate(args[0] + args[1], options)
        if name == "MUL":
            return _activate(args[0] * args[1], options)
        if name == "RELU":
            return F.relu(args[0])
        if name == "RELU6":
            return F.relu6(args[0])
        if name == "HARD_SWISH":
            return F.hardswish(args[0])
        if name == "LOGISTIC":
            return torch.sigmoid(args[0])
        if name == "RESIZE_BILINEAR":
            if options.alignCorners:
                align = True
            elif options.halfPixelCenters:
                align = False
            else:
                raise NotImplementedError("RESIZE_BILINEAR without half-pixel centres")
            height, width = (int(v) for v in args[1])
            return F.interpolate(args[0], size=(height, width), mode="bilinear",
                                 align_corners=align)
        if name == CUSTOM_TRANSPOSE_CONV:
            return self._transpose_conv(op, args)
        raise NotImplementedError(f"TFLite op {name} is not supported")

    @staticmethod
    def _conv(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, options: object,
              groups: int) -> torch.Tensor:
        stride = (options.strideH, options.strideW)
        dilation = (options.dilationHFactor, options.dilationWFactor)
        if options.padding == _SAME:
            x = _pad_same(x, tuple(weight.shape[2:]), stride, dilation)
        return F.conv2d(x, weight, bias, stride, 0, dilation, groups)

    @staticmethod
    def _transpose_conv(op: schema.OperatorT, args: list[torch.Tensor]) -> torch.Tensor:
        padding, stride_w, stride_h = np.frombuffer(
            np.asarray(op.customOptions, np.uint8).tobytes()[:12], np.int32)
        x, w, bias = args
        kernel_h, kernel_w = int(w.shape[1]), int(w.shape[2])
        out = F.conv_transpose2d(x, w.permute(3, 0, 1, 2), bias, (int(stride_h), int(stride_w)))
        # TfLitePadding: 1 = SAME (output = input * stride, the surplus cropped), 2 = VALID.
        if padding == 1:
            height, width = x.shape[2] * stride_h, x.shape[3] * stride_w
            top = max(kernel_h - stride_h, 0) // 2
            left = max(kernel_w - stride_w, 0) // 2
            out = out[:, :, top:top + height, left:left + width]
        return out

    def write_tflite(self, path: Path) -> Path:
        """A copy of the source .tflite with this module's parameters (float16) in place."""
        model = read_model(self.path)
        for key, (tensor_index, buffer_index) in self._layout.items():
            values = self.params[key].detach().cpu().numpy().astype(np.float16)
            shape = tuple(model.subgraphs[0].tensors[tensor_index].shape)
            if values.shape != shape:
                raise ValueError(f"{key}: shape {values.shape} != {shape} in the graph")
            model.buffers[buffer_index].data = np.frombuffer(values.tobytes(), np.uint8)
        import flatbuffers

        builder = flatbuffers.Builder(1 << 20)
        builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        part = path.with_name(path.name + ".part")
        part.write_bytes(bytes(builder.Output()))
        part.replace(path)
        return path
