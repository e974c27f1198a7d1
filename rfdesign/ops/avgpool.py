"""``avgpool``: average pooling over a window (kernel, stride, padding, dilation, ceil_mode)."""

from __future__ import annotations

from typing import Any

from rfdesign.ops import _pool
from rfdesign.ops.registry import Op, register
from rfdesign.ops.torch_code import TorchCode, TorchContext
from rfdesign.rf.geometry import LayerGeometry
from rfdesign.spec.graph import Node
from rfdesign.spec.normalize import AttrReader


@register
class AvgPool(Op):
    name = _pool.AVGPOOL_NAMES[0]
    aliases = _pool.AVGPOOL_NAMES[1:]
    layer = _pool.PoolLayer
    attrs_type = _pool.PoolAttrs
    window = True
    summary = "the mean of each window"

    def normalize(self, layer: Any, read: AttrReader) -> _pool.PoolAttrs:
        return _pool.read_pool(layer, read)

    def make(self, dims: int, **values: Any) -> _pool.PoolAttrs:
        return _pool.make_pool(dims, values)

    def geometry(
        self, node: Node, sizes: list[tuple[int, ...]], channels: list[int], references: list[tuple[int, ...]]
    ) -> LayerGeometry:
        return _pool.pool_geometry(node, sizes, channels)

    def layer_fields(self, attrs: Any) -> dict[str, Any]:
        return _pool.pool_fields(attrs)

    def torch(self, node: Node, context: TorchContext) -> TorchCode:
        return _pool.pool_torch(node, node.attrs, context, is_max=False)  # type: ignore[arg-type]
