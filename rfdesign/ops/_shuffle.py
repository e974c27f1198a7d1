"""What space_to_depth and depth_to_space share: a block of ``factor`` pixels per axis moves to or from channels."""

from __future__ import annotations

from dataclasses import dataclass
from math import prod
from typing import Any

from rfdesign.ops._window import axes_value
from rfdesign.ops.registry import Attrs
from rfdesign.ops.torch_code import TorchCode, TorchContext, tuple_text
from rfdesign.spec.normalize import AttrReader


@dataclass(frozen=True, slots=True)
class ShuffleAttrs(Attrs):
    factor: tuple[int, ...] = ()  # block size per axis

    def axis(self, axis: int) -> ShuffleAttrs:
        return ShuffleAttrs((self.factor[axis],))

    @property
    def block(self) -> int:
        return prod(self.factor)


def read_shuffle(layer: Any, read: AttrReader) -> ShuffleAttrs:
    return ShuffleAttrs(read.fixed_ints("factor", layer.factor))


def shuffle_fields(attrs: ShuffleAttrs) -> dict[str, Any]:
    return {"factor": axes_value(attrs.factor)}


def shuffle_torch(attrs: ShuffleAttrs, context: TorchContext, to_depth: bool) -> TorchCode:
    """``nn.PixelUnshuffle``/``nn.PixelShuffle`` in 2-D with one factor, else the exporter's helper."""
    factor = tuple(attrs.factor)
    x = context.inputs[0]
    if context.dims == 2 and len(set(factor)) == 1:
        module = "nn.PixelUnshuffle" if to_depth else "nn.PixelShuffle"
        return TorchCode(f"{module}({factor[0]})", f"{context.me}({x})", True)
    helper = "space_to_depth" if to_depth else "depth_to_space"
    context.use(helper)
    return TorchCode(None, f"{helper}({x}, {tuple_text(factor)})", False)
