"""Build a ``torch.nn.Module`` from a :class:`~rfdesign.spec.graph.Graph`: the gradient oracle's network.

This module stays outside the op registry (:mod:`rfdesign.ops`) on purpose:
it is what the engine is checked against, so it shares no code with
:mod:`rfdesign.rf` or :mod:`rfdesign.ops` and keeps its own window
arithmetic (PyTorch's sizes, TensorFlow's ``same``), written again here.

Two modes:

``faithful``
    real layers with PyTorch's default initialisation: ``ConvNd`` and
    ``ConvTransposeNd`` weights, max/avg pooling (``ceil_mode``, dilation),
    ``F.interpolate`` for ``upsample``, ``F.pad`` for ``pad``, slicing for
    ``crop``, pixel (un)shuffle for ``depth_to_space``/``space_to_depth``
    (any number of axes), ``BatchNormNd`` for every ``norm``, the real
    activation when the spec's op names one (``relu``, ``gelu`` ...; identity
    otherwise), ``flatten + Linear`` for ``linear``. TensorFlow's ``same``
    padding is computed at run time from the actual input size (the odd pixel
    after), max pooling pads with ``-inf`` and ``same`` average pooling
    excludes the padding from the average, as TensorFlow does.
``probe``
    for measuring receptive fields by gradients (:mod:`rfdesign.verify.measure`):
    every weight positive and constant, no biases, max pooling replaced by an
    average of the same geometry, norms and activations by identity, and the
    spatial-size-1 gate input of a ``mul`` dropped (the mul passes its spatial
    input through; a ``mul`` of spatial inputs is summed, which has the same
    support without overflowing). Resampling uses exact rational source positions (PyTorch's
    ``interpolate`` formulas evaluated with :class:`fractions.Fraction`), so a
    bilinear tap whose weight is exactly zero contributes exactly zero.
    Default dtype float64 (deep nets underflow in float32).

    ``channels="one"`` (the default for probes) collapses every feature map to
    one channel: ``concat`` becomes a sum, ``space_to_depth`` a window of the
    factor and ``depth_to_space`` a nearest upsampling, and every window op
    (conv, pooling, transposed conv) is computed axis by axis as a sum of
    strided slices, tap by tap (the same taps as the convolution; far faster
    than a float64 one-channel ``conv``). This is exactly the
    channel-agnostic model of the receptive field (a layer after
    ``space_to_depth`` mixes the moved pixels) and keeps memory tiny;
    ``channels="full"`` keeps the real channel counts, groups and pixel
    shuffles, and uses torch's own (transposed) convolutions.

The module's ``forward(x, outputs=None)`` returns a dict of node outputs: every
node by default, or only the names in ``outputs`` (then only their ancestors
are computed and other tensors are freed as soon as possible). Submodules are
stored under sanitised node names; ``module.attr_names`` maps node name ->
attribute name. ``module.last_shapes`` holds the shape of every node computed
by the last call.

torch is an optional extra; it is imported only when a module is built.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from fractions import Fraction
from typing import Any

from rfdesign.errors import SpecError, require
from rfdesign.spec.graph import INPUT, Choice, Graph, Node
from rfdesign.spec.graph import ancestors as graph_ancestors

FAITHFUL = "faithful"
PROBE = "probe"

WINDOW = ("conv", "conv_transpose", "maxpool", "avgpool")
MERGE = ("add", "concat", "mul")

#: source op -> torch.nn activation class name (faithful mode); other pass-through ops are identity
ACTIVATIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "relu": ("ReLU", {}),
    "relu6": ("ReLU6", {}),
    "leaky_relu": ("LeakyReLU", {}),
    "prelu": ("PReLU", {}),
    "elu": ("ELU", {}),
    "selu": ("SELU", {}),
    "celu": ("CELU", {}),
    "gelu": ("GELU", {}),
    "silu": ("SiLU", {}),
    "swish": ("SiLU", {}),
    "mish": ("Mish", {}),
    "hardswish": ("Hardswish", {}),
    "hard_swish": ("Hardswish", {}),
    "sigmoid": ("Sigmoid", {}),
    "hardsigmoid": ("Hardsigmoid", {}),
    "hard_sigmoid": ("Hardsigmoid", {}),
    "tanh": ("Tanh", {}),
    "softmax": ("Softmax", {"dim": 1}),
    "log_softmax": ("LogSoftmax", {"dim": 1}),
    "dropout": ("Dropout", {}),
    "dropout2d": ("Dropout", {}),
    "dropout3d": ("Dropout", {}),
    "alpha_dropout": ("AlphaDropout", {}),
    "lrn": ("LocalResponseNorm", {"size": 5}),
    "local_response_norm": ("LocalResponseNorm", {"size": 5}),
}


# ---------------------------------------------------------------------------
# geometry helpers (plain Python; independent of rfdesign.rf)
# ---------------------------------------------------------------------------


def _ints(node: Node, attr: str) -> tuple[int, ...]:
    values = getattr(node.attrs, attr)
    if any(isinstance(v, Choice) for v in values):
        raise SpecError(f"layer `{node.name}`: `{attr}` is still a free choice", node.location)
    return tuple(int(v) for v in values)


def effective_kernel(kernel: int, dilation: int) -> int:
    return dilation * (kernel - 1) + 1


def same_pads(size: int, stride: int, k_eff: int) -> tuple[int, tuple[int, int]]:
    """TensorFlow SAME: output ceil(n/s), total padding max((out-1)*s + k' - n, 0), odd pixel after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + k_eff - size, 0)
    return out, (total // 2, total - total // 2)


def window_output(size: int, k_eff: int, stride: int, pads: tuple[int, int], ceil_mode: bool) -> int:
    """PyTorch's conv/pool output length (pooling's ceil_mode rule included); < 1 if empty."""
    span = size + pads[0] + pads[1] - k_eff
    if span < 0:
        return 0
    if ceil_mode:
        out = -(-span // stride) + 1
        if (out - 1) * stride >= size + pads[0]:
            out -= 1
        return out
    return span // stride + 1


def window_geometry(node: Node, size: Sequence[int]) -> list[tuple[int, int, int, int, tuple[int, int]]]:
    """Per axis (kernel, stride, dilation, output length, (before, after) padding or crop) of a window op.

    For ``conv_transpose`` the pair is the crop of the full output (PyTorch's
    padding, or TensorFlow's ``same``) and the output length includes
    ``output_padding``.
    """
    kernel, stride, dilation = _ints(node, "kernel"), _ints(node, "stride"), _ints(node, "dilation")
    result = []
    for axis, n in enumerate(size):
        k, s, d = kernel[axis], stride[axis], dilation[axis]
        k_eff = effective_kernel(k, d)
        rule = node.attrs.padding if isinstance(node.attrs.padding, str) else None
        if node.op == "conv_transpose":
            if rule is not None:  # the output is n * s; the crop is split (same), all after (causal) or before
                out = n * s
                total = max(k_eff - s, 0)
                split = (total // 2, total - total // 2)
                pair = {"same": split, "centred": split, "causal": (0, total), "anticausal": (total, 0)}[rule]
            else:
                pair = node.attrs.padding[axis]  # type: ignore[index]
                out = (n - 1) * s - pair[0] - pair[1] + k_eff + node.attrs.output_padding[axis]
        elif rule == "same":
            out, pair = same_pads(n, s, k_eff)
        else:
            rules = {"causal": (k_eff - 1, 0), "anticausal": (0, k_eff - 1),
                     "centred": ((k_eff - 1) // 2, k_eff - 1 - (k_eff - 1) // 2)}  # fmt: skip
            pair = rules[rule] if rule else node.attrs.padding[axis]
            out = window_output(n, k_eff, s, pair, node.attrs.ceil_mode if node.op in ("maxpool", "avgpool") else False)
        if out < 1:
            raise SpecError(
                f"layer `{node.name}` ({node.op}): empty output on axis {axis + 1} for input length {n}", node.location
            )
        result.append((k, s, d, out, pair))
    return result


def upsample_size(node: Node, size: Sequence[int]) -> tuple[int, ...]:
    if node.attrs.factor is not None:
        return tuple(n * f for n, f in zip(size, node.attrs.factor))
    assert node.attrs.size is not None
    return tuple(node.attrs.size)


def crop_pairs(node: Node, size: Sequence[int], like: Sequence[int] | None) -> tuple[tuple[int, int], ...]:
    if node.attrs.crop is not None:
        return tuple(node.attrs.crop)
    assert like is not None
    pairs = []
    for n, m in zip(size, like):
        if m > n:
            raise SpecError(f"layer `{node.name}` (crop): cannot crop {n} to {m}", node.location)
        pairs.append(((n - m) // 2, n - m - (n - m) // 2))
    return tuple(pairs)


def _gate_inputs(sizes: Sequence[Sequence[int]]) -> list[int]:
    """Indices of spatial-size-1 inputs of a mul that also has a larger input (broadcast gates)."""
    if not any(any(n != 1 for n in s) for s in sizes):
        return []
    return [i for i, s in enumerate(sizes) if all(n == 1 for n in s)]


def infer_shapes(
    graph: Graph, input_size: Sequence[int] | None = None, nodes: Iterable[str] | None = None
) -> dict[str, tuple[int, tuple[int, ...]]]:
    """(channels, spatial size) of every node (or of ``nodes`` and their ancestors).

    Our own size arithmetic (PyTorch's conventions, TensorFlow's ``same``),
    used to size ``linear`` layers and to pick measurement sizes. Raises
    :class:`SpecError` when an output would be empty or merged sizes differ.
    """
    size0 = tuple(input_size) if input_size is not None else graph.input_size
    wanted = ancestors(graph, nodes) if nodes is not None else set(graph.nodes)
    shapes: dict[str, tuple[int, tuple[int, ...]]] = {INPUT: (graph.input_channels, size0)}
    for name, node in graph.nodes.items():
        if name not in wanted:
            continue
        ins = [shapes[s] for s in node.inputs]
        c, size = ins[0]
        op = node.op
        if op in ("conv", "conv_transpose"):
            geo = window_geometry(node, size)
            shapes[name] = (node.attrs.out if node.attrs.out is not None else c, tuple(g[3] for g in geo))
        elif op in ("maxpool", "avgpool"):
            shapes[name] = (c, tuple(g[3] for g in window_geometry(node, size)))
        elif op == "global_pool":
            shapes[name] = (c, (1,) * len(size))
        elif op == "linear":
            assert node.attrs.out is not None
            shapes[name] = (node.attrs.out, (1,) * len(size))
        elif op == "upsample":
            shapes[name] = (c, upsample_size(node, size))
        elif op == "pad":
            shapes[name] = (c, tuple(n + b + a for n, (b, a) in zip(size, node.attrs.padding)))  # type: ignore[arg-type]
        elif op == "crop":
            like = next((shapes[r][1] for r in node.attrs.references()), None)
            out = tuple(n - b - a for n, (b, a) in zip(size, crop_pairs(node, size, like)))
            if min(out) < 1:
                raise SpecError(f"layer `{node.name}` (crop): nothing left", node.location)
            shapes[name] = (c, out)
        elif op == "space_to_depth":
            assert node.attrs.factor is not None
            if any(n % f for n, f in zip(size, node.attrs.factor)):
                raise SpecError(f"layer `{node.name}`: size {size} not divisible by {node.attrs.factor}", node.location)
            shapes[name] = (c * math.prod(node.attrs.factor), tuple(n // f for n, f in zip(size, node.attrs.factor)))
        elif op == "depth_to_space":
            assert node.attrs.factor is not None
            shapes[name] = (c // math.prod(node.attrs.factor), tuple(n * f for n, f in zip(size, node.attrs.factor)))
        elif op in MERGE:
            sizes = [s for _, s in ins]
            gates = _gate_inputs(sizes) if op == "mul" else []
            spatial = [sizes[i] for i in range(len(sizes)) if i not in gates]
            if any(s != spatial[0] for s in spatial):
                raise SpecError(f"layer `{node.name}` ({op}): inputs differ in size: {spatial}", node.location)
            channels = sum(ch for ch, _ in ins) if op == "concat" else max(ch for ch, _ in ins)
            shapes[name] = (channels, spatial[0])
        else:  # identity, norm
            shapes[name] = (c, size)
    return shapes


def ancestors(graph: Graph, names: Iterable[str]) -> set[str]:
    """``names`` and every node they depend on (a located error for an unknown name)."""
    names = list(names)
    for name in names:
        if name != INPUT and name not in graph.nodes:
            raise SpecError(f"no layer named `{name}` in `{graph.name}`")
    return graph_ancestors(graph.nodes, names)


def sanitise(name: str) -> str:
    """A valid submodule attribute name for a node name (``/`` and ``.`` become ``_``)."""
    text = re.sub(r"[^0-9A-Za-z_]", "_", name)
    if not text or text[0].isdigit():
        text = "n_" + text
    return text


def resample_taps(n: int, out: int, mode: str, align_corners: bool) -> tuple[list[int], list[int], list[Fraction]]:
    """PyTorch's interpolate source taps along one axis, exactly.

    Returns (i0, i1, lambda) per output position: the output reads
    ``(1 - lambda) * x[i0] + lambda * x[i1]`` (nearest: lambda = 0).
    """
    i0: list[int] = []
    i1: list[int] = []
    lam: list[Fraction] = []
    if mode == "nearest":
        for v in range(out):
            src = min((v * n) // out, n - 1)
            i0.append(src)
            i1.append(src)
            lam.append(Fraction(0))
        return i0, i1, lam
    if align_corners:
        scale = Fraction(n - 1, out - 1) if out > 1 else Fraction(0)
    else:
        scale = Fraction(n, out)
    for v in range(out):
        if align_corners:
            src = v * scale
        else:
            src = max((v + Fraction(1, 2)) * scale - Fraction(1, 2), Fraction(0))
        base = math.floor(src)
        step = 1 if base < n - 1 else 0
        i0.append(base)
        i1.append(base + step)
        lam.append(src - base)
    return i0, i1, lam


# ---------------------------------------------------------------------------
# torch part (defined on first use)
# ---------------------------------------------------------------------------

_IMPL: dict[str, Any] = {}


def _impl() -> dict[str, Any]:  # noqa: C901 - one closure holding every op class
    if _IMPL:
        return _IMPL
    torch = require("torch", "torch")
    nn = torch.nn
    F = torch.nn.functional

    def pad(x, pairs: Sequence[tuple[int, int]], value: float = 0.0):  # noqa: ANN001, ANN202
        if not any(b or a for b, a in pairs):
            return x
        flat: list[int] = []
        for b, a in reversed(list(pairs)):
            flat.extend((b, a))
        return F.pad(x, flat, mode="constant", value=value)

    def narrow(x, axis: int, start: int, length: int, fill: float = 0.0):  # noqa: ANN001, ANN202
        """x[..., start:start+length, ...] along spatial ``axis``, extended with ``fill`` past the end."""
        dim = 2 + axis
        have = x.shape[dim]
        if start + length > have:
            pairs = [(0, 0)] * (x.dim() - 2)
            pairs[axis] = (0, start + length - have)
            x = pad(x, pairs, fill)
        if start == 0 and length == x.shape[dim]:
            return x
        return x.narrow(dim, start, length)

    def window_1d(x, axis: int, k: int, s: int, d: int, pads: tuple[int, int], out: int):  # noqa: ANN001, ANN202
        """One-channel probe window along one axis: y[v] = mean_j x[v*s - before + j*d] (zeros outside).

        Sums of strided slices: the same taps as a convolution with a constant
        kernel, much faster than float64 ``conv`` on one channel, exact zeros kept.
        """
        k_eff = effective_kernel(k, d)
        n = x.shape[2 + axis]
        extra = max(0, (out - 1) * s + k_eff - (n + pads[0] + pads[1]))
        pairs = [(0, 0)] * (x.dim() - 2)
        pairs[axis] = (pads[0], pads[1] + extra)
        x = pad(x, pairs)
        dim = 2 + axis
        index: list[Any] = [slice(None)] * x.dim()
        index[dim] = slice(None, None, s)
        acc = None
        for j in range(k):
            part = x.narrow(dim, j * d, (out - 1) * s + 1)
            if s > 1:
                part = part[tuple(index)]
            acc = part if acc is None else acc + part
        return acc * (1.0 / k)

    def transposed_1d(x, axis: int, k: int, s: int, d: int, crop: int, out: int):  # noqa: ANN001, ANN202
        """One-channel probe transposed conv along one axis: input i adds to outputs i*s + j*d - crop."""
        dim = 2 + axis
        n = x.shape[dim]
        if s > 1:  # insert s - 1 zeros after every input unit
            z = x.unsqueeze(dim + 1)
            pairs = [(0, 0)] * (z.dim() - 2)
            pairs[axis + 1] = (0, s - 1)
            z = pad(z, pairs)
            shape = list(x.shape)
            shape[dim] = n * s
            x = z.reshape(shape).narrow(dim, 0, (n - 1) * s + 1)
        k_eff = effective_kernel(k, d)
        full = (n - 1) * s + k_eff
        pairs = [(0, 0)] * (x.dim() - 2)
        pairs[axis] = (k_eff - 1, k_eff - 1)
        x = pad(x, pairs)
        acc = None
        for j in range(k):
            part = x.narrow(dim, k_eff - 1 - j * d, full)
            acc = part if acc is None else acc + part
        return narrow(acc * (1.0 / max(1, k // s)), axis, crop, out)

    def conv_fn(dims: int):  # noqa: ANN202
        return {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[dims]

    def conv_transpose_fn(dims: int):  # noqa: ANN202
        return {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}[dims]

    class NodeOp(nn.Module):
        def __init__(self, node: Node, dims: int, mode: str, one: bool):
            super().__init__()
            self.node = node
            self.dims = dims
            self.mode = mode
            self.one = one  # probe with one channel

        @property
        def probe(self) -> bool:
            return self.mode == PROBE

        def extra_repr(self) -> str:
            return f"{self.node.name!r} ({self.node.source_op or self.node.op})"

    def spatial(x) -> tuple[int, ...]:  # noqa: ANN001
        return tuple(x.shape[2:])

    class Conv(NodeOp):
        def __init__(self, node: Node, dims: int, mode: str, one: bool, in_ch: int, dtype):  # noqa: ANN001
            super().__init__(node, dims, mode, one)
            out_ch = node.attrs.out if node.attrs.out is not None else in_ch
            groups = in_ch if node.attrs.groups == "depthwise" else int(node.attrs.groups)
            if one:
                in_ch = out_ch = groups = 1
            self.groups = groups
            kernel, stride, dilation = _ints(node, "kernel"), _ints(node, "stride"), _ints(node, "dilation")
            self.stride, self.dilation = stride, dilation
            transposed = node.op == "conv_transpose"
            self.layer = None
            if one:  # computed tap by tap in forward
                return
            cls = getattr(nn, f"ConvTranspose{dims}d" if transposed else f"Conv{dims}d")
            self.layer = cls(
                in_ch,
                out_ch,
                kernel,
                stride=stride,
                dilation=dilation,
                groups=groups,
                bias=node.attrs.bias and not self.probe,
                dtype=dtype,
            )
            if self.probe:
                with torch.no_grad():
                    fan_in = (in_ch // groups) * math.prod(kernel)
                    if transposed:  # each output reads about k/s taps per axis
                        fan_in = (in_ch // groups) * math.prod(max(1, k // s) for k, s in zip(kernel, stride))
                    self.layer.weight.fill_(1.0 / fan_in)
                self.layer.weight.requires_grad_(False)

        def forward(self, inputs, like=None):  # noqa: ANN001, ANN201
            x = inputs[0]
            geo = window_geometry(self.node, spatial(x))
            if self.one:
                for axis, (k, s, d, out, pair) in enumerate(geo):
                    if self.node.op == "conv":
                        x = window_1d(x, axis, k, s, d, pair, out)
                    else:
                        x = transposed_1d(x, axis, k, s, d, pair[0], out)
                return x
            if self.node.op == "conv":
                return self.layer(pad(x, [g[4] for g in geo]))
            # transposed: the full output, then PyTorch's/TensorFlow's crop (zeros past the end), then bias
            y = conv_transpose_fn(self.dims)(
                x, self.layer.weight, None, stride=self.stride, dilation=self.dilation, groups=self.groups
            )
            for axis, (_, _, _, out, (before, _)) in enumerate(geo):
                y = narrow(y, axis, before, out)
            if self.layer.bias is not None:
                y = y + self.layer.bias.view(1, -1, *([1] * self.dims))
            return y

    class Pool(NodeOp):
        def __init__(self, node: Node, dims: int, mode: str, one: bool, in_ch: int, dtype):  # noqa: ANN001
            super().__init__(node, dims, mode, one)
            self.channels = 1 if one else in_ch
            self.kernel, self.stride = _ints(node, "kernel"), _ints(node, "stride")
            self.dilation = _ints(node, "dilation")
            self.dtype = dtype

        def window_mean(self, x, stride=None):  # noqa: ANN001, ANN201
            """Depthwise window average with weights 1/prod(kernel) (padding already applied)."""
            c = x.shape[1]
            weight = torch.full(
                (c, 1, *self.kernel), 1.0 / math.prod(self.kernel), dtype=x.dtype, device=x.device
            )
            return conv_fn(self.dims)(
                x, weight, None, stride=stride or self.stride, dilation=self.dilation, groups=c
            )

        def forward(self, inputs, like=None):  # noqa: ANN001, ANN201
            x = inputs[0]
            node = self.node
            size = spatial(x)
            geo = window_geometry(node, size)
            pairs = [g[4] for g in geo]
            outs = [g[3] for g in geo]
            is_max = node.op == "maxpool"
            if self.one:
                for axis, (k, s, d, out, pair) in enumerate(geo):
                    x = window_1d(x, axis, k, s, d, pair, out)
                return x
            if not self.probe and node.attrs.padding != "same":
                symmetric = all(b == a and b <= k // 2 for (b, a), k in zip(pairs, self.kernel))
                if symmetric and (is_max or all(d == 1 for d in self.dilation)):
                    fn = getattr(F, f"{'max' if is_max else 'avg'}_pool{self.dims}d")
                    kwargs: dict[str, Any] = dict(
                        kernel_size=self.kernel,
                        stride=self.stride,
                        padding=[b for b, _ in pairs],
                        ceil_mode=node.attrs.ceil_mode,
                    )
                    if is_max:
                        kwargs["dilation"] = self.dilation
                    return fn(x, **kwargs)
            # general case: explicit padding, then enough extra at the end for every window, then slice
            fill = float("-inf") if (is_max and not self.probe) else 0.0
            ext = []
            for axis, (k, s, d, out, (b, a)) in enumerate(geo):
                need = (out - 1) * s + effective_kernel(k, d)
                ext.append((b, a + max(0, need - (size[axis] + b + a))))
            xp = pad(x, ext, fill)
            if is_max and not self.probe:
                fn = getattr(F, f"max_pool{self.dims}d")
                y = fn(xp, kernel_size=self.kernel, stride=self.stride, dilation=self.dilation)
            elif not self.probe and node.attrs.padding == "same":  # TensorFlow: the padding is not counted
                ones = pad(torch.ones_like(x[:, :1]), ext, 0.0)
                y = self.window_mean(xp) / self.window_mean(ones)
            else:
                y = self.window_mean(xp)
            for axis, out in enumerate(outs):
                y = narrow(y, axis, 0, out)
            return y

    class GlobalPool(NodeOp):
        def forward(self, inputs, like=None):  # noqa: ANN001, ANN201
            x = inputs[0]
            dims = tuple(range(2, x.dim()))
            if not self.probe and self.node.attrs.mode == "max":
                return x.amax(dim=dims, keepdim=True)
            return x.mean(dim=dims, keepdim=True)

    class Linear(NodeOp):
        def __init__(self, node: Node, dims: int, mode: str, one: bool, features: int, dtype):  # noqa: ANN001
            super().__init__(node, dims, mode, one)
            self.out = int(node.attrs.out or 1)
            self.layer = None if self.probe else nn.Linear(features, self.out, bias=node.attrs.bias, dtype=dtype)

        def forward(self, inputs, like=None):  # noqa: ANN001, ANN201
            x = inputs[0]
            if self.probe:
                keep = (1,) * self.dims
                if self.one:
                    return x.mean(dim=tuple(range(2, x.dim())), keepdim=True)
                return x.mean(dim=tuple(range(1, x.dim())), keepdim=True).expand(x.shape[0], self.out, *keep)
            y = self.layer(x.flatten(1))
            return y.view(x.shape[0], self.out, *([1] * self.dims))

    class Upsample(NodeOp):
        def forward(self, inputs, like=None):  # noqa: ANN001, ANN201
            x = inputs[0]
            node = self.node
            out = upsample_size(node, spatial(x))
            if not self.probe:
                if node.attrs.mode == "nearest":
                    return F.interpolate(x, size=out, mode="nearest")
                mode = {1: "linear", 2: "bilinear", 3: "trilinear"}[self.dims]
                return F.interpolate(x, size=out, mode=mode, align_corners=node.attrs.align_corners)
            for axis, m in enumerate(out):
                x = exact_resample(x, axis, m, node.attrs.mode, node.attrs.align_corners)
            return x

    def exact_resample(x, axis: int, out: int, mode: str, align_corners: bool):  # noqa: ANN001, ANN202
        n = x.shape[2 + axis]
        i0, i1, lam = resample_taps(n, out, mode, align_corners)
        dim = 2 + axis
        index0 = torch.tensor(i0, dtype=torch.long, device=x.device)
        y0 = x.index_select(dim, index0)
        if mode == "nearest":
            return y0
        shape = [1] * x.dim()
        shape[dim] = out
        w1 = torch.tensor([float(v) for v in lam], dtype=x.dtype, device=x.device).view(shape)
        w0 = torch.tensor([float(1 - v) for v in lam], dtype=x.dtype, device=x.device).view(shape)
        y1 = x.index_select(dim, torch.tensor(i1, dtype=torch.long, device=x.device))
        return y0 * w0 + y1 * w1

    class Pad(NodeOp):
        def forward(self, inputs, like=None):  # noqa: ANN001, ANN201
            return pad(inputs[0], self.node.attrs.padding)  # type: ignore[arg-type]

    class Crop(NodeOp):
        def forward(self, inputs, like=None):  # noqa: ANN001, ANN201
            x = inputs[0]
            size = spatial(x)
            pairs = crop_pairs(self.node, size, None if like is None else spatial(like))
            for axis, (b, a) in enumerate(pairs):
                x = x.narrow(2 + axis, b, size[axis] - b - a)
            return x

    class SpaceToDepth(NodeOp):
        def forward(self, inputs, like=None):  # noqa: ANN001, ANN201
            x = inputs[0]
            f = tuple(self.node.attrs.factor or ())
            size = spatial(x)
            if any(n % k for n, k in zip(size, f)):
                raise SpecError(f"layer `{self.node.name}`: size {size} not divisible by {f}", self.node.location)
            if self.one:  # every output unit reads its f x f patch
                for axis, k in enumerate(f):
                    x = window_1d(x, axis, k, k, 1, (0, 0), size[axis] // k)
                return x
            b, c = x.shape[:2]
            small = [n // k for n, k in zip(size, f)]
            shape = [b, c]
            for m, k in zip(small, f):
                shape.extend((m, k))
            y = x.reshape(shape)
            d = self.dims
            order = [0, 1] + [3 + 2 * i for i in range(d)] + [2 + 2 * i for i in range(d)]
            return y.permute(order).reshape(b, c * math.prod(f), *small)

    class DepthToSpace(NodeOp):
        def forward(self, inputs, like=None):  # noqa: ANN001, ANN201
            x = inputs[0]
            f = tuple(self.node.attrs.factor or ())
            size = spatial(x)
            if self.one:  # output unit v reads input unit v // f
                for axis, k in enumerate(f):
                    x = exact_resample(x, axis, size[axis] * k, "nearest", False)
                return x
            b, cf = x.shape[:2]
            c = cf // math.prod(f)
            d = self.dims
            y = x.reshape(b, c, *f, *size)
            order = [0, 1]
            for i in range(d):
                order.extend((2 + d + i, 2 + i))
            return y.permute(order).reshape(b, c, *(n * k for n, k in zip(size, f)))

    class Merge(NodeOp):
        def forward(self, inputs, like=None):  # noqa: ANN001, ANN201
            op = self.node.op
            if op == "mul":
                gates = _gate_inputs([spatial(t) for t in inputs])
                if self.probe:  # drop the gates; a sum has the same support as a product of positives, without overflow
                    inputs = [t for i, t in enumerate(inputs) if i not in gates]
                    y = inputs[0]
                    for t in inputs[1:]:
                        y = y + t
                    return y
                y = inputs[0]
                for t in inputs[1:]:
                    y = y * t
                return y
            if op == "concat" and not self.one:
                return torch.cat(list(inputs), dim=1)
            y = inputs[0]
            for t in inputs[1:]:
                y = y + t
            return y

    class Pass(NodeOp):
        def __init__(self, node: Node, dims: int, mode: str, one: bool, in_ch: int, dtype):  # noqa: ANN001
            super().__init__(node, dims, mode, one)
            self.layer = None
            if self.probe:
                return
            if node.op == "norm":
                cls = getattr(nn, f"BatchNorm{dims}d")
                self.layer = cls(in_ch, affine=node.attrs.affine, dtype=dtype)
            elif node.source_op in ACTIVATIONS:
                cls_name, kwargs = ACTIVATIONS[node.source_op]
                self.layer = getattr(nn, cls_name)(**kwargs)

        def forward(self, inputs, like=None):  # noqa: ANN001, ANN201
            x = inputs[0]
            return x if self.layer is None else self.layer(x)

    class GraphModule(nn.Module):
        """A graph as a module; ``forward(x, outputs=None) -> {node name: tensor}``."""

        def __init__(self, graph: Graph, mode: str, channels: str, dtype, input_size):  # noqa: ANN001
            super().__init__()
            if mode not in (FAITHFUL, PROBE):
                raise ValueError(f"mode must be {FAITHFUL!r} or {PROBE!r}, got {mode!r}")
            if channels not in ("full", "one"):
                raise ValueError(f"channels must be 'full' or 'one', got {channels!r}")
            if mode == FAITHFUL and channels == "one":
                raise ValueError("channels='one' is a probe-only simplification")
            self.graph = graph
            self.mode = mode
            self.channels = channels
            self.dtype = dtype
            one = channels == "one"
            dims = graph.dims
            need_sizes = any(node.op == "linear" for node in graph.nodes.values()) and mode == FAITHFUL
            shapes = infer_shapes(graph, input_size) if need_sizes else _channels_only(graph)
            self.attr_names: dict[str, str] = {}
            self.ops = nn.ModuleDict()
            self.last_shapes: dict[str, tuple[int, ...]] = {}
            taken: set[str] = set()
            for name, node in graph.nodes.items():
                attr = sanitise(name)
                base, k = attr, 1
                while attr in taken:
                    k += 1
                    attr = f"{base}_{k}"
                taken.add(attr)
                self.attr_names[name] = attr
                in_ch = shapes[node.inputs[0]][0]
                op = node.op
                if op in ("conv", "conv_transpose"):
                    module = Conv(node, dims, mode, one, in_ch, dtype)
                elif op in ("maxpool", "avgpool"):
                    module = Pool(node, dims, mode, one, in_ch, dtype)
                elif op == "global_pool":
                    module = GlobalPool(node, dims, mode, one)
                elif op == "linear":
                    features = in_ch * math.prod(shapes[node.inputs[0]][1]) if need_sizes else 0
                    module = Linear(node, dims, mode, one, features, dtype)
                elif op == "upsample":
                    module = Upsample(node, dims, mode, one)
                elif op == "pad":
                    module = Pad(node, dims, mode, one)
                elif op == "crop":
                    module = Crop(node, dims, mode, one)
                elif op == "space_to_depth":
                    module = SpaceToDepth(node, dims, mode, one)
                elif op == "depth_to_space":
                    module = DepthToSpace(node, dims, mode, one)
                elif op in MERGE:
                    module = Merge(node, dims, mode, one)
                else:
                    module = Pass(node, dims, mode, one, in_ch, dtype)
                self.ops[attr] = module
            self._order = list(graph.nodes)

        def needed(self, outputs: Iterable[str] | None) -> set[str]:
            return set(self.graph.nodes) if outputs is None else ancestors(self.graph, outputs)

        def forward(self, x, outputs: Sequence[str] | None = None):  # noqa: ANN001, ANN201
            graph = self.graph
            if x.dim() != graph.dims + 2:
                raise ValueError(
                    f"expected input of shape (batch, channels, {graph.dims} spatial axes), got {tuple(x.shape)}"
                )
            requested = list(graph.nodes) if outputs is None else list(outputs)
            needed = self.needed(requested)
            keep = set(requested)
            uses: dict[str, int] = {}
            for name in needed:
                node = graph.nodes[name]
                for source in node.dependencies():
                    uses[source] = uses.get(source, 0) + 1
            values = {INPUT: x}
            self.last_shapes = {INPUT: tuple(x.shape)}
            for name in self._order:
                if name not in needed:
                    continue
                node = graph.nodes[name]
                inputs = [values[s] for s in node.inputs]
                like = next((values[r] for r in node.attrs.references()), None)
                y = self.ops[self.attr_names[name]](inputs, like)
                values[name] = y
                self.last_shapes[name] = tuple(y.shape)
                del inputs, like
                for source in node.dependencies():
                    uses[source] -= 1
                    if uses[source] == 0 and source not in keep and source != INPUT:
                        values.pop(source, None)
            return {name: values[name] for name in requested}

    _IMPL.update(torch=torch, GraphModule=GraphModule)
    return _IMPL


def _channels_only(graph: Graph) -> dict[str, tuple[int, tuple[int, ...]]]:
    """Channels of every node (sizes left empty): what building a module needs without ``linear``."""
    result: dict[str, tuple[int, tuple[int, ...]]] = {INPUT: (graph.input_channels, ())}
    for name, node in graph.nodes.items():
        channels = [result[s][0] for s in node.inputs]
        c = channels[0]
        if node.op in ("conv", "conv_transpose"):
            c = node.attrs.out if node.attrs.out is not None else c
        elif node.op == "linear":
            c = int(node.attrs.out or 1)
        elif node.op == "concat":
            c = sum(channels)
        elif node.op in ("add", "mul"):
            c = max(channels)
        elif node.op == "space_to_depth":
            c = c * math.prod(node.attrs.factor or ())
        elif node.op == "depth_to_space":
            c = c // math.prod(node.attrs.factor or ())
        result[name] = (c, ())
    return result


def build_module(
    graph: Graph,
    mode: str = FAITHFUL,
    *,
    channels: str | None = None,
    dtype: Any = None,
    input_size: Sequence[int] | None = None,
    device: Any = None,
) -> Any:
    """A ``torch.nn.Module`` computing ``graph`` (see the module docstring for the modes).

    ``channels``: ``"full"`` (default for faithful) or ``"one"`` (default for
    probe). ``dtype``: default float32 for faithful, float64 for probe.
    ``input_size`` sizes ``linear`` layers in faithful mode (default: the
    spec's input size). ``device`` (e.g. ``"meta"``, to get every node's
    shape without memory or compute) is where parameters are created. The
    module is returned in eval mode.
    """
    impl = _impl()
    torch = impl["torch"]
    if channels is None:
        channels = "one" if mode == PROBE else "full"
    if dtype is None:
        dtype = torch.float64 if mode == PROBE else torch.float32
    if device is None:
        module = impl["GraphModule"](graph, mode, channels, dtype, input_size)
    else:
        with torch.device(device):
            module = impl["GraphModule"](graph, mode, channels, dtype, input_size)
    return module.eval()
