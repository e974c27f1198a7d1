"""The ``target:`` block: per-axis ranges for receptive field, output size and stride.

A target value is an int (exact), ``{min: a, max: b}`` (either bound may be
omitted), or a list with one of those per spatial axis.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rfdesign.errors import SpecError
from rfdesign.spec.graph import Graph

Bounds = tuple[int | None, int | None]


@dataclass(frozen=True)
class AxisTargets:
    """Per axis (min, max) bounds; None where the target says nothing."""

    receptive_field: tuple[Bounds, ...] | None
    output_size: tuple[Bounds, ...] | None
    effective_stride: tuple[Bounds, ...] | None


def within(value: Any, bounds: Bounds) -> bool:
    """Whether ``value`` meets (min, max) bounds (None: no bound on that side)."""
    low, high = bounds
    return (low is None or value >= low) and (high is None or value <= high)


def bounds_text(bounds: Bounds) -> str:
    """``14``, ``at least 200``, ``at most 220`` or ``[200, 220]``."""
    low, high = bounds
    if low == high:
        return str(low)
    if low is None:
        return f"at most {high}"
    if high is None:
        return f"at least {low}"
    return f"[{low}, {high}]"


def _bound(value: Any, what: str, path: tuple[Any, ...], graph: Graph) -> Bounds:
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            raise SpecError(f"`target.{what}` must be >= 1, got {value}", graph.locate(path))
        return (value, value)
    if isinstance(value, dict):
        extra = set(value) - {"min", "max"}
        if extra:
            raise SpecError(f"`target.{what}`: unknown key `{sorted(extra)[0]}` (use min and max)", graph.locate(path))
        low, high = value.get("min"), value.get("max")
        for bound in (low, high):
            if bound is not None and (not isinstance(bound, int) or isinstance(bound, bool) or bound < 1):
                raise SpecError(f"`target.{what}`: min and max must be ints >= 1", graph.locate(path))
        if low is not None and high is not None and low > high:
            raise SpecError(f"`target.{what}`: min {low} is above max {high}", graph.locate(path))
        return (low, high)
    raise SpecError(
        f"`target.{what}` must be an int, {{min: a, max: b}}, or a list of those per axis, got {value!r}",
        graph.locate(path),
    )


def axis_bounds(value: Any, what: str, graph: Graph, path: tuple[Any, ...]) -> tuple[Bounds, ...] | None:
    """Parse one target value into per-axis bounds."""
    if value is None:
        return None
    dims = graph.dims
    if isinstance(value, list):
        if len(value) != dims:
            raise SpecError(
                f"`target.{what}` has {len(value)} entries but the network has {dims} spatial axes",
                graph.locate(path),
            )
        return tuple(_bound(item, what, path + (i,), graph) for i, item in enumerate(value))
    return (_bound(value, what, path, graph),) * dims


def targets(graph: Graph) -> AxisTargets:
    """The spec's targets as per-axis bounds (all None without a ``target:`` block)."""
    target = graph.target
    if target is None:
        return AxisTargets(None, None, None)
    return AxisTargets(
        axis_bounds(target.receptive_field, "receptive_field", graph, ("target", "receptive_field")),
        axis_bounds(target.output_size, "output_size", graph, ("target", "output_size")),
        axis_bounds(target.effective_stride, "effective_stride", graph, ("target", "effective_stride")),
    )
