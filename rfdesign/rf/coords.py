"""Coordinates both ways: output unit -> input box, input pixel -> output units.

Boxes are inclusive ``(first, last)`` pixel ranges per axis, in the input's
coordinates; they may start below 0 or end past the input (padding). A box
is the extent of the unit's region (see :mod:`rfdesign.rf.maps`).
"""

from __future__ import annotations

from rfdesign.errors import SpecError
from rfdesign.rf.analysis import LayerResult, Region


def _lo(region: Region, v: int) -> int | None:
    values = [x for x in (g.lo_at(v) for g in region) if x is not None]
    return min(values) if values else None


def _hi(region: Region, v: int) -> int | None:
    values = [x for x in (g.hi_at(v) for g in region) if x is not None]
    return max(values) if values else None


def _check_unit(layer: LayerResult, unit: tuple[int, ...]) -> None:
    size = layer.output_size
    if len(unit) != len(size):
        raise SpecError(f"a unit of `{layer.name}` has {len(size)} coordinates, got {len(unit)}")
    for axis, (u, n) in enumerate(zip(unit, size)):
        if not 0 <= u < n:
            raise SpecError(
                f"unit {list(unit)} is outside `{layer.name}`, whose output is {list(size)} (axis {axis + 1}: 0..{n - 1})"
            )


def unit_box(layer: LayerResult, unit: tuple[int, ...]) -> tuple[tuple[int, int] | None, ...]:
    """The input box seen by output ``unit`` of ``layer`` (None on an axis where it sees nothing)."""
    _check_unit(layer, unit)
    boxes = []
    for region, v in zip(layer.regions, unit):
        lo, hi = _lo(region, v), _hi(region, v)
        boxes.append(None if lo is None or hi is None else (lo, hi))
    return tuple(boxes)


def units_seeing(
    layer: LayerResult, pixel: tuple[int, ...], input_size: tuple[int, ...]
) -> tuple[tuple[int, int] | None, ...]:
    """Per axis, the range of ``layer``'s output units whose box contains ``pixel`` (None if none)."""
    if len(pixel) != len(input_size):
        raise SpecError(f"a pixel has {len(input_size)} coordinates, got {len(pixel)}")
    for axis, (x, n) in enumerate(zip(pixel, input_size)):
        if not 0 <= x < n:
            raise SpecError(f"pixel {list(pixel)} is outside the input {list(input_size)} (axis {axis + 1})")
    result = []
    for region, x, n in zip(layer.regions, pixel, layer.output_size):
        if any(g.has_empty for g in region) or not _monotone(region):
            hits = []
            for v in range(n):
                lo, hi = _lo(region, v), _hi(region, v)
                if lo is not None and hi is not None and lo <= x <= hi:
                    hits.append(v)
            result.append((hits[0], hits[-1]) if hits else None)
            continue
        first = _first_true(0, n, lambda v: _hi(region, v) >= x)  # type: ignore[operator]
        last = _first_true(0, n, lambda v: _lo(region, v) > x) - 1  # type: ignore[operator]
        result.append((first, last) if first <= last else None)
    return tuple(result)


def _monotone(region: Region) -> bool:
    """Whether the regions' bounds never move backwards from one unit to the next (binary search is safe)."""
    for group in region:
        for v in range(group.period):
            if group.lo_at(v + 1) < group.lo_at(v) or group.hi_at(v + 1) < group.hi_at(v):  # type: ignore[operator]
                return False
    return True


def _first_true(low: int, high: int, predicate) -> int:  # noqa: ANN001
    """The smallest v in [low, high) with predicate(v) true (high if none); predicate is monotone."""
    while low < high:
        middle = (low + high) // 2
        if predicate(middle):
            high = middle
        else:
            low = middle + 1
    return low
