"""Wording shared by the rules' messages."""

from __future__ import annotations

from collections.abc import Sequence


def axis_name(axis: int, dims: int) -> str:
    """'axis 1' (1-based), or for 2-D and 3-D the usual words."""
    if dims == 2:
        return ("rows (height)", "columns (width)")[axis]
    if dims == 3:
        return ("frames (depth)", "rows (height)", "columns (width)")[axis]
    return "the axis"


def names(items: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(f"`{item}`" for item in items[:limit])
    if len(items) > limit:
        shown += f" and {len(items) - limit} more"
    return shown


def size_text(size: Sequence[int]) -> str:
    return "x".join(str(s) for s in size)


def count(number: int, word: str) -> str:
    return f"{number} {word}" + ("" if number == 1 else "s")


def unit_words(axis: int, dims: int) -> str:
    """What one index along ``axis`` is called: rows, columns, frames, positions."""
    if dims == 2:
        return ("rows", "columns")[axis]
    if dims == 3:
        return ("frames", "rows", "columns")[axis]
    return "positions"


def along(axes: Sequence[int], dims: int) -> str:
    """'both axes' / 'every axis' / 'rows (height)' for a group of axes."""
    if len(axes) == dims and dims == 2:
        return "both axes"
    if len(axes) == dims and dims > 2:
        return "every axis"
    return " and ".join(axis_name(axis, dims) for axis in axes)


def group_axes(values: dict[int, object]) -> list[tuple[list[int], object]]:
    """Axes that share the same value, grouped (in axis order), so a finding is not repeated per axis."""
    groups: dict[object, list[int]] = {}
    for axis, value in values.items():
        groups.setdefault(value, []).append(axis)
    return [(axes, value) for value, axes in groups.items()]
