"""``identity``: a layer with no geometry and no parameters (activations, dropout, LRN …).

The op a spec names (``relu``, ``gelu``, ``dropout`` …) is kept as the node's
``source_op``, so exporters write the activation it is.
"""

from __future__ import annotations

from typing import Any, Literal

from rfdesign.ops.registry import Op, register
from rfdesign.ops.torch_code import TorchCode, TorchContext
from rfdesign.rf.geometry import IDENTITY_MAP, LayerGeometry
from rfdesign.spec.fields import LayerBase
from rfdesign.spec.graph import Node

#: pass-through activations and regularisers: no geometry, no parameters
ACTIVATIONS: tuple[str, ...] = (
    "relu", "relu6", "leaky_relu", "prelu", "elu", "selu", "celu", "gelu", "silu", "swish",
    "mish", "hardswish", "hard_swish", "sigmoid", "hardsigmoid", "hard_sigmoid", "tanh",
    "softmax", "log_softmax", "activation", "dropout", "dropout2d", "dropout3d",
    "alpha_dropout", "lrn", "local_response_norm",
)  # fmt: skip

#: spec pass-through op -> the torch.nn module written for it
TORCH_MODULES: dict[str, str] = {
    "relu": "nn.ReLU()", "relu6": "nn.ReLU6()", "leaky_relu": "nn.LeakyReLU()", "gelu": "nn.GELU()",
    "silu": "nn.SiLU()", "swish": "nn.SiLU()", "sigmoid": "nn.Sigmoid()", "tanh": "nn.Tanh()",
    "hardswish": "nn.Hardswish()", "hard_swish": "nn.Hardswish()", "hardsigmoid": "nn.Hardsigmoid()",
    "hard_sigmoid": "nn.Hardsigmoid()", "mish": "nn.Mish()", "elu": "nn.ELU()", "selu": "nn.SELU()",
    "celu": "nn.CELU()", "softmax": "nn.Softmax(dim=1)", "log_softmax": "nn.LogSoftmax(dim=1)",
    "dropout": "nn.Dropout()", "dropout2d": "nn.Dropout()", "dropout3d": "nn.Dropout()",
    "alpha_dropout": "nn.Dropout()", "lrn": "nn.LocalResponseNorm(5)", "local_response_norm": "nn.LocalResponseNorm(5)",
}  # fmt: skip

NAMES = ("identity", *ACTIVATIONS)


class IdentityLayer(LayerBase):
    op: Literal[NAMES]  # type: ignore[valid-type]


@register
class Identity(Op):
    name = NAMES[0]
    aliases = NAMES[1:]
    layer = IdentityLayer
    summary = "no geometry and no parameters: activations, dropout, local response normalisation"

    def geometry(
        self, node: Node, sizes: list[tuple[int, ...]], channels: list[int], references: list[tuple[int, ...]]
    ) -> LayerGeometry:
        size = sizes[0]
        return LayerGeometry(size, channels[0], (IDENTITY_MAP,) * len(size), None, 0, 0)

    def layer_fields(self, attrs: Any) -> dict[str, Any]:
        return {}

    def torch(self, node: Node, context: TorchContext) -> TorchCode:
        module = TORCH_MODULES.get(node.source_op, "nn.Identity()")
        return TorchCode(module, f"{context.me}({context.inputs[0]})", True)
