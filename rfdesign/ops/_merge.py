"""What add, concat and mul share: several inputs of one size joined unit by unit."""

from __future__ import annotations

from typing import Literal

from rfdesign.errors import SpecError
from rfdesign.rf.geometry import LayerGeometry, size_text
from rfdesign.spec.fields import LayerBase
from rfdesign.spec.graph import Node

ADD_NAMES = ("add", "sum")
CONCAT_NAMES = ("concat", "cat")
MUL_NAMES = ("mul", "multiply")


class MergeLayer(LayerBase):
    op: Literal[ADD_NAMES + CONCAT_NAMES + MUL_NAMES]  # type: ignore[valid-type]


def merge_geometry(
    node: Node, sizes: list[tuple[int, ...]], channels: list[int], out_channels: int, gating: bool = False
) -> LayerGeometry:
    """Inputs of equal size joined; with ``gating``, inputs of size 1 broadcast (global context gates).

    Unequal sizes are a located error (the channels are each op's to check).
    """
    gates: list[int] = []
    reference = None
    for index, size in enumerate(sizes):
        if gating and all(n == 1 for n in size) and any(any(n != 1 for n in s) for s in sizes):
            gates.append(index)
            continue
        if reference is None:
            reference = index
        elif size != sizes[reference]:
            raise SpecError(
                f"layer `{node.name}` ({node.op}): inputs differ in size: `{node.inputs[reference]}` is "
                f"{size_text(sizes[reference])}, `{node.inputs[index]}` is {size_text(size)}",
                node.location,
                "crop, pad or resample one branch so the sizes match",
            )
    assert reference is not None
    return LayerGeometry(sizes[reference], out_channels, (), None, 0, 0, tuple(gates))


def check_channels(node: Node, channels: list[int], counted: list[int]) -> None:
    """The inputs listed in ``counted`` must have the same channels."""
    if len({channels[i] for i in counted}) > 1:
        listing = ", ".join(f"`{node.inputs[i]}`: {channels[i]}" for i in range(len(channels)))
        raise SpecError(
            f"layer `{node.name}` ({node.op}): inputs differ in channels ({listing})",
            node.location,
            "add a 1x1 conv on one branch to match the channels, or use concat",
        )
