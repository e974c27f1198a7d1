"""``crop``: drop pixels before and after each axis, by amounts or to another layer's size (centred)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field

from rfdesign.errors import SpecError
from rfdesign.ops._window import padding_value
from rfdesign.ops.registry import Attrs, Op, register
from rfdesign.ops.torch_code import TorchCode, TorchContext, tuple_text
from rfdesign.rf.geometry import LayerGeometry, size_text
from rfdesign.rf.maps import shift_map
from rfdesign.spec.fields import LayerBase, Padding
from rfdesign.spec.graph import Node
from rfdesign.spec.normalize import AttrReader


class CropLayer(LayerBase):
    op: Literal["crop"]
    crop: Padding = Field(None, description="rows/columns to drop, as padding")
    like: str | None = Field(None, description="centre-crop to the output size of this layer")


@dataclass(frozen=True, slots=True)
class CropAttrs(Attrs):
    """Exactly one of ``crop`` ((before, after) per axis) or ``like`` (a layer whose size to match)."""

    crop: tuple[tuple[int, int], ...] | None = None
    like: str | None = None

    def references(self) -> tuple[str, ...]:
        return () if self.like is None else (self.like,)

    def axis(self, axis: int) -> CropAttrs:
        return self if self.crop is None else CropAttrs((self.crop[axis],), self.like)

    def renamed(self, rename: Any) -> CropAttrs:
        return self if self.like is None else CropAttrs(self.crop, rename(self.like))


@register
class Crop(Op):
    name = "crop"
    layer = CropLayer
    attrs_type = CropAttrs
    summary = "drop pixels before and after each axis, or centre-crop to another layer's size"

    def normalize(self, layer: Any, read: AttrReader) -> CropAttrs:
        if (layer.crop is None) == (layer.like is None):
            raise SpecError("`crop` needs exactly one of `crop` (amounts) or `like` (a layer to match)", read.here())
        crop = read.padding("crop", layer.crop) if layer.crop is not None else None
        return CropAttrs(crop, layer.like)  # type: ignore[arg-type]

    def geometry(
        self, node: Node, sizes: list[tuple[int, ...]], channels: list[int], references: list[tuple[int, ...]]
    ) -> LayerGeometry:
        attrs: CropAttrs = node.attrs  # type: ignore[assignment]
        size = sizes[0]
        if attrs.crop is not None:
            pairs = attrs.crop
        else:
            like_size = references[0]
            found = []
            for axis, (n, m) in enumerate(zip(size, like_size)):
                if m > n:
                    raise SpecError(
                        f"layer `{node.name}` (crop): cannot crop {n} to the size {m} of `{attrs.like}` on axis {axis + 1}",
                        node.location,
                    )
                found.append(((n - m) // 2, n - m - (n - m) // 2))
            pairs = tuple(found)
        out = tuple(n - b - a for n, (b, a) in zip(size, pairs))
        if any(o < 1 for o in out):
            raise SpecError(
                f"layer `{node.name}` (crop): cropping {size_text(size)} by {list(pairs)} leaves nothing", node.location
            )
        return LayerGeometry(out, channels[0], tuple(shift_map(b) for b, _ in pairs), tuple(pairs), 0, 0)

    def layer_fields(self, attrs: Any) -> dict[str, Any]:
        if attrs.like is not None:
            return {"like": attrs.like}
        return {"crop": padding_value(attrs.crop)}

    def torch(self, node: Node, context: TorchContext) -> TorchCode:
        attrs: CropAttrs = node.attrs  # type: ignore[assignment]
        x = context.inputs[0]
        if attrs.like is not None:
            context.use("centre_crop")
            return TorchCode(None, f"centre_crop({x}, {context.references[0]})", False)
        context.use("crop")
        return TorchCode(None, f"crop({x}, {tuple_text(tuple_text(p) for p in attrs.crop or ())})", False)
