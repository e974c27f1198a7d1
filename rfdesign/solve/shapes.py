"""One layer's effect on one axis for one choice: the solvers' shared arithmetic.

A *shape* is a feature map's size and effective stride along an axis. For a
choice of kernel, stride and dilation, :func:`step` gives the next shape and
how the first and last input pixel of unit 0's region move (``dlo``,
``dhi``), following the RF engine's rules (PyTorch sizes, TensorFlow's
``same`` split decided by the size).
"""

from __future__ import annotations

from dataclasses import dataclass

from rfdesign.rf.geometry import effective_kernel, window_axis
from rfdesign import ops
from rfdesign.spec.graph import Node

WINDOW = frozenset({ops.CONV, ops.MAXPOOL, ops.AVGPOOL})


@dataclass(frozen=True)
class Shape:
    """Size and effective stride of a feature map along one axis."""

    size: int
    stride: int


@dataclass(frozen=True)
class Effect:
    shape: Shape
    dlo: int  # change of the first input pixel of unit 0's region
    dhi: int  # change of the last one

    @property
    def growth(self) -> int:
        """How much the receptive field grows."""
        return self.dhi - self.dlo


def step(node: Node, axis: int, shape: Shape, kernel: int, stride: int, dilation: int) -> Effect | None:
    """The effect of ``node`` with these values on ``shape`` (None when its output would be empty)."""
    n, scale = shape.size, shape.stride
    attrs = node.attrs
    if node.op == ops.PAD:
        before, after = attrs.padding[axis]
        return Effect(Shape(n + before + after, scale), -before * scale, -before * scale)
    if node.op not in WINDOW:
        return Effect(shape, 0, 0)
    out, (before, _) = window_axis(attrs.padding, axis, n, kernel, stride, dilation, attrs.ceil_mode)
    if out < 1:
        return None
    effective = effective_kernel(kernel, dilation)
    return Effect(Shape(out, scale * stride), -before * scale, (effective - 1 - before) * scale)
