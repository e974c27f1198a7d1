"""``conv``: a (dilated, strided, grouped) convolution, 1-D to 3-D."""

from __future__ import annotations

from dataclasses import dataclass
from math import prod
from typing import Any, Literal

from pydantic import Field, StrictBool, StrictInt

from rfdesign.errors import SpecError
from rfdesign.ops import _window
from rfdesign.ops._window import WindowAttrs
from rfdesign.ops.registry import Op, register
from rfdesign.ops.torch_code import TorchCode, TorchContext, axes_text, flat_pads_text, tuple_text
from rfdesign.rf.geometry import LayerGeometry
from rfdesign.spec.fields import LayerBase, Padding, PerAxisInt
from rfdesign.spec.graph import Node
from rfdesign.spec.normalize import AttrReader


class ConvLayer(LayerBase):
    op: Literal["conv", "conv1d", "conv2d", "conv3d", "convolution"]
    out: StrictInt | None = Field(None, description="output channels; default: input channels")
    kernel: PerAxisInt
    stride: PerAxisInt = 1
    padding: Padding = 0
    dilation: PerAxisInt = 1
    groups: StrictInt | Literal["depthwise"] = 1
    bias: StrictBool = True


@dataclass(frozen=True, slots=True)
class ConvAttrs(WindowAttrs):
    """A convolution's window plus its output channels (None: the input's), groups and bias."""

    out: int | None = None
    groups: int | str = 1  # an int, or "depthwise" (one group per input channel)
    bias: bool = True

    def group_count(self, in_channels: int) -> int:
        """The number of groups given the input channels (``depthwise``: one per channel)."""
        return in_channels if self.groups == "depthwise" else int(self.groups)

    def out_channels(self, in_channels: int) -> int:
        return self.out if self.out is not None else in_channels


def check_groups(node: Node, attrs: ConvAttrs, in_channels: int, out_channels: int) -> int:
    """The group count, or a located error when it does not divide both channel counts."""
    groups = attrs.group_count(in_channels)
    for label, count in (("input", in_channels), ("output", out_channels)):
        if count % groups:
            raise SpecError(
                f"layer `{node.name}`: {label} channels ({count}) are not divisible by groups ({groups})",
                node.location,
                "groups must divide both the input and the output channels",
            )
    return groups


def conv_parameters(attrs: ConvAttrs, in_channels: int, kernel: tuple[int, ...], transposed: bool = False) -> int:
    """Weights plus bias of a (transposed) convolution with this kernel."""
    out_channels = attrs.out_channels(in_channels)
    groups = attrs.group_count(in_channels)
    taps = prod(kernel)
    if transposed:
        weights = in_channels * (out_channels // groups) * taps
    else:
        weights = out_channels * (in_channels // groups) * taps
    return weights + (out_channels if attrs.bias else 0)


def read_conv(layer: Any, read: AttrReader) -> dict[str, Any]:
    """The attributes every convolution has, in the order their errors are reported."""
    values = _window.read_window(layer, read)
    values["stride"] = read.ints("stride", layer.stride)
    values["out"] = layer.out
    values["groups"] = layer.groups
    values["bias"] = read.flag("bias", layer.bias)
    read.positive("out", layer.out)
    if isinstance(layer.groups, int) and layer.groups < 1:
        raise SpecError(f"`groups` must be >= 1, got {layer.groups}", read.at("groups"))
    return values


def conv_fields(attrs: ConvAttrs) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if attrs.out is not None:
        fields["out"] = attrs.out
    fields.update(_window.window_fields(attrs, (1,) * len(attrs.stride)))
    return fields


def conv_tail_fields(attrs: ConvAttrs) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if attrs.groups != 1:
        fields["groups"] = attrs.groups
    if not attrs.bias:
        fields["bias"] = False
    return fields


def conv_torch(node: Node, attrs: ConvAttrs, context: TorchContext, transposed: bool) -> TorchCode:
    """``nn.ConvNd`` / ``nn.ConvTransposeNd``, with TensorFlow's and the causal rules written out."""
    d = context.dims
    kernel, stride, dilation = (tuple(int(v) for v in getattr(attrs, a)) for a in _window.WINDOW_ATTRS)
    cin = context.in_channels
    x, me = context.inputs[0], context.me
    out = attrs.out_channels(cin)
    groups = attrs.group_count(cin)
    cls = f"nn.ConvTranspose{d}d" if transposed else f"nn.Conv{d}d"
    args = [str(cin), str(out), f"kernel_size={axes_text(kernel)}"]
    if any(s != 1 for s in stride):
        args.append(f"stride={axes_text(stride)}")
    expr = f"{me}({x})"
    mapped = True
    padding = attrs.padding
    if padding == "same":
        if transposed:
            context.use("same_transpose")
            expr = f"same_transpose({me}({x}), {x}, {tuple_text(kernel)}, {tuple_text(stride)}, {tuple_text(dilation)})"
            mapped = False
        elif all(s == 1 for s in stride):
            if any(k > 1 for k in kernel):
                args.append("padding='same'")
        else:
            context.use("same_pad")
            expr = f"{me}(same_pad({x}, {tuple_text(kernel)}, {tuple_text(stride)}, {tuple_text(dilation)}))"
    else:
        pairs = geometry_pairs(node, attrs, context, transposed)
        if all(b == a for b, a in pairs):
            if any(b for b, _ in pairs):
                args.append(f"padding={axes_text(tuple(b for b, _ in pairs))}")
        elif transposed:
            context.use("crop")
            expr = f"crop({me}({x}), {tuple_text(tuple_text(p) for p in pairs)})"
            mapped = False
        else:
            expr = f"{me}(F.pad({x}, {flat_pads_text(pairs)}))"
    output_padding = getattr(attrs, "output_padding", ())
    if transposed and any(output_padding):
        args.append(f"output_padding={axes_text(tuple(output_padding))}")
    if any(v != 1 for v in dilation):
        args.append(f"dilation={axes_text(dilation)}")
    if groups != 1:
        args.append(f"groups={groups}")
    if not attrs.bias:
        args.append("bias=False")
    return TorchCode(f"{cls}({', '.join(args)})", expr, mapped)


def geometry_pairs(
    node: Node, attrs: WindowAttrs, context: TorchContext, transposed: bool
) -> tuple[tuple[int, int], ...]:
    """The explicit (before, after) padding of a window whose padding is pairs or a causal rule."""
    if not isinstance(attrs.padding, str):
        return tuple(attrs.padding)
    from rfdesign.rf.geometry import effective_kernel, rule_padding, transposed_rule_crop

    pairs = []
    for axis, n in enumerate(context.in_size):
        k, s, d = (int(getattr(attrs, a)[axis]) for a in _window.WINDOW_ATTRS)
        effective = effective_kernel(k, d)
        if transposed:
            pairs.append(transposed_rule_crop(attrs.padding, s, effective))
        else:
            pairs.append(rule_padding(attrs.padding, n, s, effective))
    return tuple(pairs)


@register
class Conv(Op):
    name = "conv"
    aliases = ("conv1d", "conv2d", "conv3d", "convolution")
    layer = ConvLayer
    attrs_type = ConvAttrs
    window = True
    summary = "a convolution: kernel, stride, padding, dilation, groups"

    def normalize(self, layer: Any, read: AttrReader) -> ConvAttrs:
        return ConvAttrs(**read_conv(layer, read))

    def make(self, dims: int, **values: Any) -> ConvAttrs:
        return ConvAttrs(**_window.window_defaults(dims, values))

    def output_channels(self, attrs: Any, channels: list[int]) -> int:
        return attrs.out_channels(channels[0])  # type: ignore[no-any-return]

    def geometry(
        self, node: Node, sizes: list[tuple[int, ...]], channels: list[int], references: list[tuple[int, ...]]
    ) -> LayerGeometry:
        attrs: ConvAttrs = node.attrs  # type: ignore[assignment]
        kernel = attrs.ints(node, "kernel")
        attrs.ints(node, "stride")
        attrs.ints(node, "dilation")
        size, in_channels = sizes[0], channels[0]
        axes = [_window.forward_axis(node, attrs, axis, n) for axis, n in enumerate(size)]
        out_size = tuple(a[0] for a in axes)
        out_channels = attrs.out_channels(in_channels)
        check_groups(node, attrs, in_channels, out_channels)
        params = conv_parameters(attrs, in_channels, kernel)
        weights = params - (out_channels if attrs.bias else 0)
        flops = prod(out_size) * weights
        return LayerGeometry(out_size, out_channels, tuple(a[2] for a in axes), tuple(a[1] for a in axes), params, flops)

    def layer_fields(self, attrs: Any) -> dict[str, Any]:
        return {**conv_fields(attrs), **conv_tail_fields(attrs)}

    def torch(self, node: Node, context: TorchContext) -> TorchCode:
        return conv_torch(node, node.attrs, context, transposed=False)  # type: ignore[arg-type]
