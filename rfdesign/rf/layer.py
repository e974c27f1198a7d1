"""Per-op geometry: output size, resolved padding, index map, channels, cost.

:func:`resolve_layer` is the one place that knows each op's arithmetic
(PyTorch's conventions, and TensorFlow's for ``padding: same``). It returns a
:class:`LayerGeometry`; a geometry that cannot exist (an empty output, inputs
of different sizes joined, channels not divisible by groups) is a located
:class:`SpecError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from math import prod

from rfdesign.errors import SpecError
from rfdesign.rf.maps import OpMap, resample_map, shift_map, transposed_map, window_map
from rfdesign.spec import ops
from rfdesign.spec.graph import Choice, Node

IDENTITY_MAP = shift_map(0)


@dataclass(frozen=True, slots=True)
class LayerGeometry:
    """What one node does, resolved against its actual input sizes."""

    output_size: tuple[int, ...]
    channels: int
    maps: tuple[OpMap, ...]  # one per axis; empty for merges
    padding: tuple[tuple[int, int], ...] | None  # resolved (before, after) for window ops and pad
    params: int
    flops: int  # multiply-accumulates
    gate_inputs: tuple[int, ...] = ()  # merge inputs that broadcast (global context gates)


def output_channels(node: Node, channels: list[int]) -> int:
    """The channels a node outputs given its inputs' channels (in ``node.inputs`` order)."""
    op = node.op
    if op in (ops.CONV, ops.CONV_TRANSPOSE, ops.LINEAR):
        return node.out if node.out is not None else channels[0]
    if op == ops.CONCAT:
        return sum(channels)
    if op in (ops.ADD, ops.MUL):
        return max(channels)
    if op == ops.SPACE_TO_DEPTH:
        assert node.factor is not None
        return channels[0] * prod(node.factor)
    if op == ops.DEPTH_TO_SPACE:
        assert node.factor is not None
        return channels[0] // prod(node.factor)
    if op == ops.SELECT:
        stop = channels[0] if node.stop is None else min(node.stop, channels[0])
        return stop - node.start
    return channels[0]


def _fmt(size: tuple[int, ...]) -> str:
    return "x".join(str(s) for s in size)


def _ints(node: Node, attr: str) -> tuple[int, ...]:
    values = getattr(node, attr)
    for value in values:
        if isinstance(value, Choice):
            raise SpecError(
                f"layer `{node.name}`: `{attr}` is still a free choice {value}",
                node.location,
                "run `rfdesign solve` to fill it, then analyze the proposal",
            )
    return values


def same_padding(size: int, stride: int, effective_kernel: int) -> tuple[int, tuple[int, int]]:
    """TensorFlow's SAME rule: output ceil(n/s), extra padding after when the total is odd."""
    out = -(-size // stride)
    total = max((out - 1) * stride + effective_kernel - size, 0)
    return out, (total // 2, total - total // 2)


def window_size(size: int, effective_kernel: int, stride: int, pads: tuple[int, int], ceil_mode: bool = False) -> int:
    """PyTorch's output size of a convolution or pooling window; 0 when the output would be empty."""
    span = size + pads[0] + pads[1] - effective_kernel
    if span < 0:
        return 0
    if ceil_mode:
        out = -(-span // stride) + 1
        if (out - 1) * stride >= size + pads[0]:
            out -= 1  # the last window must start inside the input or the left padding
        return out
    return span // stride + 1


def window_output(
    node: Node, axis: int, size: int, kernel: int, stride: int, dilation: int, pads: tuple[int, int]
) -> int:
    effective = dilation * (kernel - 1) + 1
    out = window_size(size, effective, stride, pads, node.ceil_mode)
    if out < 1:
        raise SpecError(
            f"layer `{node.name}` ({node.op}): the output would be empty on axis {axis + 1}: input {size}"
            f" + padding {pads[0]}+{pads[1]} is smaller than the effective kernel {effective}",
            node.location,
            "use a smaller kernel or stride earlier, more padding, or a larger input",
        )
    return out


def resolve_layer(
    node: Node,
    sizes: list[tuple[int, ...]],
    channels: list[int],
    like_size: tuple[int, ...] | None = None,
) -> LayerGeometry:
    """Geometry of ``node`` given its inputs' sizes and channels (in ``node.inputs`` order)."""
    op = node.op
    if op in ops.MERGE_OPS:
        return _merge(node, sizes, channels)
    size, in_channels = sizes[0], channels[0]
    dims = len(size)
    if op in ops.WINDOW_OPS:
        return _window(node, size, in_channels)
    if op in (ops.IDENTITY, ops.NORM):
        params = 2 * in_channels if op == ops.NORM and node.affine else 0
        return LayerGeometry(size, in_channels, (IDENTITY_MAP,) * dims, None, params, 0)
    if op == ops.SELECT:
        if node.start >= in_channels:
            raise SpecError(
                f"layer `{node.name}` (select): start {node.start} is past the input's {in_channels} channels",
                node.location,
            )
        return LayerGeometry(size, output_channels(node, channels), (IDENTITY_MAP,) * dims, None, 0, 0)
    if op == ops.GLOBAL_POOL:
        maps = tuple(window_map(n, 0, n) for n in size)
        return LayerGeometry((1,) * dims, in_channels, maps, None, 0, 0)
    if op == ops.LINEAR:
        assert node.out is not None
        features = in_channels * prod(size)
        maps = tuple(window_map(n, 0, n) for n in size)
        params = features * node.out + (node.out if node.bias else 0)
        return LayerGeometry((1,) * dims, node.out, maps, None, params, features * node.out)
    if op == ops.UPSAMPLE:
        return _upsample(node, size, in_channels)
    if op == ops.PAD:
        pads = node.padding
        assert isinstance(pads, tuple)
        out = tuple(n + b + a for n, (b, a) in zip(size, pads))
        return LayerGeometry(out, in_channels, tuple(shift_map(-b) for b, _ in pads), pads, 0, 0)
    if op == ops.CROP:
        return _crop(node, size, in_channels, like_size)
    if op == ops.SPACE_TO_DEPTH:
        assert node.factor is not None
        for axis, (n, f) in enumerate(zip(size, node.factor)):
            if n % f:
                raise SpecError(
                    f"layer `{node.name}` (space_to_depth): input size {n} on axis {axis + 1} is not a multiple of {f}",
                    node.location,
                )
        out = tuple(n // f for n, f in zip(size, node.factor))
        maps = tuple(window_map(f, 0, f) for f in node.factor)
        return LayerGeometry(out, output_channels(node, channels), maps, None, 0, 0)
    if op == ops.DEPTH_TO_SPACE:
        assert node.factor is not None
        block = prod(node.factor)
        if in_channels % block:
            raise SpecError(
                f"layer `{node.name}` (depth_to_space): {in_channels} channels are not divisible by {block}",
                node.location,
            )
        out = tuple(n * f for n, f in zip(size, node.factor))
        maps = tuple(resample_map(1, f, Fraction(0), False) for f in node.factor)
        return LayerGeometry(out, output_channels(node, channels), maps, None, 0, 0)
    raise AssertionError(f"unhandled op {op}")  # pragma: no cover - every canonical op is handled


def _window(node: Node, size: tuple[int, ...], in_channels: int) -> LayerGeometry:
    kernel = _ints(node, "kernel")
    stride = _ints(node, "stride")
    dilation = _ints(node, "dilation")
    transposed = node.op == ops.CONV_TRANSPOSE
    out_sizes: list[int] = []
    pads: list[tuple[int, int]] = []
    maps: list[OpMap] = []
    for axis, n in enumerate(size):
        k, s, d = kernel[axis], stride[axis], dilation[axis]
        effective = d * (k - 1) + 1
        if transposed:
            if node.padding == "same":
                out = n * s
                total = max(effective - s, 0)
                pair = (total // 2, total - total // 2)
            else:
                pair = node.padding[axis]  # type: ignore[index]
                extra = node.output_padding[axis]
                if extra >= max(s, d):
                    raise SpecError(
                        f"layer `{node.name}`: output_padding {extra} must be smaller than stride or dilation",
                        node.location,
                    )
                out = (n - 1) * s - pair[0] - pair[1] + effective + extra
                if out < 1:
                    raise SpecError(
                        f"layer `{node.name}` (conv_transpose): the output would be empty on axis {axis + 1}",
                        node.location,
                        "use less padding",
                    )
            maps.append(transposed_map(s, pair[0], k, d))
        else:
            if node.padding == "same":
                out, pair = same_padding(n, s, effective)
            else:
                pair = node.padding[axis]  # type: ignore[index]
                out = window_output(node, axis, n, k, s, d, pair)
            maps.append(window_map(s, pair[0], effective, d))
        out_sizes.append(out)
        pads.append(pair)
    channels, params, flops = in_channels, 0, 0
    if node.op in (ops.CONV, ops.CONV_TRANSPOSE):
        channels, params, flops = _conv_cost(node, in_channels, size, tuple(out_sizes), kernel)
    return LayerGeometry(tuple(out_sizes), channels, tuple(maps), tuple(pads), params, flops)


def _conv_cost(
    node: Node, in_channels: int, in_size: tuple[int, ...], out_size: tuple[int, ...], kernel: tuple[int, ...]
) -> tuple[int, int, int]:
    out_channels = output_channels(node, [in_channels])
    groups = in_channels if node.groups == "depthwise" else int(node.groups)
    for label, count in (("input", in_channels), ("output", out_channels)):
        if count % groups:
            raise SpecError(
                f"layer `{node.name}`: {label} channels ({count}) are not divisible by groups ({groups})",
                node.location,
                "groups must divide both the input and the output channels",
            )
    taps = prod(kernel)
    if node.op == ops.CONV:
        weights = out_channels * (in_channels // groups) * taps
        flops = prod(out_size) * weights
    else:
        weights = in_channels * (out_channels // groups) * taps
        flops = prod(in_size) * weights
    params = weights + (out_channels if node.bias else 0)
    return out_channels, params, flops


def _upsample(node: Node, size: tuple[int, ...], in_channels: int) -> LayerGeometry:
    out_sizes = []
    maps = []
    linear = node.mode == "linear"
    for axis, n in enumerate(size):
        if node.factor is not None:
            f = node.factor[axis]
            out = n * f
            ratio = Fraction(1, f)
        else:
            assert node.size is not None
            out = node.size[axis]
            ratio = Fraction(n, out)
        if linear and node.align_corners:
            numerator, denominator = (n - 1, out - 1) if out > 1 else (0, 1)
            maps.append(resample_map(numerator, denominator, Fraction(0), True))
        elif linear:
            offset = ratio / 2 - Fraction(1, 2)
            maps.append(resample_map(ratio.numerator, ratio.denominator, offset, True))
        else:
            maps.append(resample_map(ratio.numerator, ratio.denominator, Fraction(0), False))
        out_sizes.append(out)
    return LayerGeometry(tuple(out_sizes), in_channels, tuple(maps), None, 0, 0)


def _crop(
    node: Node, size: tuple[int, ...], in_channels: int, like_size: tuple[int, ...] | None
) -> LayerGeometry:
    if node.crop is not None:
        pairs = node.crop
    else:
        assert like_size is not None
        pairs = []
        for axis, (n, m) in enumerate(zip(size, like_size)):
            if m > n:
                raise SpecError(
                    f"layer `{node.name}` (crop): cannot crop {n} to the size {m} of `{node.like}` on axis {axis + 1}",
                    node.location,
                )
            pairs.append(((n - m) // 2, n - m - (n - m) // 2))
        pairs = tuple(pairs)
    out = tuple(n - b - a for n, (b, a) in zip(size, pairs))
    if any(o < 1 for o in out):
        raise SpecError(
            f"layer `{node.name}` (crop): cropping {_fmt(size)} by {list(pairs)} leaves nothing", node.location
        )
    return LayerGeometry(out, in_channels, tuple(shift_map(b) for b, _ in pairs), tuple(pairs), 0, 0)


def _merge(node: Node, sizes: list[tuple[int, ...]], channels: list[int]) -> LayerGeometry:
    gates: list[int] = []
    reference = None
    for index, size in enumerate(sizes):
        if node.op == ops.MUL and all(n == 1 for n in size) and any(any(n != 1 for n in s) for s in sizes):
            gates.append(index)
            continue
        if reference is None:
            reference = index
        elif size != sizes[reference]:
            raise SpecError(
                f"layer `{node.name}` ({node.op}): inputs differ in size: `{node.inputs[reference]}` is "
                f"{_fmt(sizes[reference])}, `{node.inputs[index]}` is {_fmt(size)}",
                node.location,
                "crop, pad or resample one branch so the sizes match",
            )
    assert reference is not None
    spatial = [i for i in range(len(sizes)) if i not in gates]
    if node.op != ops.CONCAT:
        counts = {channels[i] for i in range(len(sizes))} - {1} if node.op == ops.MUL else {channels[i] for i in spatial}
        if len(counts) > 1:
            listing = ", ".join(f"`{node.inputs[i]}`: {channels[i]}" for i in range(len(sizes)))
            raise SpecError(
                f"layer `{node.name}` ({node.op}): inputs differ in channels ({listing})",
                node.location,
                "add a 1x1 conv on one branch to match the channels, or use concat",
            )
    out_channels = output_channels(node, channels)
    return LayerGeometry(sizes[reference], out_channels, (), None, 0, 0, tuple(gates))
