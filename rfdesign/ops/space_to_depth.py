"""``space_to_depth``: each block of ``factor`` pixels moves into the channels (pixel unshuffle, Darknet reorg)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from rfdesign.errors import SpecError
from rfdesign.ops import _shuffle
from rfdesign.ops.registry import Op, register
from rfdesign.ops.torch_code import TorchCode, TorchContext
from rfdesign.rf.geometry import LayerGeometry
from rfdesign.rf.maps import window_map
from rfdesign.spec.fields import LayerBase, PerAxisInt
from rfdesign.spec.graph import Node
from rfdesign.spec.normalize import AttrReader

NAMES = ("space_to_depth", "reorg", "pixel_unshuffle")


class SpaceToDepthLayer(LayerBase):
    op: Literal[NAMES]  # type: ignore[valid-type]
    factor: PerAxisInt


@register
class SpaceToDepth(Op):
    name = NAMES[0]
    aliases = NAMES[1:]
    layer = SpaceToDepthLayer
    attrs_type = _shuffle.ShuffleAttrs
    summary = "blocks of pixels move into the channels (stride = factor, no parameters)"

    def normalize(self, layer: BaseModel, read: AttrReader) -> _shuffle.ShuffleAttrs:
        return _shuffle.read_shuffle(layer, read)

    def output_channels(self, attrs: Any, channels: list[int]) -> int:
        return channels[0] * attrs.block  # type: ignore[no-any-return]

    def geometry(
        self, node: Node, sizes: list[tuple[int, ...]], channels: list[int], references: list[tuple[int, ...]]
    ) -> LayerGeometry:
        attrs: _shuffle.ShuffleAttrs = node.attrs  # type: ignore[assignment]
        size = sizes[0]
        for axis, (n, f) in enumerate(zip(size, attrs.factor)):
            if n % f:
                raise SpecError(
                    f"layer `{node.name}` (space_to_depth): input size {n} on axis {axis + 1} is not a multiple of {f}",
                    node.location,
                )
        out = tuple(n // f for n, f in zip(size, attrs.factor))
        maps = tuple(window_map(f, 0, f) for f in attrs.factor)
        return LayerGeometry(out, self.output_channels(attrs, channels), maps, None, 0, 0)

    def layer_fields(self, attrs: Any) -> dict[str, Any]:
        return _shuffle.shuffle_fields(attrs)

    def torch(self, node: Node, context: TorchContext) -> TorchCode:
        return _shuffle.shuffle_torch(node.attrs, context, to_depth=True)  # type: ignore[arg-type]
