"""ONNX models: every ``Conv`` and ``ConvTranspose`` node as a :class:`LayerSpec`.

The model is parsed as protobuf data only (``onnx.load``, never code). The input shape
is written into the graph's first real input (dynamic dimensions included), ONNX shape
inference gives every node's input size, and weights come from initializers or
``Constant`` nodes. A node whose input size or weight cannot be found is kept with the
reason.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .chain import ONNX_ONE_LIPSCHITZ
from .spec import LayerSpec

CONV_OPS = ("Conv", "ConvTranspose")


def load_model(model: Any) -> Any:
    """An ``onnx.ModelProto`` from a path or a ModelProto; clear errors for bad files."""
    import onnx
    from google.protobuf.message import DecodeError

    if isinstance(model, onnx.ModelProto):
        proto = model
        where = "the ModelProto"
    elif isinstance(model, (str, os.PathLike)):
        path = Path(model)
        if not path.exists():
            raise FileNotFoundError(f"model file {str(path)!r} does not exist")
        if not path.is_file():
            raise IsADirectoryError(f"model {str(path)!r} is not a file")
        where = repr(str(path))
        try:
            proto = onnx.load(str(path))
        except (DecodeError, ValueError, RuntimeError, UnicodeDecodeError) as exc:
            raise ValueError(f"{where} is not a readable ONNX model: {exc}") from None
    else:
        raise TypeError(
            "model must be an ONNX file path, an onnx.ModelProto or a torch.nn.Module; "
            f"got {type(model).__name__}"
        )
    if not proto.HasField("graph") or not proto.graph.node or proto.ir_version < 1:
        raise ValueError(f"{where} is not an ONNX model (no graph, nodes or IR version)")
    if not any(op.domain in ("", "ai.onnx") for op in proto.opset_import):
        raise ValueError(f"{where} imports no ONNX operator set")
    return proto


def _real_inputs(graph: Any) -> list[Any]:
    inits = {t.name for t in graph.initializer}
    return [v for v in graph.input if v.name not in inits]


def _set_input_shape(proto: Any, input_shape: tuple[int, ...]) -> Any:
    """A copy of the model whose first real input has ``input_shape``."""
    import onnx

    model = onnx.ModelProto()
    model.CopyFrom(proto)
    inputs = _real_inputs(model.graph)
    if not inputs:
        raise ValueError("the ONNX graph has no input that is not an initializer")
    value = inputs[0]
    tensor = value.type.tensor_type
    if tensor.HasField("shape"):
        rank = len(tensor.shape.dim)
        if rank != len(input_shape):
            raise ValueError(
                f"input_shape {input_shape} has {len(input_shape)} dimensions; the model's "
                f"input {value.name!r} has {rank}"
            )
        for dim, size in zip(tensor.shape.dim, input_shape, strict=True):
            if dim.HasField("dim_value") and dim.dim_value > 0 and dim.dim_value != size:
                raise ValueError(
                    f"input_shape {input_shape} does not match the model's fixed input "
                    f"shape on {value.name!r}: a dimension is {dim.dim_value}, not {size}"
                )
    tensor.ClearField("shape")
    for size in input_shape:
        tensor.shape.dim.add().dim_value = int(size)
    return model


def _constants(graph: Any) -> dict[str, np.ndarray]:
    """Initializers and ``Constant`` node outputs, by name."""
    from onnx import numpy_helper

    values = {t.name: t for t in graph.initializer}
    out: dict[str, np.ndarray] = {}
    for name, tensor in values.items():
        out[name] = tensor
    for node in graph.node:
        if node.op_type == "Constant" and node.output:
            for attr in node.attribute:
                if attr.name == "value":
                    out[node.output[0]] = attr.t
    return {k: numpy_helper.to_array(v) for k, v in out.items()}


def _shapes(model: Any) -> tuple[dict[str, tuple[int, ...] | None], str]:
    """Every value's shape after shape inference (None where a dimension is unknown)."""
    import onnx

    try:
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True, data_prop=True)
        note = ""
    except Exception as exc:  # onnx raises several types here
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "negative" in message.lower() or "must be" in message.lower():
            raise ValueError(
                f"the input shape is invalid for the model (ONNX shape inference: {message})"
            ) from None
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False, data_prop=True)
        note = f"shape inference stopped: {message}"
    shapes: dict[str, tuple[int, ...] | None] = {}
    graph = inferred.graph
    for value in [*graph.input, *graph.value_info, *graph.output]:
        tensor = value.type.tensor_type
        if not tensor.HasField("shape"):
            continue
        dims = []
        for dim in tensor.shape.dim:
            dims.append(int(dim.dim_value) if dim.HasField("dim_value") else -1)
        shapes[value.name] = tuple(dims) if all(v >= 0 for v in dims) else None
    for tensor in graph.initializer:
        shapes[tensor.name] = tuple(int(v) for v in tensor.dims)
    return shapes, note


def _attrs(node: Any) -> dict[str, Any]:
    import onnx

    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _decode(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


def _implied_transpose(
    spec: LayerSpec,
    attrs: dict[str, Any],
    auto_pad: str,
    size: tuple[int, ...],
    extent: list[int],
    out_pad: tuple[int, ...],
) -> LayerSpec:
    """A ConvTranspose whose pads follow from ``output_shape`` or ``auto_pad`` SAME_*.

    As the ONNX operator defines them: ``total = stride*(in-1) + output_padding +
    extent - out`` per dimension, with ``out`` the ``output_shape`` given, or
    ``in * stride`` under SAME_UPPER/SAME_LOWER; SAME_UPPER puts ``total // 2`` before
    and the rest after, SAME_LOWER and a plain ``output_shape`` the rest before. The
    layer is the full transposed output cropped by these ``(before, after)`` pads, with
    ``output_padding`` at the end, which :class:`convbench.Conv` takes as it is.
    """
    d = len(size)
    target: list[int]
    if "output_shape" in attrs:
        given = [int(v) for v in attrs["output_shape"]]
        if len(given) < d:
            spec.reason = f"ConvTranspose output_shape {given} has fewer than {d} dimensions"
            return spec
        target = given[-d:]
    else:
        target = [n * s for n, s in zip(size, spec.stride, strict=True)]
    pairs = []
    for n, s, e, op, out in zip(size, spec.stride, extent, out_pad, target, strict=True):
        total = s * (n - 1) + op + e - out
        if total < 0:
            spec.reason = (
                f"ConvTranspose output_shape {target} exceeds the full output of input "
                f"{list(size)} (negative padding)"
            )
            return spec
        small = total // 2
        pairs.append((small, total - small) if auto_pad == "SAME_UPPER" else (total - small, small))
    spec.padding = tuple(pairs)
    spec.output_padding = tuple(out_pad)
    spec.output_size = tuple(target)
    how = "output_shape" if "output_shape" in attrs else f"auto_pad {auto_pad}"
    spec.notes.append(f"pads {list(pairs)} implied by {how}")
    return spec


def _conv_spec(
    node: Any, index: int, constants: dict[str, np.ndarray], shapes: dict[str, Any], note: str
) -> LayerSpec:
    """One ``Conv``/``ConvTranspose`` node in PyTorch's conventions."""
    name = node.name or (node.output[0] if node.output else f"{node.op_type}_{index}")
    attrs = _attrs(node)
    transposed = node.op_type == "ConvTranspose"
    weight = constants.get(node.input[1]) if len(node.input) > 1 else None
    x_shape = shapes.get(node.input[0])
    w_shape = weight.shape if weight is not None else shapes.get(node.input[1])
    if w_shape is None and "kernel_shape" in attrs:
        d = len(attrs["kernel_shape"])
    elif w_shape is not None:
        d = len(w_shape) - 2
    elif x_shape is not None:
        d = len(x_shape) - 2
    else:
        d = 2
    stride = tuple(int(v) for v in attrs.get("strides", [1] * d))
    dilation = tuple(int(v) for v in attrs.get("dilations", [1] * d))
    groups = int(attrs.get("group", 1))
    pads = [int(v) for v in attrs.get("pads", [0] * (2 * d))]
    auto_pad = _decode(attrs.get("auto_pad", "NOTSET"))
    out_pad_onnx = tuple(int(v) for v in attrs.get("output_padding", [0] * d))
    spec = LayerSpec(
        name=name,
        op=node.op_type,
        weight=None if weight is None else np.asarray(weight, dtype=np.float64),
        stride=stride,
        dilation=dilation,
        groups=groups,
        padding=tuple((pads[i], pads[i + d]) for i in range(d)),
        output_padding=(0,) * d,
        transposed=transposed,
    )
    if weight is None:
        spec.reason = f"the weight {node.input[1]!r} is not a constant of the graph"
        return spec
    if weight.ndim != d + 2 or not 1 <= d <= 3:
        spec.reason = f"weight of shape {weight.shape} is not a 1-D to 3-D convolution kernel"
        return spec
    if x_shape is None:
        spec.reason = "input size unknown after shape inference" + (f" ({note})" if note else "")
        return spec
    if len(x_shape) != d + 2:
        spec.reason = f"input of shape {x_shape} does not fit a {d}-D kernel"
        return spec
    size = tuple(int(v) for v in x_shape[2:])
    spec.input_size = size
    kernel = weight.shape[2:]
    extent = [dl * (k - 1) + 1 for k, dl in zip(kernel, dilation, strict=True)]
    if not transposed:
        if auto_pad == "VALID":
            spec.padding = ((0, 0),) * d
        elif auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            pairs = []
            for n, s, e in zip(size, stride, extent, strict=True):
                out = -(-n // s)
                total = max(0, (out - 1) * s + e - n)
                small = total // 2
                pairs.append((small, total - small) if auto_pad == "SAME_UPPER"
                             else (total - small, small))
            spec.padding = tuple(pairs)
        out = tuple(
            (n + b + a - e) // s + 1
            for n, (b, a), e, s in zip(size, spec.padding, extent, stride, strict=True)
        )
    else:
        if "output_shape" in attrs or auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            return _implied_transpose(spec, attrs, auto_pad, size, extent, out_pad_onnx)
        if auto_pad == "VALID":
            pads = [0] * (2 * d)
        # ONNX: the full transposed output, cropped (b, a), then output_padding at the end;
        # PyTorch: cropped (p, p), output_padding at the end: p = b, op = b - a + op_onnx.
        pt_pads = []
        pt_out = []
        for i in range(d):
            b, a = pads[i], pads[i + d]
            op = b - a + out_pad_onnx[i]
            if not 0 <= op < max(stride[i], dilation[i]):
                spec.reason = (
                    f"ConvTranspose pads {pads} with output_padding {list(out_pad_onnx)} have "
                    "no PyTorch equivalent"
                )
                return spec
            pt_pads.append(b)
            pt_out.append(op)
        spec.padding = tuple((p, p) for p in pt_pads)
        spec.output_padding = tuple(pt_out)
        out = tuple(
            (n - 1) * s - 2 * p + e + op
            for n, s, p, e, op in zip(size, stride, pt_pads, extent, pt_out, strict=True)
        )
    if any(v < 1 for v in out):
        raise ValueError(
            f"the input is too small for layer {name!r} ({node.op_type}, kernel "
            f"{'x'.join(map(str, kernel))}, input {'x'.join(map(str, size))}): empty output"
        )
    spec.output_size = out
    return spec


def _chain(graph: Any, real_inputs: list[Any], constants: dict[str, Any]) -> str:
    """Empty when the graph is a plain chain of convolutions and 1-Lipschitz maps, else
    why not."""
    if len(real_inputs) != 1 or len(graph.output) != 1:
        return "the graph has more than one input or output"
    current = real_inputs[0].name
    for node in graph.node:
        if node.op_type == "Constant":
            continue
        data = [i for i in node.input if i and i not in constants]
        if node.op_type == "LeakyRelu":
            alpha = _attrs(node).get("alpha", 0.01)
            if abs(alpha) > 1:
                return f"node {node.name or node.output[0]!r} is LeakyRelu with alpha {alpha}"
        elif node.op_type not in (*CONV_OPS, *ONNX_ONE_LIPSCHITZ):
            label = node.name or node.output[0]
            return f"node {label!r} ({node.op_type}) is not a convolution or a 1-Lipschitz map"
        if data != [current]:
            label = node.name or node.output[0]
            return f"node {label!r} ({node.op_type}) does not take only the previous output"
        current = node.output[0]
    if graph.output[0].name != current:
        return "the graph's output is not the last node's"
    return ""


def onnx_layers(model: Any, input_shape: tuple[int, ...]) -> tuple[list[LayerSpec], str]:
    """The convolutions of an ONNX model in graph order, and why it is not a plain chain
    (empty when it is)."""
    proto = load_model(model)
    shaped = _set_input_shape(proto, input_shape)
    graph = shaped.graph
    constants = _constants(graph)
    shapes, note = _shapes(shaped)
    specs = [
        _conv_spec(node, i, constants, shapes, note)
        for i, node in enumerate(graph.node)
        if node.op_type in CONV_OPS and node.domain in ("", "ai.onnx")
    ]
    return specs, _chain(graph, _real_inputs(graph), constants)
