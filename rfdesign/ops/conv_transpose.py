"""``conv_transpose``: a transposed (fractionally strided) convolution, the learned upsampling."""

from __future__ import annotations

from dataclasses import dataclass, replace
from math import prod
from typing import Any, Literal

from rfdesign.ops import _window
from rfdesign.ops.conv import (
    ConvAttrs,
    ConvLayer,
    check_groups,
    conv_fields,
    conv_parameters,
    conv_tail_fields,
    conv_torch,
    read_conv,
)
from rfdesign.ops.registry import Op, register
from rfdesign.ops.torch_code import TorchCode, TorchContext
from rfdesign.rf.geometry import LayerGeometry
from rfdesign.spec.fields import PerAxisInt
from rfdesign.spec.graph import Node
from rfdesign.spec.normalize import AttrReader


class ConvTransposeLayer(ConvLayer):
    op: Literal[  # type: ignore[assignment]
        "conv_transpose", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "deconv", "convtranspose"
    ]
    output_padding: PerAxisInt = 0


@dataclass(frozen=True, slots=True)
class ConvTransposeAttrs(ConvAttrs):
    """A convolution's attributes plus PyTorch's ``output_padding`` (extra pixels after, per axis)."""

    output_padding: tuple[int, ...] = ()

    def axis(self, axis: int) -> ConvTransposeAttrs:
        view = ConvAttrs.axis(self, axis)
        return replace(view, output_padding=(self.output_padding[axis],))  # type: ignore[return-value]


@register
class ConvTranspose(Op):
    name = "conv_transpose"
    aliases = ("conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "deconv", "convtranspose")
    layer = ConvTransposeLayer
    attrs_type = ConvTransposeAttrs
    window = True
    summary = "a transposed convolution (stride s upsamples by s)"

    def normalize(self, layer: Any, read: AttrReader) -> ConvTransposeAttrs:
        values = read_conv(layer, read)
        values["output_padding"] = read.fixed_ints("output_padding", layer.output_padding, 0)
        return ConvTransposeAttrs(**values)

    def make(self, dims: int, **values: Any) -> ConvTransposeAttrs:
        values = _window.window_defaults(dims, values)
        values.setdefault("output_padding", (0,) * dims)
        return ConvTransposeAttrs(**values)

    def output_channels(self, attrs: Any, channels: list[int]) -> int:
        return attrs.out_channels(channels[0])  # type: ignore[no-any-return]

    def geometry(
        self, node: Node, sizes: list[tuple[int, ...]], channels: list[int], references: list[tuple[int, ...]]
    ) -> LayerGeometry:
        attrs: ConvTransposeAttrs = node.attrs  # type: ignore[assignment]
        kernel = attrs.ints(node, "kernel")
        attrs.ints(node, "stride")
        attrs.ints(node, "dilation")
        size, in_channels = sizes[0], channels[0]
        axes = [
            _window.transposed_axis(node, attrs, axis, n, attrs.output_padding[axis]) for axis, n in enumerate(size)
        ]
        out_channels = attrs.out_channels(in_channels)
        check_groups(node, attrs, in_channels, out_channels)
        params = conv_parameters(attrs, in_channels, kernel, transposed=True)
        weights = params - (out_channels if attrs.bias else 0)
        flops = prod(size) * weights
        return LayerGeometry(
            tuple(a[0] for a in axes), out_channels, tuple(a[2] for a in axes), tuple(a[1] for a in axes), params, flops
        )

    def layer_fields(self, attrs: Any) -> dict[str, Any]:
        fields = conv_fields(attrs)
        if any(attrs.output_padding):
            fields["output_padding"] = _window.axes_value(attrs.output_padding)
        fields.update(conv_tail_fields(attrs))
        return fields

    def torch(self, node: Node, context: TorchContext) -> TorchCode:
        return conv_torch(node, node.attrs, context, transposed=True)  # type: ignore[arg-type]
