"""``concat``: two or more inputs of the same size stacked along the channels."""

from __future__ import annotations

from rfdesign.ops import _merge
from rfdesign.ops.registry import Op, register
from rfdesign.ops.torch_code import TorchCode, TorchContext
from rfdesign.rf.geometry import LayerGeometry
from rfdesign.spec.graph import Node


@register
class Concat(Op):
    name = _merge.CONCAT_NAMES[0]
    aliases = _merge.CONCAT_NAMES[1:]
    layer = _merge.MergeLayer
    merge = True
    summary = "two or more inputs stacked along the channels (inception branches, U-Net skips)"

    def output_channels(self, attrs: object, channels: list[int]) -> int:
        return sum(channels)

    def geometry(
        self, node: Node, sizes: list[tuple[int, ...]], channels: list[int], references: list[tuple[int, ...]]
    ) -> LayerGeometry:
        return _merge.merge_geometry(node, sizes, channels, sum(channels))

    def torch(self, node: Node, context: TorchContext) -> TorchCode:
        return TorchCode(None, f"torch.cat([{', '.join(context.inputs)}], dim=1)", False)
