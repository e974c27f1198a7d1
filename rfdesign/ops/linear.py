"""``linear``: a fully connected layer over the whole feature map (flatten + dense); output size 1."""

from __future__ import annotations

from dataclasses import dataclass
from math import prod
from typing import Any, Literal

from pydantic import StrictBool, StrictInt

from rfdesign.errors import SpecError
from rfdesign.ops.registry import Attrs, Op, register
from rfdesign.ops.torch_code import TorchCode, TorchContext
from rfdesign.rf.geometry import LayerGeometry
from rfdesign.rf.maps import window_map
from rfdesign.spec.fields import LayerBase
from rfdesign.spec.graph import Node
from rfdesign.spec.normalize import AttrReader

NAMES = ("linear", "dense", "fc")


class LinearLayer(LayerBase):
    op: Literal[NAMES]  # type: ignore[valid-type]
    out: StrictInt
    bias: StrictBool = True


@dataclass(frozen=True, slots=True)
class LinearAttrs(Attrs):
    out: int = 1
    bias: bool = True


@register
class Linear(Op):
    name = NAMES[0]
    aliases = NAMES[1:]
    layer = LinearLayer
    attrs_type = LinearAttrs
    summary = "a fully connected layer over the whole map (every unit sees everything)"

    def normalize(self, layer: Any, read: AttrReader) -> LinearAttrs:
        bias = read.flag("bias", layer.bias)
        if layer.out < 1:
            raise SpecError(f"`out` must be >= 1, got {layer.out}", read.at("out"))
        return LinearAttrs(layer.out, bias)

    def output_channels(self, attrs: Any, channels: list[int]) -> int:
        return attrs.out  # type: ignore[no-any-return]

    def geometry(
        self, node: Node, sizes: list[tuple[int, ...]], channels: list[int], references: list[tuple[int, ...]]
    ) -> LayerGeometry:
        attrs: LinearAttrs = node.attrs  # type: ignore[assignment]
        size = sizes[0]
        features = channels[0] * prod(size)
        maps = tuple(window_map(n, 0, n) for n in size)
        params = features * attrs.out + (attrs.out if attrs.bias else 0)
        return LayerGeometry((1,) * len(size), attrs.out, maps, None, params, features * attrs.out)

    def layer_fields(self, attrs: Any) -> dict[str, Any]:
        fields: dict[str, Any] = {"out": attrs.out}
        if not attrs.bias:
            fields["bias"] = False
        return fields

    def torch(self, node: Node, context: TorchContext) -> TorchCode:
        attrs: LinearAttrs = node.attrs  # type: ignore[assignment]
        features = context.in_channels * prod(context.in_size)
        bias = "" if attrs.bias else ", bias=False"
        ones = ", ".join(["1"] * context.dims)
        expr = f"{context.me}({context.inputs[0]}.flatten(1)).unflatten(1, ({attrs.out}, {ones}))"
        return TorchCode(f"nn.Linear({features}, {attrs.out}{bias})", expr, True)
