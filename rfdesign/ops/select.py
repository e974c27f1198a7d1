"""``select``: a contiguous range of channels (route groups, channel splits); no geometry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field, StrictInt

from rfdesign.errors import SpecError
from rfdesign.ops.registry import Attrs, Op, register
from rfdesign.ops.torch_code import TorchCode, TorchContext
from rfdesign.rf.geometry import IDENTITY_MAP, LayerGeometry
from rfdesign.spec.fields import LayerBase
from rfdesign.spec.graph import Node
from rfdesign.spec.normalize import AttrReader

NAMES = ("select", "slice", "channel_slice")


class SelectLayer(LayerBase):
    op: Literal[NAMES]  # type: ignore[valid-type]
    start: StrictInt = Field(0, description="first channel kept (0-based)")
    stop: StrictInt | None = Field(None, description="one past the last channel kept; default: all")


@dataclass(frozen=True, slots=True)
class SelectAttrs(Attrs):
    start: int = 0  # first channel kept
    stop: int | None = None  # one past the last channel kept (None: to the end)


@register
class Select(Op):
    name = NAMES[0]
    aliases = NAMES[1:]
    layer = SelectLayer
    attrs_type = SelectAttrs
    summary = "a contiguous range of channels"

    def normalize(self, layer: Any, read: AttrReader) -> SelectAttrs:
        start, stop = layer.start, layer.stop
        if start < 0 or (stop is not None and stop <= start):
            raise SpecError(f"`select` needs 0 <= start < stop, got start {start}, stop {stop}", read.here())
        return SelectAttrs(start, stop)

    def output_channels(self, attrs: Any, channels: list[int]) -> int:
        stop = channels[0] if attrs.stop is None else min(attrs.stop, channels[0])
        return stop - attrs.start  # type: ignore[no-any-return]

    def geometry(
        self, node: Node, sizes: list[tuple[int, ...]], channels: list[int], references: list[tuple[int, ...]]
    ) -> LayerGeometry:
        attrs: SelectAttrs = node.attrs  # type: ignore[assignment]
        if attrs.start >= channels[0]:
            raise SpecError(
                f"layer `{node.name}` (select): start {attrs.start} is past the input's {channels[0]} channels",
                node.location,
            )
        size = sizes[0]
        return LayerGeometry(size, self.output_channels(attrs, channels), (IDENTITY_MAP,) * len(size), None, 0, 0)

    def layer_fields(self, attrs: Any) -> dict[str, Any]:
        fields: dict[str, Any] = {"start": attrs.start}
        if attrs.stop is not None:
            fields["stop"] = attrs.stop
        return fields

    def torch(self, node: Node, context: TorchContext) -> TorchCode:
        attrs: SelectAttrs = node.attrs  # type: ignore[assignment]
        stop = "" if attrs.stop is None else str(attrs.stop)
        return TorchCode(None, f"{context.inputs[0]}[:, {attrs.start}:{stop}]", False)
