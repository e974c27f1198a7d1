"""ONNX models to a flat :class:`~rfdesign.spec.graph.Graph` (needs the ``onnx`` extra).

Every ONNX node that computes on the image becomes one node named after it
(its name, or its first output tensor when unnamed); a few become two, named
``<name>/<part>`` with the node's own name on the last. Weights, shape
computations and other constants are evaluated or measured, never turned into
nodes. Spatial sizes are tracked through the graph at the import size (the
model's static input size, or ``input_size``), which resolves the few things
that depend on it: ``SAME_LOWER`` padding, ``ConvTranspose`` with
``output_shape``, ``Resize`` to fixed ``sizes``, and which ``Reshape`` is a
flatten.

Semantics (ONNX operators, opsets 7 to 19; a few older ones work too):

* ``Conv``, ``ConvTranspose``, ``MaxPool``, ``AveragePool``, ``LpPool``:
  kernel from ``kernel_shape`` or the weight; ``pads``, ``strides``,
  ``dilations``, ``group``; ``auto_pad`` ``SAME_UPPER`` is rfdesign's
  ``same`` (TensorFlow's rule), ``SAME_LOWER`` explicit pairs with the odd
  pixel before, ``VALID`` no padding; ``ceil_mode`` drops a last window that
  would start in the right padding, as PyTorch and ONNX's reference
  implementation do (ONNX's shape inference does not);
* ``GlobalAveragePool``/``GlobalMaxPool``, and ``ReduceMean``/``ReduceMax``
  (...) over exactly the spatial axes: ``global_pool``;
* ``Pad`` on spatial axes: ``pad`` (negative amounts: ``crop``); ``Slice`` on
  channels: ``select``, on spatial axes (step 1): ``crop``; ``Split`` on
  channels: one ``select`` per output;
* ``Resize``/``Upsample``: ``upsample`` when rfdesign's map reads exactly the
  input pixels ONNX reads for every output pixel: nearest with
  ``floor(v * in / out)`` (every integer factor under ``half_pixel``,
  ``pytorch_half_pixel``, ``tf_half_pixel_for_nn``, and ``asymmetric`` with
  ``floor``), linear with ``half_pixel`` or ``align_corners``. Everything else
  (cubic, ``asymmetric`` linear, ``tf_crop_and_resize``, antialiasing) is
  refused, saying so;
* ``Add``/``Sum``/``Sub``/``Max``/``Min``/``Mean`` of two image tensors:
  ``add``; ``Mul``/``Div``: ``mul`` (a gate of spatial size 1 or one channel
  broadcasts); an add that broadcasts is written as ``mul`` (same geometry;
  rfdesign's ``add`` needs equal shapes). An elementwise op with a constant
  (a bias, a scale) passes through; ``MatMul`` followed by ``Add`` of a
  constant becomes one ``linear`` with bias;
* ``Concat`` on channels: ``concat``; ``Flatten`` (or a ``Reshape`` to
  ``(N, features)``) then ``Gemm``/``MatMul`` with a constant weight:
  ``linear``;
* ``Reshape``/``Transpose`` that only regroup channels (ShuffleNet's channel
  shuffle: ``(N, C, H, W) -> (N, g, C/g, H, W) -> transpose -> (N, C, H, W)``),
  ``Squeeze``/``Unsqueeze`` of size-1 axes: identity;
* ``BatchNormalization``, ``InstanceNormalization``, ``GroupNormalization``,
  ``LayerNormalization``: ``norm`` (2 x channels parameters, as PyTorch counts
  an affine norm); activations, ``Dropout``, ``LRN``, ``Softmax`` over
  channels, ``Identity``, ``Cast``: pass-through;
* ``DepthToSpace``/``SpaceToDepth``: ``depth_to_space``/``space_to_depth``.

The image input is channels first; a channels-last input (a TensorFlow
conversion) is read when every reader transposes it to channels first.

Anything else that touches the image (``NonMaxSuppression``, ``Loop``,
attention ``MatMul`` on feature maps, ``Gather`` on the image ...) is a
:class:`~rfdesign.errors.SpecError` naming the op and the node.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from math import ceil, floor, prod
from typing import Any

from rfdesign.errors import Location, SpecError, require
from rfdesign.io.graph_builder import GraphBuilder
from rfdesign import ops
from rfdesign.rf.geometry import effective_kernel, same_padding, transposed_size, window_axis
from rfdesign.spec.graph import INPUT, Graph

__all__ = ["import_onnx"]

MAX_MODEL_BYTES = 2 * 1024 * 1024 * 1024  # protobuf's own limit

#: pass-through ops and the spec alias written for them
_PASS_THROUGH = {
    "Relu": "relu", "LeakyRelu": "leaky_relu", "PRelu": "prelu", "Elu": "elu", "Selu": "selu", "Celu": "celu",
    "Gelu": "gelu", "Sigmoid": "sigmoid", "HardSigmoid": "hardsigmoid", "HardSwish": "hardswish",
    "Tanh": "tanh", "Mish": "mish", "Softplus": "activation", "Softsign": "activation",
    "ThresholdedRelu": "activation", "Shrink": "activation", "Clip": "activation", "Erf": "activation",
    "Exp": "activation", "Log": "activation", "Abs": "activation", "Neg": "activation", "Sqrt": "activation",
    "Reciprocal": "activation", "Floor": "activation", "Ceil": "activation", "Round": "activation",
    "Sign": "activation", "Sin": "activation", "Cos": "activation", "Not": "activation",
    "Dropout": "dropout", "LRN": "lrn", "Identity": "identity", "Cast": "identity", "CastLike": "identity",
    "LpNormalization": "identity", "MeanVarianceNormalization": "identity",
}  # fmt: skip
_SOFTMAX = {"Softmax": "softmax", "LogSoftmax": "log_softmax", "Hardmax": "activation"}
_NORMS = {
    "BatchNormalization": "batchnorm",
    "InstanceNormalization": "instancenorm",
    "GroupNormalization": "groupnorm",
    "LayerNormalization": "layernorm",
}
_ADDS = {"Add", "Sum", "Sub", "Max", "Min", "Mean"}
_MULS = {"Mul", "Div"}
_REDUCE = {
    "ReduceMean": "avg", "ReduceSum": "avg", "ReduceL1": "avg", "ReduceL2": "avg", "ReduceLogSumExp": "avg",
    "ReduceSumSquare": "avg", "ReduceLogSum": "avg", "ReduceMax": "max", "ReduceMin": "max",
}  # fmt: skip
#: ops whose outputs depend only on the input's shape, not its values
_SHAPE_ONLY = {"Shape", "Size"}


@dataclass
class _Tensor:
    """An image-dependent tensor: the rfdesign node holding it and how its ONNX shape relates to it.

    ``layout`` is ``map`` (N, C, *size), ``last`` (N, *size, C: channels last,
    as models converted from TensorFlow take their input), ``flat``
    (N, C * prod(size)) or ``group`` (N, *cdims, *size) with prod(cdims) = C
    (a channel regrouping).
    """

    node: str
    batch: int | None
    channels: int
    size: tuple[int, ...]
    layout: str = "map"
    cdims: tuple[int, ...] = ()

    @property
    def shape(self) -> tuple[int | None, ...]:
        if self.layout == "flat":
            return (self.batch, self.channels * prod(self.size))
        if self.layout == "group":
            return (self.batch,) + self.cdims + self.size
        if self.layout == "last":
            return (self.batch,) + self.size + (self.channels,)
        return (self.batch, self.channels) + self.size

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def spatial_axes(self) -> list[int]:
        if self.layout == "flat":
            return []
        if self.layout == "last":
            return list(range(1, 1 + len(self.size)))
        return list(range(self.rank - len(self.size), self.rank))

    @property
    def channel_axis(self) -> int:
        return self.rank - 1 if self.layout == "last" else 1

    @property
    def point(self) -> bool:
        """True when the tensor has no spatial extent (every spatial size is 1)."""
        return all(n == 1 for n in self.size)


class _Unsupported(Exception):
    """A constant that cannot be evaluated; turned into a located SpecError by the caller."""


def import_onnx(path: str, input_size: tuple[int, ...] | None = None, output: str | None = None) -> Graph:
    """Read an ONNX model as a graph.

    ``input_size`` overrides the image input's spatial size (required when
    the model's is symbolic); ``output`` picks the primary output node
    (default: for each graph output, the last node with spatial extent before
    it, i.e. the feature map that feeds a global pool or a dense head).
    """
    onnx = require("onnx", "onnx")
    path = os.fspath(path)
    model = _load(onnx, path)
    return _Importer(onnx, model, path, input_size).run(output)


def _load(onnx: Any, path: str) -> Any:
    from rfdesign.spec.yamlload import regular_file_size

    size = regular_file_size(path)
    if size > MAX_MODEL_BYTES:
        raise SpecError(f"the file is {size} bytes, above protobuf's 2 GiB limit", Location(path))
    try:
        model = onnx.load(path, load_external_data=False)
    except Exception as exc:  # protobuf's DecodeError and friends
        raise SpecError(
            f"not a readable ONNX model ({type(exc).__name__}: {exc})".replace("\n", " "),
            Location(path),
            "is this an .onnx file?",
        ) from None
    if not model.HasField("graph") or len(model.graph.node) == 0:
        raise SpecError("the ONNX model has no graph (no nodes)", Location(path), "is this an .onnx file?")
    return model


def _node_key(node: Any) -> tuple[Any, ...]:
    return (node.op_type, node.name, tuple(node.input), tuple(node.output))


class _Importer:
    def __init__(self, onnx: Any, model: Any, path: str, input_size: tuple[int, ...] | None):
        self.onnx = onnx
        self.np = require("numpy", "onnx")
        self.model = model
        self.graph = model.graph
        self.path = path
        self.location = Location(path)
        # a node's index in the file, by what identifies it (protobuf hands out a new wrapper on each access)
        self.positions = {_node_key(node): index for index, node in enumerate(self.graph.node)}
        self.input_size = input_size
        self.opset = 1
        for entry in model.opset_import:
            if entry.domain in ("", "ai.onnx"):
                self.opset = entry.version
        self.initializers = {t.name: t for t in self.graph.initializer}
        self.producers: dict[str, Any] = {}
        self.values: dict[str, Any] = {}
        self.data: dict[str, _Tensor] = {}
        self.builder = GraphBuilder(self.location, "ONNX")
        self.consumers: dict[str, int] = {}
        self.inferred: dict[str, tuple[int, ...]] | None = None
        self.linear_from_matmul: dict[str, str] = {}  # output tensor -> linear node without bias

    # -- entry -----------------------------------------------------------------------------------------

    def run(self, output: str | None) -> Graph:
        image, batch, channels, size, layout = self._image_input()
        self.data[image] = _Tensor(INPUT, batch, channels, size, layout)
        order = self._topological()
        for node in order:
            for name in node.input:
                if name:
                    self.consumers[name] = self.consumers.get(name, 0) + 1
        for node in order:
            inputs = [name for name in node.input if name]
            if node.op_type not in _SHAPE_ONLY and any(name in self.data for name in inputs):
                self._convert(node)
            else:
                for name in node.output:
                    if name:
                        self.producers[name] = node
        name = self.graph.name or os.path.splitext(os.path.basename(self.path))[0] or "onnx"
        return self.builder.finish(
            name, size, channels, self._outputs(), output, naming="layers are named after the ONNX nodes"
        )

    def _image_input(self) -> tuple[str, int | None, int, tuple[int, ...], str]:
        candidates = []
        for value in self.graph.input:
            if value.name in self.initializers:
                continue
            shape = self._declared_shape(value)
            if shape is not None and len(shape) >= 3:
                candidates.append((value.name, shape))
        if not candidates:
            raise SpecError(
                "the model has no image input (an input of rank 3 to 5: N, C, spatial sizes)",
                self.location,
                "rfdesign imports convolutional networks on 1-D, 2-D or 3-D inputs",
            )
        name, shape = candidates[0]
        if len(shape) > 5:
            raise SpecError(
                f"input `{name}` has rank {len(shape)}; rfdesign handles 1 to 3 spatial axes", self.location
            )
        batch = shape[0] if isinstance(shape[0], int) and shape[0] > 0 else None
        rank = len(shape)
        to_first = [0, rank - 1] + list(range(1, rank - 1))
        readers = [node for node in self.graph.node if name in node.input]
        layout = "map"
        if readers and all(
            node.op_type == "Transpose" and list(self._attrs(node).get("perm", [])) == to_first for node in readers
        ):  # channels last, transposed to channels first before any convolution (TensorFlow conversions)
            layout = "last"
            shape = [shape[0], shape[-1]] + list(shape[1:-1])
        channels = shape[1]
        if not isinstance(channels, int) or channels < 1:
            raise SpecError(
                f"input `{name}` has no static channel count ({shape[1]})",
                self.location,
                "rfdesign reads the input as N, C, spatial sizes (channels first)",
            )
        declared = shape[2:]
        if self.input_size is not None:
            size = tuple(int(n) for n in self.input_size)
            if len(size) == 1 and len(declared) > 1:
                size = size * len(declared)  # one size: the same on every spatial axis
            if len(size) != len(declared) or any(n < 1 for n in size):
                raise SpecError(
                    f"input size {list(self.input_size)} does not fit input `{name}` of shape {list(shape)}",
                    self.location,
                    f"give {len(declared)} positive spatial size(s)",
                )
        else:
            if not all(isinstance(n, int) and n > 0 for n in declared):
                raise SpecError(
                    f"input `{name}` has symbolic spatial sizes {list(declared)}",
                    self.location,
                    "pass an input size (one per spatial axis)",
                )
            size = tuple(declared)  # type: ignore[arg-type]
        return name, batch, channels, size, layout

    def _declared_shape(self, value: Any) -> list[Any] | None:
        kind = value.type.WhichOneof("value")
        if kind != "tensor_type" or not value.type.tensor_type.HasField("shape"):
            return None
        shape: list[Any] = []
        for dim in value.type.tensor_type.shape.dim:
            if dim.HasField("dim_value"):
                shape.append(dim.dim_value)
            else:
                shape.append(dim.dim_param or "?")
        return shape

    def _topological(self) -> list[Any]:
        nodes = list(self.graph.node)
        produced = {}
        for index, node in enumerate(nodes):
            for name in node.output:
                if name:
                    produced[name] = index
        indegree = [0] * len(nodes)
        readers: list[list[int]] = [[] for _ in nodes]
        for index, node in enumerate(nodes):
            for name in set(node.input):
                if name in produced and produced[name] != index:
                    indegree[index] += 1
                    readers[produced[name]].append(index)
        import heapq

        ready = [i for i, d in enumerate(indegree) if d == 0]
        heapq.heapify(ready)
        order = []
        while ready:
            i = heapq.heappop(ready)
            order.append(nodes[i])
            for j in readers[i]:
                indegree[j] -= 1
                if indegree[j] == 0:
                    heapq.heappush(ready, j)
        if len(order) != len(nodes):
            raise SpecError("the ONNX graph has a cycle", self.location)
        return order

    def _outputs(self) -> tuple[str, ...]:
        ends = []
        for value in self.graph.output:
            tensor = self.data.get(value.name)
            if tensor is not None and tensor.node != INPUT:
                ends.append(tensor.node)
        if not ends:
            raise SpecError(
                "no graph output depends on the image input", self.location, "is the image the model's first input?"
            )
        return self.builder.default_outputs(ends)

    # -- helpers ---------------------------------------------------------------------------------------

    def _display(self, node: Any) -> str:
        return node.name or (node.output[0] if node.output else node.op_type)

    def _where(self, node: Any) -> str:
        """``'conv1', graph.node[3]``: the node's name and its index in the file's node list."""
        index = self.positions.get(_node_key(node))
        return f"'{self._display(node)}'" + (f", graph.node[{index}]" if index is not None else "")

    def _error(self, node: Any, message: str, hint: str | None = None) -> SpecError:
        return SpecError(f"{node.op_type} node {self._where(node)}: {message}", self.location, hint)

    def _note(self, node: Any, extra: str = "") -> str:
        """What a node made from ONNX node ``node`` says of its origin."""
        note = f"{node.op_type} node '{self._display(node)}' (onnx)"
        return f"{note}: {extra}" if extra else note

    def _attrs(self, node: Any) -> dict[str, Any]:
        helper = self.onnx.helper
        return {attribute.name: helper.get_attribute_value(attribute) for attribute in node.attribute}

    def _data_inputs(self, node: Any) -> list[_Tensor]:
        return [self.data[name] for name in node.input if name in self.data]

    def _only_data(self, node: Any, position: int = 0) -> _Tensor:
        if len(node.input) <= position or node.input[position] not in self.data:
            raise self._error(
                node, f"input {position} is not the image tensor", "rfdesign follows the image's path only"
            )
        for index, name in enumerate(node.input):
            if index != position and name in self.data:
                raise self._error(node, "uses the image in a weight or parameter input")
        return self.data[node.input[position]]

    def _map(self, node: Any, tensor: _Tensor) -> None:
        if tensor.layout != "map":
            raise self._error(
                node,
                f"expects a feature map (N, C, spatial), got a tensor of shape {list(tensor.shape)}",
                "rfdesign follows feature maps; flatten only before the dense head",
            )

    def _set(self, node: Any, tensor: _Tensor, position: int = 0) -> None:
        if len(node.output) > position and node.output[position]:
            self.data[node.output[position]] = tensor

    # -- constants -------------------------------------------------------------------------------------

    def _value(self, node: Any, name: str, what: str) -> Any:
        try:
            return self._const(name)
        except _Unsupported as exc:
            raise self._error(node, f"cannot evaluate its {what} `{name}` ({exc})") from None
        except SpecError:
            raise
        except Exception as exc:  # numpy errors on malformed constants
            raise self._error(node, f"cannot evaluate its {what} `{name}` ({type(exc).__name__}: {exc})") from None

    def _const(self, name: str) -> Any:
        np = self.np
        if name in self.values:
            return self.values[name]
        if name in self.data:
            raise _Unsupported("it depends on the image")
        if name in self.initializers:
            tensor = self.initializers[name]
            if tensor.data_location == self.onnx.TensorProto.EXTERNAL:
                raise _Unsupported("its data is stored outside the model file")
            value = self.onnx.numpy_helper.to_array(tensor)
        elif name in self.producers:
            value = self._evaluate(self.producers[name], name)
        else:
            raise _Unsupported("a graph input without a value")
        value = np.asarray(value)
        self.values[name] = value
        return value

    def _const_shape(self, node: Any, name: str, what: str) -> tuple[int, ...]:
        if name in self.initializers:
            return tuple(int(d) for d in self.initializers[name].dims)
        producer = self.producers.get(name)
        if producer is not None and producer.op_type == "ConstantOfShape":
            return tuple(int(d) for d in self._value(producer, producer.input[0], "shape"))
        if producer is not None and producer.op_type in ("Identity", "Cast") and producer.input:
            return self._const_shape(node, producer.input[0], what)
        for value in self.graph.input:
            if value.name == name:
                shape = self._declared_shape(value)
                if shape is not None and all(isinstance(d, int) for d in shape):
                    return tuple(shape)
        inferred = self._inferred().get(name)
        if inferred is not None:
            return inferred
        return tuple(self._value(node, name, what).shape)

    def _inferred(self) -> dict[str, tuple[int, ...]]:
        if self.inferred is None:
            self.inferred = {}
            try:
                model = self.onnx.shape_inference.infer_shapes(self.model)
            except Exception:  # inference is only a fallback for constant shapes
                return self.inferred
            for value in list(model.graph.value_info) + list(model.graph.output):
                shape = self._declared_shape(value)
                if shape is not None and all(isinstance(d, int) for d in shape):
                    self.inferred[value.name] = tuple(shape)
        return self.inferred

    def _evaluate(self, node: Any, wanted: str) -> Any:
        """Evaluate a constant node (shape arithmetic, Constant, ConstantOfShape ...) with numpy."""
        np = self.np
        op = node.op_type
        attrs = self._attrs(node)
        inputs = list(node.input)

        def arg(i: int) -> Any:
            return self._const(inputs[i]) if i < len(inputs) and inputs[i] else None

        if op == "Constant":
            for key in ("value", "sparse_value"):
                if key in attrs:
                    if key == "sparse_value":
                        raise _Unsupported("sparse constant")
                    return self.onnx.numpy_helper.to_array(attrs[key])
            for key, dtype in (("value_float", np.float32), ("value_floats", np.float32), ("value_int", np.int64),
                               ("value_ints", np.int64)):  # fmt: skip
                if key in attrs:
                    return np.array(attrs[key], dtype=dtype)
            raise _Unsupported("a Constant without a numeric value")
        if op in ("Shape", "Size"):
            source = inputs[0]
            if source in self.data:
                shape = [1 if d is None else d for d in self.data[source].shape]
            else:
                shape = list(self._const(source).shape)
            if op == "Size":
                return np.array(prod(shape), dtype=np.int64)
            start, end = attrs.get("start", 0), attrs.get("end", len(shape))
            return np.array(shape[start:end] if "end" in attrs else shape[start:], dtype=np.int64)
        if op == "ConstantOfShape":
            shape = [int(d) for d in arg(0)]
            if prod(shape) > 1 << 16:
                raise _Unsupported("a large constant tensor, not shape arithmetic")
            fill = self.onnx.numpy_helper.to_array(attrs["value"]) if "value" in attrs else np.zeros(1, np.float32)
            return np.full(shape, fill.reshape(-1)[0], dtype=fill.dtype)
        if op in ("Identity", "Cast", "CastLike"):
            value = arg(0)
            if op == "Cast":
                dtype = self.onnx.helper.tensor_dtype_to_np_dtype(attrs["to"])
                return value.astype(dtype)
            if op == "CastLike":
                return value.astype(arg(1).dtype)
            return value
        if op == "Gather":
            return np.take(arg(0), arg(1), axis=attrs.get("axis", 0))
        if op == "Unsqueeze":
            axes = attrs.get("axes") if "axes" in attrs else [int(a) for a in arg(1)]
            value = arg(0)
            rank = value.ndim + len(axes)
            for axis in sorted(a % rank for a in axes):
                value = np.expand_dims(value, axis)
            return value
        if op == "Squeeze":
            axes = attrs.get("axes") if "axes" in attrs else (None if arg(1) is None else [int(a) for a in arg(1)])
            value = arg(0)
            return np.squeeze(value) if axes is None else np.squeeze(value, axis=tuple(a % value.ndim for a in axes))
        if op == "Concat":
            return np.concatenate([np.atleast_1d(self._const(i)) for i in inputs if i], axis=attrs.get("axis", 0))
        if op == "Reshape":
            value = arg(0)
            target = [int(d) for d in (attrs["shape"] if "shape" in attrs else arg(1))]
            target = [value.shape[i] if d == 0 and not attrs.get("allowzero", 0) else d for i, d in enumerate(target)]
            return value.reshape(target)
        if op == "Slice":
            value = arg(0)
            if self.opset < 10 and "starts" in attrs:
                starts, ends = attrs["starts"], attrs["ends"]
                axes = attrs.get("axes", list(range(len(starts))))
                steps = [1] * len(starts)
            else:
                starts, ends = [int(x) for x in arg(1)], [int(x) for x in arg(2)]
                axes = [int(x) for x in arg(3)] if arg(3) is not None else list(range(len(starts)))
                steps = [int(x) for x in arg(4)] if arg(4) is not None else [1] * len(starts)
            index = [slice(None)] * value.ndim
            for s, e, a, st in zip(starts, ends, axes, steps):
                index[a % value.ndim] = slice(s, e, st)
            return value[tuple(index)]
        if op == "Transpose":
            return np.transpose(arg(0), attrs.get("perm"))
        binary = {
            "Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Max": np.maximum, "Min": np.minimum,
            "Equal": np.equal, "Less": np.less, "Greater": np.greater, "And": np.logical_and, "Or": np.logical_or,
            "Pow": np.power,
        }  # fmt: skip
        if op in binary:
            return binary[op](arg(0), arg(1))
        if op == "Div":
            a, b = arg(0), arg(1)
            if np.issubdtype(np.result_type(a, b), np.integer):
                return np.trunc(np.true_divide(a, b)).astype(np.result_type(a, b))
            return np.true_divide(a, b)
        unary = {"Floor": np.floor, "Ceil": np.ceil, "Sqrt": np.sqrt, "Neg": np.negative, "Abs": np.abs,
                 "Not": np.logical_not}  # fmt: skip
        if op in unary:
            return unary[op](arg(0))
        if op == "Where":
            return np.where(arg(0), arg(1), arg(2))
        if op == "Expand":
            return arg(0) * np.ones([int(d) for d in arg(1)], dtype=arg(0).dtype)
        if op == "Range":
            return np.arange(arg(0), arg(1), arg(2))
        if op in ("ReduceProd", "ReduceSum", "ReduceMax", "ReduceMin"):
            function = {"ReduceProd": np.prod, "ReduceSum": np.sum, "ReduceMax": np.max, "ReduceMin": np.min}[op]
            axes = attrs.get("axes") if "axes" in attrs else (None if arg(1) is None else [int(a) for a in arg(1)])
            return function(arg(0), axis=None if axes is None else tuple(axes), keepdims=bool(attrs.get("keepdims", 1)))
        raise _Unsupported(f"{op} is not evaluated as a constant")

    # -- conversion ------------------------------------------------------------------------------------

    def _convert(self, node: Any) -> None:
        op = node.op_type
        if node.domain not in ("", "ai.onnx"):
            raise self._error(
                node, f"unsupported ONNX op '{node.domain}::{op}'", "only the default ONNX domain is read"
            )
        base = self.builder.unique(node.name or (node.output[0] if node.output else op))
        try:
            self._dispatch(node, base)
        except SpecError:
            raise
        except (ArithmeticError, AttributeError, IndexError, KeyError, TypeError, ValueError) as exc:
            # a malformed node (missing inputs, attributes of the wrong arity or type ...)
            raise self._error(
                node,
                f"malformed ({type(exc).__name__}: {exc})".replace("\n", " "),
                "check the model with onnx.checker.check_model",
            ) from None

    def _op_Expand(self, node: Any, base: str) -> None:  # noqa: N802 - named after the ONNX op
        """A broadcast of a pooled (1x1) tensor, as ``x * s.expand_as(x)`` writes a squeeze-and-excitation gate.

        The merge that reads it broadcasts it anyway (a `mul` gate), so the
        expanded tensor is the pooled one.
        """
        tensor = self._only_data(node)
        if not tensor.point:
            raise self._error(
                node,
                "expands a feature map that has spatial extent",
                "only broadcasting a pooled (1x1) tensor, as in a squeeze-and-excitation gate, is read",
            )
        self._set(node, tensor)

    def _dispatch(self, node: Any, base: str) -> None:
        op = node.op_type
        handler = getattr(self, f"_op_{op}", None)
        if handler is not None:
            handler(node, base)
        elif op in _PASS_THROUGH:
            self._pass(node, base, _PASS_THROUGH[op])
        elif op in _SOFTMAX:
            self._softmax(node, base)
        elif op in _NORMS:
            tensor = self._only_data(node)
            self.builder.add(base, ops.NORM, (tensor.node,), tensor.size, tensor.channels, source_op=_NORMS[op],
                             note=self._note(node))  # fmt: skip
            self._set(node, tensor_as(tensor, base))
        elif op in _ADDS or op in _MULS or op in ("Pow", "PRelu"):
            self._elementwise(node, base)
        elif op in _REDUCE:
            self._reduce(node, base)
        else:
            raise SpecError(
                f"unsupported ONNX op '{op}' (node {self._where(node)})",
                self.location,
                "rfdesign imports convolutions, pooling, resampling, elementwise merges, concatenation and dense heads",
            )

    def _pass(self, node: Any, base: str, source_op: str) -> None:
        tensor = self._only_data(node)
        self.builder.add(base, ops.IDENTITY, (tensor.node,), tensor.size, tensor.channels, source_op=source_op,
                         note=self._note(node))  # fmt: skip
        self._set(node, tensor_as(tensor, base))

    def _softmax(self, node: Any, base: str) -> None:
        tensor = self._only_data(node)
        rank = tensor.rank
        axis = self._attrs(node).get("axis", 1 if self.opset < 13 else -1)
        axis = axis % rank
        axes = range(axis, rank) if self.opset < 13 else [axis]  # before opset 13 the input is coerced to 2-D
        if not tensor.point and any(a in tensor.spatial_axes for a in axes):
            raise self._error(
                node,
                f"normalises over spatial axis {max(axes)} of a {list(tensor.shape)} tensor, which mixes positions",
                "only a softmax over channels (or after the spatial axes are gone) passes through",
            )
        self.builder.add(base, ops.IDENTITY, (tensor.node,), tensor.size, tensor.channels,
                         source_op=_SOFTMAX[node.op_type], note=self._note(node))  # fmt: skip
        self._set(node, tensor_as(tensor, base))

    # windows ---------------------------------------------------------------------------------------------

    def _window_attrs(self, node: Any, tensor: _Tensor, kernel: tuple[int, ...], transposed: bool = False) -> Any:
        attrs = self._attrs(node)
        dims = len(tensor.size)
        strides = tuple(attrs.get("strides", [1] * dims))
        dilations = tuple(attrs.get("dilations", [1] * dims))
        pads = list(attrs.get("pads", [0] * (2 * dims)))
        auto_pad = attrs.get("auto_pad", b"NOTSET")
        auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else auto_pad
        for label, values in (("kernel_shape", kernel), ("strides", strides), ("dilations", dilations)):
            if len(values) != dims:
                raise self._error(node, f"`{label}` {list(values)} does not fit {dims} spatial axes")
            if any(v < 1 for v in values):
                raise self._error(node, f"`{label}` {list(values)}: every value must be >= 1")
        if len(pads) != 2 * dims or any(p < 0 for p in pads):
            raise self._error(node, f"`pads` {pads} must be {2 * dims} amounts >= 0 (all begins, then all ends)")
        pairs = tuple((pads[i], pads[i + dims]) for i in range(dims))
        return attrs, strides, dilations, pairs, auto_pad

    def _same_lower(self, size: tuple[int, ...], kernel: Any, strides: Any, dilations: Any) -> tuple[Any, ...]:
        """ONNX's SAME_LOWER: TensorFlow's rule (ONNX's SAME_UPPER, rfdesign's ``same``) with the odd pixel before."""
        pairs = []
        for n, k, s, d in zip(size, kernel, strides, dilations):
            before, after = same_padding(n, s, effective_kernel(k, d))[1]
            pairs.append((after, before))
        return tuple(pairs)

    def _window(
        self, node: Any, base: str, op: str, kernel: tuple[int, ...], tensor: _Tensor, channels: int, extra: str = "",
        **values: Any,
    ) -> Any:  # fmt: skip
        attrs, strides, dilations, pairs, auto_pad = self._window_attrs(node, tensor, kernel)
        ceil_mode = bool(attrs.get("ceil_mode", 0))
        padding: Any
        if auto_pad in ("NOTSET", ""):
            padding = pairs
        elif auto_pad == "VALID":
            padding = tuple((0, 0) for _ in kernel)
        elif auto_pad == "SAME_UPPER":
            padding = "same"
        elif auto_pad == "SAME_LOWER":
            padding = self._same_lower(tensor.size, kernel, strides, dilations)
        else:
            raise self._error(node, f"unknown auto_pad '{auto_pad}'")
        out = []
        for axis, (n, k, s, d) in enumerate(zip(tensor.size, kernel, strides, dilations)):
            count, (before, after) = window_axis(padding, axis, n, k, s, d, ceil_mode)
            if count < 1:
                raise self._error(
                    node,
                    f"the output would be empty on axis {axis + 1}: input {n} + padding {before}+{after}"
                    f" is smaller than the kernel {effective_kernel(k, d)}",
                    "use a larger input size",
                )
            out.append(count)
        name = self.builder.add(
            base,
            op,
            (tensor.node,),
            tuple(out),
            channels,
            note=self._note(node, extra),
            kernel=tuple(kernel),
            stride=tuple(strides),
            dilation=tuple(dilations),
            padding=padding,
            ceil_mode=ceil_mode,
            **values,
        )
        return name, tuple(out)

    def _op_Conv(self, node: Any, base: str) -> None:
        tensor = self._only_data(node)
        self._map(node, tensor)
        weight = self._const_shape(node, node.input[1], "weight")
        attrs = self._attrs(node)
        kernel = tuple(attrs.get("kernel_shape", weight[2:]))
        group = int(attrs.get("group", 1))
        fits = len(weight) == 2 + len(tensor.size) and min(weight) >= 1 and weight[1] * group == tensor.channels
        if group < 1 or not fits:
            raise self._error(
                node,
                f"weight of shape {list(weight)} with group={group} does not fit {tensor.channels} input channels",
            )
        bias = len(node.input) > 2 and bool(node.input[2])
        channels = weight[0]
        name, out = self._window(node, base, ops.CONV, kernel, tensor, channels, groups=group, out=channels, bias=bias)
        self._set(node, _Tensor(name, tensor.batch, weight[0], out))

    def _op_ConvTranspose(self, node: Any, base: str) -> None:
        tensor = self._only_data(node)
        self._map(node, tensor)
        weight = self._const_shape(node, node.input[1], "weight")
        attrs, strides, dilations, pairs, auto_pad = self._window_attrs(
            node, tensor, tuple(self._attrs(node).get("kernel_shape", weight[2:]))
        )
        kernel = tuple(attrs.get("kernel_shape", weight[2:]))
        group = int(attrs.get("group", 1))
        fits = len(weight) == 2 + len(tensor.size) and min(weight) >= 1 and weight[0] == tensor.channels
        if group < 1 or tensor.channels % group or not fits:
            raise self._error(
                node, f"weight of shape {list(weight)} does not fit {tensor.channels} input channels"
            )
        dims = len(tensor.size)
        output_padding = list(attrs.get("output_padding", [0] * dims))
        output_shape = list(attrs.get("output_shape", []))
        if len(output_shape) == dims + 2:
            output_shape = output_shape[2:]
        if auto_pad in ("SAME_UPPER", "SAME_LOWER") and not output_shape:
            output_shape = [n * s for n, s in zip(tensor.size, strides)]
        padding = list(pairs)
        if output_shape:
            padding = []
            for axis, (n, k, s, d, want) in enumerate(zip(tensor.size, kernel, strides, dilations, output_shape)):
                total = s * (n - 1) + output_padding[axis] + d * (k - 1) + 1 - want
                if total < 0:  # a larger output: the extra pixels are output padding
                    output_padding[axis] -= total
                    total = 0
                half = total // 2
                padding.append((half, total - half) if auto_pad == "SAME_UPPER" else (total - half, half))
        elif auto_pad == "VALID":
            padding = [(0, 0)] * dims
        out = []
        for axis, (n, k, s, d) in enumerate(zip(tensor.size, kernel, strides, dilations)):
            before, after = padding[axis]
            if output_padding[axis] >= max(s, d):
                raise self._error(
                    node,
                    f"output padding {output_padding[axis]} on axis {axis + 1} is not below the stride or dilation",
                    "rfdesign's conv_transpose follows PyTorch, which requires output_padding < max(stride, dilation)",
                )
            size = transposed_size(n, s, effective_kernel(k, d), (before, after), output_padding[axis])
            if size < 1:
                raise self._error(node, f"the output would be empty on axis {axis + 1}")
            out.append(size)
        channels = weight[1] * group
        bias = len(node.input) > 2 and bool(node.input[2])
        self.builder.add(
            base,
            ops.CONV_TRANSPOSE,
            (tensor.node,),
            tuple(out),
            channels,
            source_op="deconv",
            note=self._note(node),
            kernel=kernel,
            stride=tuple(strides),
            dilation=tuple(dilations),
            padding=tuple(padding),
            output_padding=tuple(output_padding),
            groups=group,
            out=channels,
            bias=bias,
        )
        self._set(node, _Tensor(base, tensor.batch, channels, tuple(out)))

    def _pool(self, node: Any, base: str, op: str, extra: str = "") -> None:
        tensor = self._only_data(node)
        self._map(node, tensor)
        attrs = self._attrs(node)
        if "kernel_shape" not in attrs:
            raise self._error(node, "has no kernel_shape")
        kernel = tuple(attrs["kernel_shape"])
        name, out = self._window(node, base, op, kernel, tensor, tensor.channels, extra)
        self._set(node, _Tensor(name, tensor.batch, tensor.channels, out))

    def _op_MaxPool(self, node: Any, base: str) -> None:
        if len(node.output) > 1 and node.output[1] and self.consumers.get(node.output[1]):
            raise self._error(node, "its indices output is used (max unpooling)", "unsupported")
        self._pool(node, base, ops.MAXPOOL)

    def _op_AveragePool(self, node: Any, base: str) -> None:
        self._pool(node, base, ops.AVGPOOL)

    def _op_LpPool(self, node: Any, base: str) -> None:
        self._pool(node, base, ops.AVGPOOL, "Lp pooling (the geometry of an average pool)")

    def _global(self, node: Any, base: str, mode: str) -> None:
        tensor = self._only_data(node)
        self._map(node, tensor)
        point = (1,) * len(tensor.size)
        self.builder.add(base, ops.GLOBAL_POOL, (tensor.node,), point, tensor.channels, note=self._note(node),
                         mode=mode)  # fmt: skip
        self._set(node, _Tensor(base, tensor.batch, tensor.channels, point))

    def _op_GlobalAveragePool(self, node: Any, base: str) -> None:
        self._global(node, base, "avg")

    def _op_GlobalMaxPool(self, node: Any, base: str) -> None:
        self._global(node, base, "max")

    def _op_GlobalLpPool(self, node: Any, base: str) -> None:
        self._global(node, base, "avg")

    def _axes(self, node: Any) -> list[int] | None:
        """The ``axes`` of a Reduce/Squeeze node: an attribute before opset 13/18, an input since (None: absent)."""
        attrs = self._attrs(node)
        if "axes" in attrs:
            return list(attrs["axes"])
        if len(node.input) > 1 and node.input[1]:
            return [int(a) for a in self._value(node, node.input[1], "axes")]
        return None

    def _reduce(self, node: Any, base: str) -> None:
        tensor = self._only_data(node)
        attrs = self._attrs(node)
        axes = self._axes(node) or []
        rank = tensor.rank
        axes = sorted({a % rank for a in axes})
        spatial = tensor.spatial_axes
        if tensor.layout not in ("map", "last") or axes != spatial or not spatial:
            raise self._error(
                node,
                f"reduces axes {axes or 'all'} of a {list(tensor.shape)} tensor",
                "only a reduction over exactly the spatial axes (a global pool) is read",
            )
        point = (1,) * len(tensor.size)
        self.builder.add(base, ops.GLOBAL_POOL, (tensor.node,), point, tensor.channels, note=self._note(node),
                         mode=_REDUCE[node.op_type])  # fmt: skip
        keep = bool(attrs.get("keepdims", 1))
        self._set(node, _Tensor(base, tensor.batch, tensor.channels, point, tensor.layout if keep else "flat"))

    # padding, slicing, resampling -------------------------------------------------------------------------

    def _op_Pad(self, node: Any, base: str) -> None:
        tensor = self._only_data(node)
        self._map(node, tensor)
        attrs = self._attrs(node)
        mode = attrs.get("mode", b"constant")
        mode = mode.decode() if isinstance(mode, bytes) else mode
        rank = tensor.rank
        if "pads" in attrs or "paddings" in attrs:
            pads = [int(p) for p in attrs.get("pads", attrs.get("paddings"))]
            axes = list(range(rank))
        else:
            pads = [int(p) for p in self._value(node, node.input[1], "pads")]
            if len(node.input) > 3 and node.input[3]:
                axes = [int(a) % rank for a in self._value(node, node.input[3], "axes")]
            else:
                axes = list(range(rank))
        if len(pads) != 2 * len(axes):
            raise self._error(node, f"has {len(pads)} pad amounts for {len(axes)} axes")
        amounts = {axis: (pads[i], pads[i + len(axes)]) for i, axis in enumerate(axes)}
        for axis in (0, 1):
            if amounts.get(axis, (0, 0)) != (0, 0):
                raise self._error(
                    node,
                    f"pads the {'batch' if axis == 0 else 'channel'} axis ({amounts[axis]})",
                    "only spatial padding is read",
                )
        pairs = tuple(amounts.get(axis, (0, 0)) for axis in range(2, rank))
        out = tuple(n + b + a for n, (b, a) in zip(tensor.size, pairs))
        if any(n < 1 for n in out):
            raise self._error(node, f"crops {list(tensor.size)} by {list(pairs)} to nothing")
        extra = "" if mode == "constant" else f"mode '{mode}' (its geometry is that of zero padding)"
        grow = tuple((max(b, 0), max(a, 0)) for b, a in pairs)
        shrink = tuple((max(-b, 0), max(-a, 0)) for b, a in pairs)
        current = tensor.node
        steps = [(ops.PAD, grow)] if any(b or a for b, a in grow) else []
        if any(b or a for b, a in shrink):
            steps.append((ops.CROP, shrink))
        if not steps:
            steps = [(ops.PAD, grow)]
        size = tensor.size
        for k, (op, amounts_) in enumerate(steps):
            name = base if k == len(steps) - 1 else f"{base}/pad"
            size = tuple(n + b + a for n, (b, a) in zip(size, amounts_)) if op == ops.PAD else tuple(
                n - b - a for n, (b, a) in zip(size, amounts_)
            )
            if op == ops.PAD:
                self.builder.add(name, op, (current,), size, tensor.channels, note=self._note(node, extra),
                                 padding=amounts_)  # fmt: skip
            else:
                self.builder.add(name, op, (current,), size, tensor.channels,
                                 note=self._note(node, "negative padding"), crop=amounts_)  # fmt: skip
            current = name
        self._set(node, _Tensor(base, tensor.batch, tensor.channels, out))

    def _op_Slice(self, node: Any, base: str) -> None:
        tensor = self._only_data(node)
        attrs = self._attrs(node)
        shape = [1 if d is None else d for d in tensor.shape]
        rank = len(shape)
        if "starts" in attrs:
            starts, ends = list(attrs["starts"]), list(attrs["ends"])
            axes = list(attrs.get("axes", range(len(starts))))
            steps = [1] * len(starts)
        else:
            starts = [int(x) for x in self._value(node, node.input[1], "starts")]
            ends = [int(x) for x in self._value(node, node.input[2], "ends")]
            axes = (
                [int(x) for x in self._value(node, node.input[3], "axes")]
                if len(node.input) > 3 and node.input[3]
                else list(range(len(starts)))
            )
            steps = (
                [int(x) for x in self._value(node, node.input[4], "steps")]
                if len(node.input) > 4 and node.input[4]
                else [1] * len(starts)
            )
        ranges = {}
        for start, end, axis, step in zip(starts, ends, axes, steps):
            axis %= rank
            n = shape[axis]
            if step != 1:
                raise self._error(node, f"slices axis {axis} with step {step}", "only step 1 is read")
            start = min(max(start + n if start < 0 else start, 0), n)
            end = min(max(end + n if end < 0 else end, 0), n)
            if end <= start:
                raise self._error(node, f"keeps nothing of axis {axis}")
            ranges[axis] = (start, end)
        if tensor.layout == "group" or (tensor.layout == "flat" and not tensor.point):
            if any(axis != 0 and ranges[axis] != (0, shape[axis]) for axis in ranges):
                raise self._error(node, f"slices a regrouped or flattened tensor of shape {list(tensor.shape)}")
        axis_c = tensor.channel_axis
        channel = ranges.get(axis_c, (0, shape[axis_c]))
        crop = tuple(
            (ranges.get(a, (0, n))[0], n - ranges.get(a, (0, n))[1]) for a, n in zip(tensor.spatial_axes, tensor.size)
        )
        steps_: list[str] = []
        if channel != (0, shape[axis_c]):
            steps_.append("select")
        if any(b or a for b, a in crop):
            steps_.append("crop")
        if not steps_:
            steps_ = ["select"]
        current, size = tensor.node, tensor.size
        for k, kind in enumerate(steps_):
            name = base if k == len(steps_) - 1 else f"{base}/{kind}"
            if kind == "select":
                self.builder.add(name, ops.SELECT, (current,), size, channel[1] - channel[0], note=self._note(node),
                                 start=channel[0], stop=channel[1])  # fmt: skip
            else:
                size = tuple(n - b - a for n, (b, a) in zip(size, crop))
                self.builder.add(name, ops.CROP, (current,), size, channel[1] - channel[0], note=self._note(node),
                                 crop=crop)  # fmt: skip
            current = name
        channels = channel[1] - channel[0]
        self._set(node, _Tensor(base, tensor.batch, channels, size, tensor.layout))

    def _op_Split(self, node: Any, base: str) -> None:
        tensor = self._only_data(node)
        attrs = self._attrs(node)
        rank = tensor.rank
        axis = attrs.get("axis", 0) % rank
        if axis != tensor.channel_axis or not (tensor.layout in ("map", "last") or tensor.point):
            raise self._error(
                node, f"splits axis {axis} of a {list(tensor.shape)} tensor", "only channel splits are read"
            )
        count = len(node.output)
        if "split" in attrs:
            parts = list(attrs["split"])
        elif len(node.input) > 1 and node.input[1]:
            parts = [int(x) for x in self._value(node, node.input[1], "split")]
        else:
            chunk = -(-tensor.channels // count)
            parts = [min(chunk, tensor.channels - i * chunk) for i in range(count)]
        if len(parts) != count or sum(parts) != tensor.channels or any(p < 1 for p in parts):
            raise self._error(node, f"split {parts} does not divide {tensor.channels} channels into {count} outputs")
        start = 0
        for index, (output, part) in enumerate(zip(node.output, parts)):
            name = self.builder.unique(f"{base}/{index}")
            self.builder.add(name, ops.SELECT, (tensor.node,), tensor.size, part,
                             note=self._note(node, f"output {index}"), start=start, stop=start + part)  # fmt: skip
            if output:
                self.data[output] = _Tensor(name, tensor.batch, part, tensor.size, tensor.layout)
            start += part

    def _resize_inputs(self, node: Any, tensor: _Tensor) -> tuple[list[Fraction] | None, list[int] | None]:
        attrs = self._attrs(node)
        rank = tensor.rank
        scales = sizes = None
        if node.op_type == "Upsample" and "scales" in attrs:
            scales = [Fraction(float(s)) for s in attrs["scales"]]
        elif node.op_type == "Upsample" or self.opset < 11:
            scales = [Fraction(float(s)) for s in self._value(node, node.input[1], "scales")]
        else:
            if len(node.input) > 3 and node.input[3]:
                value = self._value(node, node.input[3], "sizes")
                if value.size:
                    sizes = [int(s) for s in value]
            if sizes is None and len(node.input) > 2 and node.input[2]:
                value = self._value(node, node.input[2], "scales")
                if value.size:
                    scales = [Fraction(float(s)) for s in value]
        axes = attrs.get("axes")
        if axes is not None:
            axes = [a % rank for a in axes]
            full_scales = [Fraction(1)] * rank
            full_sizes = [1 if d is None else d for d in tensor.shape]
            for k, axis in enumerate(axes):
                if scales is not None:
                    full_scales[axis] = scales[k]
                if sizes is not None:
                    full_sizes[axis] = sizes[k]
            scales = full_scales if scales is not None else None
            sizes = full_sizes if sizes is not None else None
        values = scales if scales is not None else sizes
        if values is None or len(values) != rank:
            raise self._error(node, f"needs {rank} scales or sizes")
        return scales, sizes

    def _op_Upsample(self, node: Any, base: str) -> None:
        self._op_Resize(node, base)

    def _op_Resize(self, node: Any, base: str) -> None:
        tensor = self._only_data(node)
        self._map(node, tensor)
        attrs = self._attrs(node)

        def text(key: str, default: str) -> str:
            value = attrs.get(key, default)
            return value.decode() if isinstance(value, bytes) else value

        mode = text("mode", "nearest")
        legacy = node.op_type == "Upsample" or self.opset < 11
        transform = "asymmetric" if legacy else text("coordinate_transformation_mode", "half_pixel")
        nearest_mode = "floor" if legacy else text("nearest_mode", "round_prefer_floor")
        if mode == "bilinear" or mode == "trilinear":
            mode = "linear"
        if mode not in ("nearest", "linear"):
            raise self._error(node, f"mode '{mode}' is not supported", "rfdesign's upsample is nearest or linear")
        if attrs.get("antialias", 0):
            raise self._error(node, "antialias=1 is not supported", "rfdesign's upsample does not low-pass filter")
        if text("keep_aspect_ratio_policy", "stretch") != "stretch":
            raise self._error(node, "keep_aspect_ratio_policy other than 'stretch' is not supported")
        if transform == "tf_crop_and_resize":
            raise self._error(node, "coordinate_transformation_mode 'tf_crop_and_resize' is not supported")
        scales, sizes = self._resize_inputs(node, tensor)
        shape = [1 if d is None else d for d in tensor.shape]
        lead = 2
        for axis in range(lead):
            value = scales[axis] if scales is not None else Fraction(sizes[axis], shape[axis])  # type: ignore[index]
            if value != 1:
                raise self._error(node, f"resizes the {'batch' if axis == 0 else 'channel'} axis")
        ins = tensor.size
        if sizes is not None:
            outs = tuple(sizes[lead:])
            ratios = [Fraction(o, n) for o, n in zip(outs, ins)]
        else:
            ratios = list(scales[lead:])  # type: ignore[index]
            outs = tuple(floor(n * r) for n, r in zip(ins, ratios))
        if any(o < 1 for o in outs):
            raise self._error(node, f"resizes {list(ins)} to {list(outs)}")
        candidates = self._resize_candidates(mode, transform, ins, outs)
        wanted = [
            [self._onnx_taps(v, n, o, r, mode, transform, nearest_mode) for v in range(o)]
            for n, o, r in zip(ins, outs, ratios)
        ]
        for candidate in candidates:
            if all(
                [_clamp(_engine_taps(v, n, o, candidate), n) for v in range(o)] == wanted[axis]
                for axis, (n, o) in enumerate(zip(ins, outs))
            ):
                factor = tuple(o // n for n, o in zip(ins, outs)) if candidate[0] == "factor" else None
                self.builder.add(
                    base,
                    ops.UPSAMPLE,
                    (tensor.node,),
                    outs,
                    tensor.channels,
                    source_op="resize",
                    note=self._note(node, f"mode '{mode}', coordinate_transformation_mode '{transform}'"),
                    factor=factor,
                    size=None if factor is not None else outs,
                    mode="nearest" if mode == "nearest" else "linear",
                    align_corners=candidate[1] == "align_corners",
                )
                self._set(node, _Tensor(base, tensor.batch, tensor.channels, outs))
                return
        detail = f"mode '{mode}'" + (f" ({nearest_mode})" if mode == "nearest" else "")
        raise self._error(
            node,
            f"{detail} with coordinate_transformation_mode '{transform}' from {list(ins)} to {list(outs)} reads"
            " input pixels that rfdesign's upsample does not",
            "rfdesign's upsample reads floor(v * in / out) (nearest), or two neighbours under half_pixel or"
            " align_corners (linear)",
        )

    def _resize_candidates(
        self, mode: str, transform: str, ins: tuple[int, ...], outs: tuple[int, ...]
    ) -> list[tuple[str, str]]:
        """rfdesign upsamplings to try, the one named like the ONNX transform first.

        Several can read the same pixels inside the image (align_corners and
        half_pixel often do); the first keeps the model's own formula, which
        also decides what padded positions further down read.
        """
        integer = all(o % n == 0 for n, o in zip(ins, outs))
        kinds = (["factor"] if integer else []) + ["size"]
        if mode == "nearest":
            return [(kind, "nearest") for kind in kinds]
        transforms = ["half_pixel", "align_corners"]
        if transform == "align_corners":
            transforms.reverse()
        return [(kind, name) for name in transforms for kind in kinds]

    def _onnx_taps(
        self, v: int, n: int, out: int, scale: Fraction, mode: str, transform: str, nearest_mode: str
    ) -> tuple[int, ...]:
        half = Fraction(1, 2)
        if transform == "half_pixel":
            x = (v + half) / scale - half
        elif transform == "pytorch_half_pixel":
            x = (v + half) / scale - half if out > 1 else Fraction(0)
        elif transform == "align_corners":
            x = Fraction(v * (n - 1), out - 1) if out > 1 else Fraction(0)
        elif transform == "asymmetric":
            x = v / scale
        elif transform == "tf_half_pixel_for_nn":
            x = (v + half) / scale
        elif transform == "half_pixel_symmetric":
            adjustment = Fraction(out) / (scale * n)
            x = Fraction(n, 2) * (1 - adjustment) + (v + half) / scale - half
        else:
            raise SpecError(f"unknown coordinate_transformation_mode '{transform}'", self.location)
        if mode == "nearest":
            if nearest_mode == "round_prefer_floor":
                index = ceil(x - half)
            elif nearest_mode == "round_prefer_ceil":
                index = floor(x + half)
            elif nearest_mode == "floor":
                index = floor(x)
            elif nearest_mode == "ceil":
                index = ceil(x)
            else:
                raise SpecError(f"unknown nearest_mode '{nearest_mode}'", self.location)
            return _clamp((index,), n)
        base = floor(x)
        return _clamp((base, base + 1) if x != base else (base,), n)

    def _op_DepthToSpace(self, node: Any, base: str) -> None:
        self._blocks(node, base, ops.DEPTH_TO_SPACE)

    def _op_SpaceToDepth(self, node: Any, base: str) -> None:
        self._blocks(node, base, ops.SPACE_TO_DEPTH)

    def _blocks(self, node: Any, base: str, op: str) -> None:
        tensor = self._only_data(node)
        self._map(node, tensor)
        block = int(self._attrs(node).get("blocksize", 1))
        if block < 1:
            raise self._error(node, f"blocksize {block} must be at least 1")
        dims = len(tensor.size)
        area = block**dims
        if op == ops.SPACE_TO_DEPTH:
            if any(n % block for n in tensor.size):
                raise self._error(node, f"input {list(tensor.size)} is not a multiple of blocksize {block}")
            out, channels = tuple(n // block for n in tensor.size), tensor.channels * area
        else:
            if tensor.channels % area:
                raise self._error(node, f"{tensor.channels} channels are not divisible by {area}")
            out, channels = tuple(n * block for n in tensor.size), tensor.channels // area
        self.builder.add(base, op, (tensor.node,), out, channels, note=self._note(node), factor=(block,) * dims)
        self._set(node, _Tensor(base, tensor.batch, channels, out))

    # merges and elementwise -----------------------------------------------------------------------------

    def _elementwise(self, node: Any, base: str) -> None:
        op = node.op_type
        tensors = self._data_inputs(node)
        if len(tensors) == 1:
            tensor = tensors[0]
            for name in node.input:
                if name and name not in self.data:
                    shape = self._const_shape(node, name, "operand")
                    own = tensor.shape[-len(shape):] if shape else ()
                    if len(shape) > tensor.rank or any(c not in (1, d) for c, d in zip(shape, own)):
                        raise self._error(
                            node,
                            f"a constant of shape {list(shape)} broadcasts the {list(tensor.shape)} image tensor",
                        )
            source = node.input[0] if node.input[0] in self.data else ""
            if op == "Add" and source in self.linear_from_matmul and self.consumers.get(source) == 1:
                self.builder.amend(
                    self.linear_from_matmul[source], note=f"; bias from {op} node '{self._display(node)}'", bias=True
                )
                extra = "the bias of the MatMul before it"
            else:
                extra = "with a constant"
            self.builder.add(base, ops.IDENTITY, (tensor.node,), tensor.size, tensor.channels,
                             note=self._note(node, extra))  # fmt: skip
            self._set(node, tensor_as(tensor, base))
            return
        layouts = {t.layout for t in tensors}
        if not (layouts == {"map"} or layouts == {"last"} or all(t.point for t in tensors)):
            raise self._error(node, "merges tensors that are not all feature maps")
        merged = "add" if op in _ADDS else "mul"
        if op not in _ADDS and op not in _MULS:
            raise self._error(node, "uses the image in more than one input")
        shapes = [t.shape for t in tensors]
        same = all(t.channels == tensors[0].channels and t.size == tensors[0].size for t in tensors)
        extra = ""
        if not same:
            size = tuple(max(t.size[i] for t in tensors) for i in range(len(tensors[0].size)))
            channels = max(t.channels for t in tensors)
            for t in tensors:
                gate = all(n == 1 for n in t.size) and t.channels in (1, channels)
                plane = t.size == size and t.channels in (1, channels)
                if not (gate or plane):
                    raise self._error(node, f"broadcasts tensors of shapes {[list(s) for s in shapes]}")
            if merged == "add":
                extra = f"{op} with broadcasting, written as mul (the same geometry; rfdesign's add needs equal shapes)"
            merged = "mul"
        else:
            size, channels = tensors[0].size, tensors[0].channels
        self.builder.add(
            base,
            ops.ADD if merged == "add" else ops.MUL,
            tuple(t.node for t in tensors),
            size,
            channels,
            source_op="add" if merged == "add" else "mul",
            note=self._note(node, extra),
        )
        layout = tensors[0].layout if all(t.layout == tensors[0].layout for t in tensors) else "map"
        self._set(node, _Tensor(base, tensors[0].batch, channels, size, layout))

    def _op_Concat(self, node: Any, base: str) -> None:
        if any(name and name not in self.data for name in node.input):
            raise self._error(node, "concatenates the image path with a constant")
        tensors = self._data_inputs(node)
        rank = tensors[0].rank
        axis = self._attrs(node).get("axis", 1) % rank
        same = len({t.layout for t in tensors}) == 1 and tensors[0].layout in ("map", "last")
        ok = axis == tensors[0].channel_axis and (same or all(t.point for t in tensors))
        if not ok or any(t.size != tensors[0].size for t in tensors):
            raise self._error(
                node,
                f"concatenates {[list(t.shape) for t in tensors]} along axis {axis}",
                "only concatenation of equal-size feature maps along channels is read",
            )
        channels = sum(t.channels for t in tensors)
        self.builder.add(base, ops.CONCAT, tuple(t.node for t in tensors), tensors[0].size, channels,
                         source_op="concat", note=self._note(node))  # fmt: skip
        self._set(node, _Tensor(base, tensors[0].batch, channels, tensors[0].size, tensors[0].layout))

    # dense heads ------------------------------------------------------------------------------------------

    def _linear(self, node: Any, base: str, tensor: _Tensor, features: int, out: int, bias: bool) -> None:
        if tensor.layout == "group" or tensor.rank != 2:
            raise self._error(
                node,
                f"multiplies a {list(tensor.shape)} tensor",
                "a dense layer is read after Flatten (or a Reshape to N x features) only",
            )
        have = tensor.channels * prod(tensor.size)
        if out < 1:
            raise self._error(node, f"has {out} outputs")
        if features != have:
            raise self._error(node, f"weight expects {features} features, the input has {have}")
        point = (1,) * len(tensor.size)
        self.builder.add(base, ops.LINEAR, (tensor.node,), point, out, source_op="dense", note=self._note(node),
                         out=out, bias=bias)  # fmt: skip
        self._set(node, _Tensor(base, tensor.batch, out, point, "flat"))

    def _op_Gemm(self, node: Any, base: str) -> None:
        tensor = self._only_data(node)
        attrs = self._attrs(node)
        if attrs.get("transA", 0):
            raise self._error(node, "transA=1 (the image as the transposed operand) is not read")
        weight = self._const_shape(node, node.input[1], "weight")
        if len(weight) != 2:
            raise self._error(node, f"weight of shape {list(weight)}")
        features, out = (weight[1], weight[0]) if attrs.get("transB", 0) else (weight[0], weight[1])
        bias = len(node.input) > 2 and bool(node.input[2])
        self._linear(node, base, tensor, features, out, bias)

    def _op_MatMul(self, node: Any, base: str) -> None:
        tensor = self._only_data(node)
        weight = self._const_shape(node, node.input[1], "weight")
        if len(weight) != 2:
            raise self._error(node, f"weight of shape {list(weight)}", "only a dense layer (N x K times K x M) is read")
        self._linear(node, base, tensor, weight[0], weight[1], False)
        self.linear_from_matmul[node.output[0]] = base

    # reshaping ------------------------------------------------------------------------------------------

    def _op_Flatten(self, node: Any, base: str) -> None:
        tensor = self._only_data(node)
        axis = self._attrs(node).get("axis", 1) % max(tensor.rank, 1)
        if axis != 1:
            raise self._error(node, f"flattens from axis {axis}", "only Flatten(axis=1) is read")
        self._reshape(node, base, tensor, (tensor.batch, tensor.channels * prod(tensor.size)))

    def _op_Reshape(self, node: Any, base: str) -> None:
        tensor = self._only_data(node)
        attrs = self._attrs(node)
        target = [int(d) for d in (attrs["shape"] if "shape" in attrs else self._value(node, node.input[1], "shape"))]
        shape = [1 if d is None else d for d in tensor.shape]
        resolved = []
        for i, d in enumerate(target):
            if d == 0 and not attrs.get("allowzero", 0):
                if i >= len(shape):
                    raise self._error(node, f"shape {target} copies axis {i}, which the input lacks")
                d = shape[i]
            resolved.append(d)
        if resolved.count(-1) > 1:
            raise self._error(node, f"shape {target} has more than one -1")
        total = prod(shape)
        if -1 in resolved:
            known = prod(d for d in resolved if d != -1)
            if known == 0 or total % known:
                raise self._error(node, f"cannot reshape {shape} to {target}")
            resolved[resolved.index(-1)] = total // known
        if prod(resolved) != total:
            raise self._error(
                node,
                f"reshapes {shape} to {resolved}",
                "the model fixes this shape, so it runs at its declared input size only: import it at that size"
                " and analyze the graph at the other size",
            )
        batch = tensor.batch
        target = tuple(batch if i == 0 and d == (batch or 1) else d for i, d in enumerate(resolved))
        self._reshape(node, base, tensor, target)

    def _op_Squeeze(self, node: Any, base: str) -> None:
        self._squeeze(node, base, unsqueeze=False)

    def _op_Unsqueeze(self, node: Any, base: str) -> None:
        self._squeeze(node, base, unsqueeze=True)

    def _squeeze(self, node: Any, base: str, unsqueeze: bool) -> None:
        tensor = self._only_data(node)
        axes = self._axes(node)
        shape = list(tensor.shape)
        if unsqueeze:
            if axes is None:
                raise self._error(node, "has no axes")
            rank = len(shape) + len(axes)
            for axis in sorted(a % rank for a in axes):
                shape.insert(axis, 1)
        else:
            if axes is None:
                axes = [i for i, d in enumerate(shape) if d == 1 and i != 0]
            for axis in sorted({a % len(shape) for a in axes}, reverse=True):
                if shape[axis] not in (1, None):
                    raise self._error(node, f"squeezes axis {axis} of size {shape[axis]}")
                del shape[axis]
        self._reshape(node, base, tensor, tuple(shape))

    def _reshape(self, node: Any, base: str, tensor: _Tensor, target: tuple[Any, ...]) -> None:
        """A reshape that keeps every pixel where it is: flatten, unflatten, channel regrouping, size-1 axes."""
        batch = tensor.batch
        dims = len(tensor.size)
        if not target or (target[0] != batch and not (batch is None and target[0] in (1, None))):
            raise self._error(node, f"reshapes {list(tensor.shape)} to {list(target)}, changing the batch axis")
        rest = [1 if d is None else d for d in target[1:]]
        features = tensor.channels * prod(tensor.size)
        result: _Tensor | None = None
        flatten = False
        if len(rest) == 1 and rest[0] == features:
            result = _Tensor(base, batch, tensor.channels, tensor.size, "flat")
            flatten = not tensor.point
        elif (
            len(rest) > dims
            and tuple(rest[len(rest) - dims :]) == tensor.size
            and prod(rest[: len(rest) - dims]) == tensor.channels
        ):
            cdims = tuple(rest[: len(rest) - dims])
            if len(cdims) == 1:
                result = _Tensor(base, batch, tensor.channels, tensor.size)
            else:
                result = _Tensor(base, batch, tensor.channels, tensor.size, "group", cdims)
        elif tensor.point and prod(rest) == tensor.channels and len(rest) == dims + 1 and all(d == 1 for d in rest[1:]):
            result = _Tensor(base, batch, tensor.channels, tensor.size)
        if result is None:
            raise self._error(
                node,
                f"reshapes {list(tensor.shape)} to {list(target)}, which moves pixels",
                "only flattening before a dense head, channel regrouping and size-1 axes are read",
            )
        self.builder.add(base, ops.IDENTITY, (tensor.node,), tensor.size, tensor.channels,
                         note=self._note(node, f"to shape {list(target)}"), flattens=flatten)  # fmt: skip
        self._set(node, result)

    def _op_Transpose(self, node: Any, base: str) -> None:
        tensor = self._only_data(node)
        rank = tensor.rank
        perm = list(self._attrs(node).get("perm", list(reversed(range(rank)))))
        dims = len(tensor.size)
        result: _Tensor | None = None
        to_first = [0, rank - 1] + list(range(1, rank - 1))
        to_last = [0] + list(range(2, rank)) + [1]
        if perm == list(range(rank)):
            result = tensor_as(tensor, base)
        elif tensor.layout == "last" and perm == to_first:
            result = _Tensor(base, tensor.batch, tensor.channels, tensor.size, "map")
        elif tensor.layout == "map" and perm == to_last and rank > 2:
            result = _Tensor(base, tensor.batch, tensor.channels, tensor.size, "last")
        elif tensor.layout == "group":
            head = rank - dims
            moved = perm[1:head]
            if perm[0] == 0 and perm[head:] == list(range(head, rank)) and sorted(moved) == list(range(1, head)):
                cdims = tuple(tensor.cdims[p - 1] for p in moved)
                result = _Tensor(base, tensor.batch, tensor.channels, tensor.size, "group", cdims)
        if result is None:
            raise self._error(
                node,
                f"permutes the axes of a {list(tensor.shape)} tensor with perm {perm}",
                "only a permutation of channel groups (a channel shuffle) is read; the input must be channels-first",
            )
        self.builder.add(base, ops.IDENTITY, (tensor.node,), tensor.size, tensor.channels,
                         note=self._note(node, f"perm {perm}"))  # fmt: skip
        self._set(node, result)


def tensor_as(tensor: _Tensor, node: str) -> _Tensor:
    """The same tensor, now held by ``node``."""
    return _Tensor(node, tensor.batch, tensor.channels, tensor.size, tensor.layout, tensor.cdims)


def _clamp(taps: tuple[int, ...], n: int) -> tuple[int, ...]:
    return tuple(sorted({min(max(t, 0), n - 1) for t in taps}))


def _engine_taps(v: int, n: int, out: int, candidate: tuple[str, str]) -> tuple[int, ...]:
    """The input pixels rfdesign's upsample reads for output pixel v (see rfdesign.rf.layer)."""
    kind, transform = candidate
    ratio = Fraction(1, out // n) if kind == "factor" else Fraction(n, out)
    if transform == "nearest":
        return (floor(v * ratio),)
    if transform == "align_corners":
        x = Fraction(v * (n - 1), out - 1) if out > 1 else Fraction(0)
    else:
        x = (v + Fraction(1, 2)) * ratio - Fraction(1, 2)
    base = floor(x)
    return (base, base + 1) if x != base else (base,)
