"""``norm``: a channel-wise normalisation (batch, layer, group, instance norm): no geometry, 2C parameters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import StrictBool

from rfdesign.ops.registry import Attrs, Op, register
from rfdesign.ops.torch_code import TorchCode, TorchContext
from rfdesign.rf.geometry import IDENTITY_MAP, LayerGeometry
from rfdesign.spec.fields import LayerBase
from rfdesign.spec.graph import Node
from rfdesign.spec.normalize import AttrReader

NAMES = (
    "norm", "batchnorm", "batch_norm", "bn", "layernorm", "layer_norm", "groupnorm", "group_norm",
    "instancenorm", "instance_norm",
)  # fmt: skip


class NormLayer(LayerBase):
    op: Literal[NAMES]  # type: ignore[valid-type]
    affine: StrictBool = True


@dataclass(frozen=True, slots=True)
class NormAttrs(Attrs):
    affine: bool = True  # a learned scale and shift per channel (2 C parameters)


@register
class Norm(Op):
    name = NAMES[0]
    aliases = NAMES[1:]
    layer = NormLayer
    attrs_type = NormAttrs
    summary = "a channel-wise normalisation: no geometry, 2 parameters per channel when affine"

    def normalize(self, layer: Any, read: AttrReader) -> NormAttrs:
        return NormAttrs(read.flag("affine", layer.affine))

    def parameters(self, attrs: NormAttrs, in_channels: int) -> int:
        return 2 * in_channels if attrs.affine else 0

    def geometry(
        self, node: Node, sizes: list[tuple[int, ...]], channels: list[int], references: list[tuple[int, ...]]
    ) -> LayerGeometry:
        size = sizes[0]
        params = self.parameters(node.attrs, channels[0])  # type: ignore[arg-type]
        return LayerGeometry(size, channels[0], (IDENTITY_MAP,) * len(size), None, params, 0)

    def layer_fields(self, attrs: Any) -> dict[str, Any]:
        return {} if attrs.affine else {"affine": False}

    def torch(self, node: Node, context: TorchContext) -> TorchCode:
        affine = "" if node.attrs.affine else ", affine=False"  # type: ignore[attr-defined]
        return TorchCode(f"nn.BatchNorm{context.dims}d({context.in_channels}{affine})", f"{context.me}({context.inputs[0]})", True)
