"""``depth_to_space``: channels move into blocks of ``factor`` pixels (pixel shuffle, sub-pixel upsampling)."""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Literal

from pydantic import BaseModel

from rfdesign.errors import SpecError
from rfdesign.ops import _shuffle
from rfdesign.ops.registry import Op, register
from rfdesign.ops.torch_code import TorchCode, TorchContext
from rfdesign.rf.geometry import LayerGeometry
from rfdesign.rf.maps import resample_map
from rfdesign.spec.fields import LayerBase, PerAxisInt
from rfdesign.spec.graph import Node
from rfdesign.spec.normalize import AttrReader

NAMES = ("depth_to_space", "pixel_shuffle")


class DepthToSpaceLayer(LayerBase):
    op: Literal[NAMES]  # type: ignore[valid-type]
    factor: PerAxisInt


@register
class DepthToSpace(Op):
    name = NAMES[0]
    aliases = NAMES[1:]
    layer = DepthToSpaceLayer
    attrs_type = _shuffle.ShuffleAttrs
    summary = "channels move into blocks of pixels (upsampling by factor, no parameters)"

    def normalize(self, layer: BaseModel, read: AttrReader) -> _shuffle.ShuffleAttrs:
        return _shuffle.read_shuffle(layer, read)

    def output_channels(self, attrs: Any, channels: list[int]) -> int:
        return channels[0] // attrs.block  # type: ignore[no-any-return]

    def geometry(
        self, node: Node, sizes: list[tuple[int, ...]], channels: list[int], references: list[tuple[int, ...]]
    ) -> LayerGeometry:
        attrs: _shuffle.ShuffleAttrs = node.attrs  # type: ignore[assignment]
        if channels[0] % attrs.block:
            raise SpecError(
                f"layer `{node.name}` (depth_to_space): {channels[0]} channels are not divisible by {attrs.block}",
                node.location,
            )
        out = tuple(n * f for n, f in zip(sizes[0], attrs.factor))
        maps = tuple(resample_map(1, f, Fraction(0), False) for f in attrs.factor)
        return LayerGeometry(out, self.output_channels(attrs, channels), maps, None, 0, 0)

    def layer_fields(self, attrs: Any) -> dict[str, Any]:
        return _shuffle.shuffle_fields(attrs)

    def torch(self, node: Node, context: TorchContext) -> TorchCode:
        return _shuffle.shuffle_torch(node.attrs, context, to_depth=False)  # type: ignore[arg-type]
