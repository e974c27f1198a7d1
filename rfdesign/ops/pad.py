"""``pad``: zero padding before and after each axis (a shift of the unit indices)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from rfdesign.ops._window import padding_value
from rfdesign.ops.registry import Attrs, Op, register
from rfdesign.ops.torch_code import TorchCode, TorchContext, flat_pads_text
from rfdesign.rf.geometry import LayerGeometry
from rfdesign.rf.maps import shift_map
from rfdesign.spec.fields import LayerBase, Padding
from rfdesign.spec.graph import Node
from rfdesign.spec.normalize import AttrReader

NAMES = ("pad", "zero_pad", "zeropad")


class PadLayer(LayerBase):
    op: Literal[NAMES]  # type: ignore[valid-type]
    padding: Padding


@dataclass(frozen=True, slots=True)
class PadAttrs(Attrs):
    padding: tuple[tuple[int, int], ...] = ()  # (before, after) per axis

    def axis(self, axis: int) -> PadAttrs:
        return PadAttrs((self.padding[axis],))


@register
class Pad(Op):
    name = NAMES[0]
    aliases = NAMES[1:]
    layer = PadLayer
    attrs_type = PadAttrs
    summary = "zero padding before and after each axis"

    def normalize(self, layer: Any, read: AttrReader) -> PadAttrs:
        return PadAttrs(read.padding("padding", layer.padding))  # type: ignore[arg-type]

    def geometry(
        self, node: Node, sizes: list[tuple[int, ...]], channels: list[int], references: list[tuple[int, ...]]
    ) -> LayerGeometry:
        pads = node.attrs.padding  # type: ignore[attr-defined]
        out = tuple(n + b + a for n, (b, a) in zip(sizes[0], pads))
        return LayerGeometry(out, channels[0], tuple(shift_map(-b) for b, _ in pads), pads, 0, 0)

    def layer_fields(self, attrs: Any) -> dict[str, Any]:
        return {"padding": padding_value(attrs.padding)}

    def torch(self, node: Node, context: TorchContext) -> TorchCode:
        pairs = tuple(node.attrs.padding)  # type: ignore[attr-defined]
        module = f"nn.ConstantPad{context.dims}d({flat_pads_text(pairs)}, 0.0)"
        return TorchCode(module, f"{context.me}({context.inputs[0]})", True)
