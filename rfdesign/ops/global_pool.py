"""``global_pool``: one value per channel from the whole feature map (average or max)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from rfdesign.ops.registry import Attrs, Op, register
from rfdesign.ops.torch_code import TorchCode, TorchContext
from rfdesign.rf.geometry import LayerGeometry
from rfdesign.rf.maps import window_map
from rfdesign.spec.fields import LayerBase
from rfdesign.spec.graph import Node
from rfdesign.spec.normalize import AttrReader

NAMES = ("global_pool", "global_avgpool", "global_avg_pool", "global_maxpool", "global_max_pool")


class GlobalPoolLayer(LayerBase):
    op: Literal[NAMES]  # type: ignore[valid-type]
    mode: Literal["avg", "max"] | None = None


@dataclass(frozen=True, slots=True)
class GlobalPoolAttrs(Attrs):
    mode: str = "avg"  # "avg" or "max"


@register
class GlobalPool(Op):
    name = NAMES[0]
    aliases = NAMES[1:]
    layer = GlobalPoolLayer
    attrs_type = GlobalPoolAttrs
    summary = "the average (or max) of each channel over the whole map: output size 1"

    def normalize(self, layer: Any, read: AttrReader) -> GlobalPoolAttrs:
        return GlobalPoolAttrs(layer.mode or ("max" if "max" in layer.op else "avg"))

    def geometry(
        self, node: Node, sizes: list[tuple[int, ...]], channels: list[int], references: list[tuple[int, ...]]
    ) -> LayerGeometry:
        size = sizes[0]
        maps = tuple(window_map(n, 0, n) for n in size)
        return LayerGeometry((1,) * len(size), channels[0], maps, None, 0, 0)

    def layer_fields(self, attrs: Any) -> dict[str, Any]:
        return {"mode": attrs.mode}

    def torch(self, node: Node, context: TorchContext) -> TorchCode:
        kind = "Max" if node.attrs.mode == "max" else "Avg"  # type: ignore[attr-defined]
        return TorchCode(f"nn.Adaptive{kind}Pool{context.dims}d(1)", f"{context.me}({context.inputs[0]})", True)
