"""Which input pixels reach the output: exact coverage on the finite grid.

Unlike the receptive-field figures (which treat every axis as infinite), this
works on the real, finite feature maps: starting from every unit of the
output node, it walks the graph backwards and marks, per axis, every unit of
every node that some output unit actually reads (dilated taps, stride gaps,
borders, and the rows floor division leaves unread are all exact).

Per-axis sets are exact for chains, where the pixels seen are a product of
per-axis sets. In a DAG the union over paths is taken per axis, which can
call a pixel seen when only its row is seen by one branch and its column by
another; such networks are rare and this is documented in the rule pages.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

from rfdesign.errors import SpecError
from rfdesign.rf.analysis import Analysis, LayerResult
from rfdesign.rf.maps import OpMap
from rfdesign.spec.graph import INPUT

Units = set[int]

#: how many units (summed over every layer and axis, the input's included) the walk may mark one by one
MAX_COVERAGE_UNITS = 1 << 24


def read_back(op_map: OpMap, units: Units, in_size: int) -> Units:
    """The units of an op's input (of ``in_size`` units) that ``units`` of its output read through ``op_map``."""
    result: Units = set()
    for v in units:
        result.update(op_map.taps_at(v))
    return {u for u in result if 0 <= u < in_size}


def _check_size(analysis: Analysis) -> None:
    """Refuse, before marking anything, a walk longer than :data:`MAX_COVERAGE_UNITS` units."""
    total = sum(analysis.input_size)
    for layer in analysis.layers.values():
        total += sum(layer.output_size)
    if total <= MAX_COVERAGE_UNITS:
        return
    widest = max(analysis.layers.values(), key=lambda layer: max(layer.output_size), default=None)
    where = ""
    if widest is not None and max(widest.output_size) > max(analysis.input_size):
        where = f"; `{widest.name}` alone outputs {'x'.join(map(str, widest.output_size))}"
    raise SpecError(
        f"finding the pixels no output unit sees (rules RF103 and RF107) walks every unit of every layer: "
        f"{total:,} units here, more than the {MAX_COVERAGE_UNITS:,} it walks{where}",
        analysis.graph.input_location,
        "check at a smaller --input-size, or skip those rules with --ignore RF103,RF107",
    )


def _taps(layer: LayerResult, axis: int, units: Units, in_size: int) -> Units:
    """The units of the layer's input that ``units`` of its output read, along ``axis``."""
    return read_back(layer.geometry.maps[axis], units, in_size)


def window_has_gaps(kernel: int, stride: int, dilation: int) -> bool:
    """Whether neighbouring windows of one layer leave units of its input unread."""
    # the taps of units 0, 1, 2 (v * stride + j * dilation) in closed form, so a huge kernel costs nothing
    if kernel == 1:
        return stride > 1
    if dilation == 1:
        return stride > kernel
    return stride != 1 or dilation > 3  # pixel 1 needs stride 1; then units 0, 1, 2 fill gaps of up to 3


def _input_size(analysis: Analysis, name: str) -> tuple[int, ...]:
    return analysis.input_size if name == INPUT else analysis.layers[name].output_size


@dataclass(frozen=True)
class Coverage:
    """Per node (and ``input``) and axis, the units some output unit reads."""

    needed: dict[str, tuple[Units, ...]]

    def seen_pixels(self) -> tuple[Units, ...]:
        """Per axis, the input pixels that reach at least one output unit."""
        return self.needed[INPUT]


def coverage(
    analysis: Analysis, outputs: Iterable[str] | None = None, start: dict[str, list[Units]] | None = None
) -> Coverage:
    """Walk back from every unit of ``outputs`` (default: the primary output), or from the units in ``start``."""
    dims = len(analysis.input_size)
    _check_size(analysis)
    needed: dict[str, list[Units]] = {}
    if start is not None:
        needed = {name: [set(units) for units in sets] for name, sets in start.items()}
    else:
        names = list(outputs) if outputs is not None else [analysis.outputs[0]]
        for name in names:
            size = analysis.layers[name].output_size
            needed[name] = [set(range(n)) for n in size]
    for name in reversed(list(analysis.layers)):
        if name not in needed:
            continue
        layer = analysis.layers[name]
        units = needed[name]
        gates = layer.geometry.gate_inputs
        for index, source in enumerate(layer.node.inputs):
            in_size = _input_size(analysis, source)
            if layer.geometry.maps:
                reached = [_taps(layer, axis, units[axis], in_size[axis]) for axis in range(dims)]
            elif index in gates:
                reached = [set(range(n)) if any(units) else set() for n in in_size]
            else:
                reached = [set(u) for u in units]
            target = needed.setdefault(source, [set() for _ in range(dims)])
            for axis in range(dims):
                target[axis] |= reached[axis]
    needed.setdefault(INPUT, [set() for _ in range(dims)])
    return Coverage({name: tuple(sets) for name, sets in needed.items()})


def unseen_fraction(seen: tuple[Units, ...], size: tuple[int, ...]) -> Fraction:
    """The fraction of input pixels outside the product of the per-axis seen sets."""
    covered = Fraction(1)
    for units, n in zip(seen, size):
        covered *= Fraction(len(units), n)
    return 1 - covered


def gaps(units: Units, size: int) -> tuple[list[int], list[int], list[int]]:
    """Split the unseen indices of one axis into (leading, interior, trailing)."""
    if not units:
        return [], [], list(range(size))
    first, last = min(units), max(units)
    leading = list(range(first))
    trailing = list(range(last + 1, size))
    interior = [u for u in range(first, last + 1) if u not in units]
    return leading, interior, trailing
