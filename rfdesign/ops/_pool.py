"""What max and average pooling share: a window without weights, PyTorch's ``ceil_mode``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field, StrictBool

from rfdesign.ops import _window
from rfdesign.ops._window import WindowAttrs
from rfdesign.ops.torch_code import TorchCode, TorchContext, axes_text, tuple_text
from rfdesign.rf.geometry import LayerGeometry
from rfdesign.spec.fields import LayerBase, Padding, PerAxisInt
from rfdesign.spec.graph import Node
from rfdesign.spec.normalize import AttrReader

MAXPOOL_NAMES = ("maxpool", "max_pool")
AVGPOOL_NAMES = ("avgpool", "avg_pool")


class PoolLayer(LayerBase):
    op: Literal[MAXPOOL_NAMES + AVGPOOL_NAMES]  # type: ignore[valid-type]
    kernel: PerAxisInt
    stride: PerAxisInt = Field(None, description="default: the kernel")
    padding: Padding = 0
    dilation: PerAxisInt = 1
    ceil_mode: StrictBool = False


@dataclass(frozen=True, slots=True)
class PoolAttrs(WindowAttrs):
    """A pooling window (``ceil_mode`` may be set)."""


def read_pool(layer: Any, read: AttrReader) -> PoolAttrs:
    values = _window.read_window(layer, read)
    values["stride"] = values["kernel"] if layer.stride is None else read.ints("stride", layer.stride)
    values["ceil_mode"] = read.flag("ceil_mode", layer.ceil_mode)
    return PoolAttrs(**values)


def make_pool(dims: int, values: dict[str, Any]) -> PoolAttrs:
    values = dict(values)
    if "stride" not in values and "kernel" in values:
        values["stride"] = values["kernel"]
    return PoolAttrs(**_window.window_defaults(dims, values))


def pool_geometry(node: Node, sizes: list[tuple[int, ...]], channels: list[int]) -> LayerGeometry:
    attrs: PoolAttrs = node.attrs  # type: ignore[assignment]
    for attr in _window.WINDOW_ATTRS:
        attrs.ints(node, attr)
    axes = [_window.forward_axis(node, attrs, axis, n, attrs.ceil_mode) for axis, n in enumerate(sizes[0])]
    return LayerGeometry(
        tuple(a[0] for a in axes), channels[0], tuple(a[2] for a in axes), tuple(a[1] for a in axes), 0, 0
    )


def pool_fields(attrs: PoolAttrs) -> dict[str, Any]:
    fields = _window.window_fields(attrs, attrs.kernel)
    if attrs.ceil_mode:
        fields["ceil_mode"] = True
    return fields


def pool_torch(node: Node, attrs: PoolAttrs, context: TorchContext, is_max: bool) -> TorchCode:
    """``nn.MaxPoolNd`` / ``nn.AvgPoolNd``, with explicit padding where PyTorch's own cannot express it."""
    from rfdesign.ops.conv import geometry_pairs

    d = context.dims
    x, me = context.inputs[0], context.me
    kernel, stride, dilation = (tuple(int(v) for v in getattr(attrs, a)) for a in _window.WINDOW_ATTRS)
    k, s, dl = tuple_text(kernel), tuple_text(stride), tuple_text(dilation)
    dilated = any(v != 1 for v in dilation)

    def module(padding: str | None, ceil: bool) -> str:
        args = [f"kernel_size={axes_text(kernel)}"]
        if stride != kernel:
            args.append(f"stride={axes_text(stride)}")
        if padding:
            args.append(f"padding={padding}")
        if dilated:
            args.append(f"dilation={axes_text(dilation)}")
        if ceil:
            args.append("ceil_mode=True")
        return f"nn.{'Max' if is_max else 'Avg'}Pool{d}d({', '.join(args)})"

    if attrs.padding == "same":
        if is_max:
            context.use("same_pad")
            return TorchCode(module(None, False), f"{me}(same_pad({x}, {k}, {s}, {dl}, value=float('-inf')))", True)
        context.use("same_avg_pool")
        return TorchCode(None, f"same_avg_pool({x}, {k}, {s}, {dl})", False)
    pairs = geometry_pairs(node, attrs, context, transposed=False)
    symmetric = all(b == a for b, a in pairs)
    native = symmetric and all(2 * b <= kk for (b, _), kk in zip(pairs, kernel)) and (is_max or not dilated)
    if native:
        padding = axes_text(tuple(b for b, _ in pairs)) if any(b for b, _ in pairs) else None
        return TorchCode(module(padding, attrs.ceil_mode), f"{me}({x})", True)
    context.use("pool_pad")
    fill = "float('-inf')" if is_max else "0.0"
    padded = f"pool_pad({x}, {k}, {s}, {dl}, {tuple_text(tuple_text(p) for p in pairs)}, {attrs.ceil_mode}, {fill})"
    if is_max or not dilated:
        return TorchCode(module(None, False), f"{me}({padded})", True)
    context.use("avg_pool")
    return TorchCode(None, f"avg_pool({padded}, {k}, {s}, {dl})", False)
