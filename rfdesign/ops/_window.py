"""What convolutions and pooling windows share: kernel, stride, dilation, padding, and their holes.

The four window ops (conv, conv_transpose, maxpool, avgpool) each have their
own module; this one holds their common attributes, parsing, per-axis
geometry and YAML fields, so the four cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from rfdesign.errors import SpecError
from rfdesign.ops.registry import Attrs
from rfdesign.rf.geometry import effective_kernel, transposed_rule_crop, transposed_size, window_axis
from rfdesign.rf.maps import OpMap, transposed_map, window_map
from rfdesign.spec.graph import Choice, Dim, Node, PaddingSpec
from rfdesign.spec.normalize import PADDING_RULES, AttrReader

WINDOW_ATTRS = ("kernel", "stride", "dilation")


@dataclass(frozen=True, slots=True)
class WindowAttrs(Attrs):
    """Per-axis kernel, stride and dilation (ints or solver holes) and the padding.

    ``padding`` is a (before, after) pair per axis or a rule resolved against
    the input size and the effective kernel (``same``, ``causal``,
    ``anticausal``). ``tied`` names the attributes written as one
    ``{choose: ...}`` for every axis (one hole, not one per axis).
    ``ceil_mode`` (pooling only) keeps a last, partial window (PyTorch's rule).
    """

    kernel: tuple[Dim, ...]
    stride: tuple[Dim, ...]
    dilation: tuple[Dim, ...]
    padding: PaddingSpec
    tied: frozenset[str] = frozenset()
    ceil_mode: bool = False

    def choices(self) -> dict[str, tuple[Any, ...]]:
        return {attr: getattr(self, attr) for attr in WINDOW_ATTRS}

    def axis(self, axis: int) -> WindowAttrs:
        padding = self.padding if isinstance(self.padding, str) else (self.padding[axis],)
        return replace(
            self,
            kernel=(self.kernel[axis],),
            stride=(self.stride[axis],),
            dilation=(self.dilation[axis],),
            padding=padding,
        )

    def free(self) -> list[str]:
        """The attributes that still hold a hole."""
        return [attr for attr in WINDOW_ATTRS if any(isinstance(v, Choice) for v in getattr(self, attr))]

    def ints(self, node: Node, attr: str) -> tuple[int, ...]:
        """``attr`` as ints; a remaining hole is a located error."""
        values = getattr(self, attr)
        for value in values:
            if isinstance(value, Choice):
                raise SpecError(
                    f"layer `{node.name}`: `{attr}` is still a free choice {value}",
                    node.location,
                    "run `rfdesign solve` to fill it, then analyze the proposal",
                )
        return values  # type: ignore[no-any-return]


def read_window(layer: Any, read: AttrReader) -> dict[str, Any]:
    """kernel, dilation, padding and tied of a window layer (stride is the op's: pools default to the kernel)."""
    return {
        "tied": frozenset(attr for attr in WINDOW_ATTRS if isinstance(getattr(layer, attr), dict)),
        "kernel": read.ints("kernel", layer.kernel),
        "dilation": read.ints("dilation", layer.dilation),
        "padding": read.padding("padding", layer.padding, PADDING_RULES),
    }


def window_defaults(dims: int, values: dict[str, Any]) -> dict[str, Any]:
    """Keyword values for a window's attributes, the spec's defaults filling the rest."""
    values = dict(values)
    values.setdefault("stride", (1,) * dims)
    values.setdefault("dilation", (1,) * dims)
    values.setdefault("padding", ((0, 0),) * dims)
    return values


def empty_output(node: Node, axis: int, size: int, pads: tuple[int, int], effective: int) -> SpecError:
    return SpecError(
        f"layer `{node.name}` ({node.op}): the output would be empty on axis {axis + 1}: input {size}"
        f" + padding {pads[0]}+{pads[1]} is smaller than the effective kernel {effective}",
        node.location,
        "use a smaller kernel or stride earlier, more padding, or a larger input",
    )


def forward_axis(
    node: Node, attrs: WindowAttrs, axis: int, size: int, ceil_mode: bool = False
) -> tuple[int, tuple[int, int], OpMap]:
    """Output size, resolved padding and index map of a (non-transposed) window on one axis."""
    k, s, d = (int(getattr(attrs, attr)[axis]) for attr in WINDOW_ATTRS)
    out, pair = window_axis(attrs.padding, axis, size, k, s, d, ceil_mode)
    effective = effective_kernel(k, d)
    if out < 1:
        raise empty_output(node, axis, size, pair, effective)
    return out, pair, window_map(s, pair[0], effective, d)


def transposed_axis(
    node: Node, attrs: WindowAttrs, axis: int, size: int, output_padding: int
) -> tuple[int, tuple[int, int], OpMap]:
    """Output size, resolved crop and index map of a transposed window on one axis."""
    k, s, d = (int(getattr(attrs, attr)[axis]) for attr in WINDOW_ATTRS)
    effective = effective_kernel(k, d)
    if isinstance(attrs.padding, str):
        pair = transposed_rule_crop(attrs.padding, s, effective)
        out = size * s
    else:
        pair = attrs.padding[axis]
        if output_padding >= max(s, d):
            raise SpecError(
                f"layer `{node.name}`: output_padding {output_padding} must be smaller than stride or dilation",
                node.location,
            )
        out = transposed_size(size, s, effective, pair, output_padding)
        if out < 1:
            raise SpecError(
                f"layer `{node.name}` (conv_transpose): the output would be empty on axis {axis + 1}",
                node.location,
                "use less padding",
            )
    return out, pair, transposed_map(s, pair[0], k, d)


def axes_value(values: tuple[Any, ...]) -> Any:
    """Per-axis values as the spec writes them: one value when every axis agrees."""
    plain = [{"choose": list(v.options)} if isinstance(v, Choice) else v for v in values]
    if len({repr(v) for v in plain}) == 1:
        return plain[0]
    return plain


def padding_value(padding: Any) -> Any:
    """Padding as the spec writes it (a rule name, one int, ints per axis, or [before, after] pairs)."""
    if isinstance(padding, str):
        return padding
    pairs = list(padding)
    if all(before == after for before, after in pairs):
        return axes_value(tuple(before for before, _ in pairs))
    return [[before, after] for before, after in pairs]


def window_fields(attrs: WindowAttrs, default_stride: tuple[Any, ...]) -> dict[str, Any]:
    """kernel, stride, dilation and padding as spec keys, defaults left out."""
    fields: dict[str, Any] = {"kernel": axes_value(attrs.kernel)}
    if attrs.stride != default_stride:
        fields["stride"] = axes_value(attrs.stride)
    if any(d != 1 for d in attrs.dilation):
        fields["dilation"] = axes_value(attrs.dilation)
    padding = padding_value(attrs.padding)
    if padding != 0:
        fields["padding"] = padding
    return fields
