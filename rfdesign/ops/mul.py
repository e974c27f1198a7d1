"""``mul``: the element-wise product of inputs; an input of size 1 is a gate broadcast over the map.

A gate (squeeze-and-excitation, global context) makes every output unit
depend on the whole input through the gate's branch; the analysis reports it
as ``global_context`` and leaves the gate out of the receptive field.
"""

from __future__ import annotations

from rfdesign.ops import _merge
from rfdesign.ops.registry import Op, register
from rfdesign.ops.torch_code import TorchCode, TorchContext
from rfdesign.rf.geometry import LayerGeometry
from rfdesign.spec.graph import Node


@register
class Mul(Op):
    name = _merge.MUL_NAMES[0]
    aliases = _merge.MUL_NAMES[1:]
    layer = _merge.MergeLayer
    merge = True
    summary = "the product of inputs; a size-1 input is a gate broadcast over the map"

    def output_channels(self, attrs: object, channels: list[int]) -> int:
        return max(channels)

    def geometry(
        self, node: Node, sizes: list[tuple[int, ...]], channels: list[int], references: list[tuple[int, ...]]
    ) -> LayerGeometry:
        geometry = _merge.merge_geometry(node, sizes, channels, max(channels), gating=True)
        counted = [i for i, count in enumerate(channels) if count != 1]
        _merge.check_channels(node, channels, counted)
        return geometry

    def torch(self, node: Node, context: TorchContext) -> TorchCode:
        return TorchCode(None, " * ".join(context.inputs), False)
