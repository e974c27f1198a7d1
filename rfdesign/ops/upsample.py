"""``upsample``: nearest or (bi/tri)linear resampling by integer factors or to a size."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

from pydantic import StrictBool

from rfdesign.errors import SpecError
from rfdesign.ops._window import axes_value
from rfdesign.ops.registry import Attrs, Op, register
from rfdesign.ops.torch_code import TorchCode, TorchContext, tuple_text
from rfdesign.rf.geometry import LayerGeometry
from rfdesign.rf.maps import OpMap, resample_map
from rfdesign.spec.fields import LayerBase, PerAxisInt
from rfdesign.spec.graph import Node
from rfdesign.spec.normalize import AttrReader

NAMES = ("upsample", "upsampling", "interpolate", "resize")


class UpsampleLayer(LayerBase):
    op: Literal[NAMES]  # type: ignore[valid-type]
    factor: PerAxisInt = None
    size: PerAxisInt = None
    mode: Literal["nearest", "bilinear", "linear", "trilinear"] = "nearest"
    align_corners: StrictBool = False


@dataclass(frozen=True, slots=True)
class UpsampleAttrs(Attrs):
    """Exactly one of ``factor`` (per axis) or ``size`` (the output size per axis); ``mode`` nearest or linear."""

    factor: tuple[int, ...] | None = None
    size: tuple[int, ...] | None = None
    mode: str = "nearest"  # "nearest" or "linear" (bilinear, trilinear: linear on each axis)
    align_corners: bool = False

    def axis(self, axis: int) -> UpsampleAttrs:
        factor = None if self.factor is None else (self.factor[axis],)
        size = None if self.size is None else (self.size[axis],)
        return UpsampleAttrs(factor, size, self.mode, self.align_corners)


def resample_axis(attrs: UpsampleAttrs, axis: int, n: int) -> tuple[int, OpMap]:
    """Output size and index map of one axis."""
    if attrs.factor is not None:
        factor = attrs.factor[axis]
        out = n * factor
        ratio = Fraction(1, factor)
    else:
        assert attrs.size is not None
        out = attrs.size[axis]
        ratio = Fraction(n, out)
    if attrs.mode == "linear" and attrs.align_corners:
        numerator, denominator = (n - 1, out - 1) if out > 1 else (0, 1)
        return out, resample_map(numerator, denominator, Fraction(0), True)
    if attrs.mode == "linear":
        return out, resample_map(ratio.numerator, ratio.denominator, ratio / 2 - Fraction(1, 2), True)
    return out, resample_map(ratio.numerator, ratio.denominator, Fraction(0), False)


@register
class Upsample(Op):
    name = NAMES[0]
    aliases = NAMES[1:]
    layer = UpsampleLayer
    attrs_type = UpsampleAttrs
    summary = "nearest or linear resampling by an integer factor or to a size (fractional strides)"

    def normalize(self, layer: Any, read: AttrReader) -> UpsampleAttrs:
        if (layer.factor is None) == (layer.size is None):
            raise SpecError("`upsample` needs exactly one of `factor` or `size`", read.here())
        factor = size = None
        if layer.factor is not None:
            factor = read.fixed_ints("factor", layer.factor)
        else:
            size = read.fixed_ints("size", layer.size)
        mode = "nearest" if layer.mode == "nearest" else "linear"
        align_corners = read.flag("align_corners", layer.align_corners)
        if align_corners and mode == "nearest":
            raise SpecError("`align_corners` applies to linear modes only", read.at("align_corners"))
        return UpsampleAttrs(factor, size, mode, align_corners)

    def geometry(
        self, node: Node, sizes: list[tuple[int, ...]], channels: list[int], references: list[tuple[int, ...]]
    ) -> LayerGeometry:
        attrs: UpsampleAttrs = node.attrs  # type: ignore[assignment]
        axes = [resample_axis(attrs, axis, n) for axis, n in enumerate(sizes[0])]
        return LayerGeometry(tuple(a[0] for a in axes), channels[0], tuple(a[1] for a in axes), None, 0, 0)

    def layer_fields(self, attrs: Any) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        if attrs.factor is not None:
            fields["factor"] = axes_value(attrs.factor)
        else:
            fields["size"] = axes_value(attrs.size or ())
        if attrs.mode != "nearest":
            fields["mode"] = "bilinear" if len(attrs.factor or attrs.size or ()) == 2 else "linear"
        if attrs.align_corners:
            fields["align_corners"] = True
        return fields

    def torch(self, node: Node, context: TorchContext) -> TorchCode:
        attrs: UpsampleAttrs = node.attrs  # type: ignore[assignment]
        args = []
        if attrs.factor is not None:
            factors = tuple(float(f) for f in attrs.factor)
            args.append(f"scale_factor={factors[0] if len(set(factors)) == 1 else tuple_text(factors)}")
        else:
            args.append(f"size={tuple_text(attrs.size or ())}")
        if attrs.mode == "nearest":
            args.append("mode='nearest'")
        else:
            args.append(f"mode='{ {1: 'linear', 2: 'bilinear', 3: 'trilinear'}[context.dims] }'")
            args.append(f"align_corners={bool(attrs.align_corners)}")
        return TorchCode(f"nn.Upsample({', '.join(args)})", f"{context.me}({context.inputs[0]})", True)
