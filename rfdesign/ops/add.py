"""``add``: the element-wise sum of two or more inputs of the same size and channels (residuals)."""

from __future__ import annotations

from rfdesign.ops import _merge
from rfdesign.ops.registry import Op, register
from rfdesign.ops.torch_code import TorchCode, TorchContext
from rfdesign.rf.geometry import LayerGeometry
from rfdesign.spec.graph import Node


@register
class Add(Op):
    name = _merge.ADD_NAMES[0]
    aliases = _merge.ADD_NAMES[1:]
    layer = _merge.MergeLayer
    merge = True
    summary = "the sum of two or more inputs (residual connections)"

    def output_channels(self, attrs: object, channels: list[int]) -> int:
        return max(channels)

    def geometry(
        self, node: Node, sizes: list[tuple[int, ...]], channels: list[int], references: list[tuple[int, ...]]
    ) -> LayerGeometry:
        geometry = _merge.merge_geometry(node, sizes, channels, max(channels))
        _merge.check_channels(node, channels, list(range(len(sizes))))
        return geometry

    def torch(self, node: Node, context: TorchContext) -> TorchCode:
        return TorchCode(None, " + ".join(context.inputs), False)
