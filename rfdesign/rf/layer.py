"""Per-node geometry, dispatched to each op's own (:mod:`rfdesign.ops`).

:func:`resolve_layer` returns a :class:`~rfdesign.rf.geometry.LayerGeometry`
(output size, exact index maps, resolved padding, channels, cost); a
geometry that cannot exist (an empty output, inputs of different sizes
joined, channels not divisible by groups) is a located :class:`SpecError`.
The arithmetic itself lives in :mod:`rfdesign.rf.geometry` and in the ops.
"""

from __future__ import annotations

from rfdesign.ops.registry import op_for
from rfdesign.rf.geometry import (
    IDENTITY_MAP,
    LayerGeometry,
    same_padding,
    window_size,
)
from rfdesign.spec.graph import Node

__all__ = ["IDENTITY_MAP", "LayerGeometry", "output_channels", "resolve_layer", "same_padding", "window_size"]


def output_channels(node: Node, channels: list[int]) -> int:
    """The channels a node outputs given its inputs' channels (in ``node.inputs`` order)."""
    return op_for(node.op).output_channels(node.attrs, channels)


def resolve_layer(
    node: Node,
    sizes: list[tuple[int, ...]],
    channels: list[int],
    like_size: tuple[int, ...] | None = None,
) -> LayerGeometry:
    """Geometry of ``node`` given its inputs' sizes and channels (in ``node.inputs`` order).

    ``like_size`` is the size of the node's reference (a crop's ``like``), if it has one.
    """
    references = [like_size] if like_size is not None else []
    return op_for(node.op).geometry(node, sizes, channels, references)
