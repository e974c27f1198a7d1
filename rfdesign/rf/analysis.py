"""Forward receptive-field analysis of a whole graph in one topological pass.

:func:`analyze` visits every node once, in topological order, and for each
node and spatial axis keeps the exact region map of its output units (see
:mod:`rfdesign.rf.maps`). It never enumerates paths, so a DenseNet costs the
same per edge as a chain. The result is data (:class:`Analysis`); rendering
belongs to the CLI.

Figures per node and axis (all in input pixels; the axis is infinite, so
padding counts as part of the field, as in Araujo et al., Distill 2019):

``receptive_field``
    the largest extent of the union of every path's region, over output units
    (the max over paths when branches are aligned);
``receptive_field_min``
    the smallest region of any single path, over output units (the shortest
    path of a ResNet);
``receptive_field_position_min``
    the smallest union extent over output units; below ``receptive_field``
    only after upsampling or transposed convolution, where neighbouring units
    see regions of different sizes;
``effective_stride``
    input pixels between neighbouring output units (an exact rational after
    upsampling);
``effective_padding``
    how far unit 0's region starts before pixel 0 (``-box[0]``), so unit ``u``
    of a node with integer stride sees ``[u*S - P, u*S - P + r - 1]``.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from rfdesign.rf.layer import LayerGeometry, resolve_layer
from rfdesign.errors import SpecError
from rfdesign.rf.maps import IDENTITY_GROUP, MAX_PERIOD, Group, PeriodTooLong, centres, check_period, compose, union
from rfdesign.spec.graph import INPUT, Graph, Node

Region = tuple[Group, ...]  # one group per distinct effective stride


@dataclass(frozen=True, slots=True)
class AxisFigures:
    """Receptive-field figures of one node along one axis (see module docstring)."""

    receptive_field: int
    receptive_field_min: int | None  # None when not tracked (see rfdesign.rf.maps.MAX_TRACKED_PERIOD)
    receptive_field_position_min: int
    effective_stride: Fraction | int  # an int when integral
    effective_padding: int | None
    centre: Fraction | int | None
    box: tuple[int, int] | None
    period: int

    @property
    def uniform(self) -> bool:
        """True when every output unit's region has the same size."""
        return self.receptive_field == self.receptive_field_position_min


@dataclass(frozen=True, slots=True)
class Misalignment:
    """Why a merge is misaligned along one axis."""

    axis: int
    strides: tuple[Fraction, ...]
    centre_offset: Fraction | None  # largest distance between branch centres, in input pixels


@dataclass(frozen=True, slots=True)
class LayerResult:
    """Everything the analysis knows about one node."""

    node: Node
    geometry: LayerGeometry
    regions: tuple[Region, ...]
    axes: tuple[AxisFigures, ...]
    aligned: bool
    misalignment: tuple[Misalignment, ...]
    global_context: bool

    @property
    def name(self) -> str:
        return self.node.name

    @property
    def op(self) -> str:
        return self.node.op

    @property
    def output_size(self) -> tuple[int, ...]:
        return self.geometry.output_size

    @property
    def channels(self) -> int:
        return self.geometry.channels

    @property
    def params(self) -> int:
        return self.geometry.params

    @property
    def flops(self) -> int:
        return self.geometry.flops

    def axis_values(self, attr: str) -> list[Any]:
        """One figure across all axes, e.g. ``axis_values('receptive_field')``."""
        return [getattr(axis, attr) for axis in self.axes]


@dataclass
class Analysis:
    """The result of :func:`analyze`: per-node figures in topological order."""

    graph: Graph
    input_size: tuple[int, ...]
    layers: dict[str, LayerResult]
    outputs: tuple[str, ...]
    params: int = 0
    flops: int = 0
    _input_result: LayerResult | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.graph.name

    @property
    def output(self) -> LayerResult:
        return self.layers[self.outputs[0]]

    @property
    def aligned(self) -> bool:
        """True when no merge anywhere in the network is misaligned."""
        return all(layer.aligned for layer in self.layers.values())

    def layer(self, name: str) -> LayerResult:
        """The result for ``name`` (``KeyError`` if unknown; the CLI suggests a close name)."""
        return self.layers[name]


def _figures(region: Region, size: int, single_path: bool = False) -> AxisFigures:
    if len(region) == 1 and region[0].period == 1 and not region[0].has_empty and region[0].dmin is not None:
        group = region[0]
        lo, hi, dmin = group.lo[0], group.hi[0], group.dmin[0]
        assert lo is not None and hi is not None and dmin is not None
        extent = hi - lo + 1
        twice_centre = lo + hi
        centre = twice_centre // 2 if twice_centre % 2 == 0 else Fraction(twice_centre, 2)
        return AxisFigures(extent, dmin + 1, extent, group.shift, -lo, centre, (lo, hi), 1)
    period = 1
    for g in region:
        period = period * g.period // _gcd(period, g.period)
    check_period(period)
    tracked = all(g.dmin is not None for g in region)
    largest, smallest = _extents_over_positions(region, size, period)
    shortest = None
    if tracked:  # dmin(v, v) repeats with each group's period: one common period of units holds every value
        for v in range(min(period, size)):
            paths = [x for x in (g.dmin_at(v, v) for g in region) if x is not None]
            if paths:
                shortest = min(paths) + 1 if shortest is None else min(shortest, min(paths) + 1)
    los0 = [g.lo_at(0) for g in region]
    his0 = [g.hi_at(0) for g in region]
    lo0 = min((x for x in los0 if x is not None), default=None)
    hi0 = max((x for x in his0 if x is not None), default=None)
    box = (lo0, hi0) if lo0 is not None and hi0 is not None else None
    return AxisFigures(
        receptive_field=largest or 0,
        receptive_field_min=(shortest or 0) if tracked else (smallest or 0) if single_path else None,
        receptive_field_position_min=smallest or 0,
        effective_stride=max(g.stride for g in region),
        effective_padding=None if box is None else -box[0],
        centre=None if box is None else Fraction(box[0] + box[1], 2),
        box=box,
        period=max(g.period for g in region),
    )


def _extents_over_positions(region: Region, size: int, period: int) -> tuple[int | None, int | None]:
    """The largest and smallest extent of the union of ``region``'s groups over units ``0 .. size - 1``.

    One group repeats with its period. Groups of different strides drift
    apart, so the extent depends on the position; for units ``u + q * period``
    (one residue ``u``) each group's bounds are affine in ``q``, the extent
    (the largest bound minus the smallest) is convex in ``q``: its maximum is
    at an end and its minimum is found by bisection. The cost is
    O(period x groups x log size), not O(size).
    """
    largest = smallest = None

    def extent(v: int, live: list[Group]) -> int:
        return max(g.hi_at(v) for g in live) - min(g.lo_at(v) for g in live) + 1  # type: ignore[type-var,operator]

    for u in range(min(period, size)):
        live = [g for g in region if g.lo_at(u) is not None]  # emptiness repeats with the period
        if not live:
            continue
        last = (size - 1 - u) // period
        if len(region) == 1:
            low = high = extent(u, live)
        else:
            high = max(extent(u, live), extent(u + last * period, live))
            start, stop = 0, last
            while start < stop:  # the first q where the convex extent stops falling
                middle = (start + stop) // 2
                if extent(u + (middle + 1) * period, live) >= extent(u + middle * period, live):
                    stop = middle
                else:
                    start = middle + 1
            low = extent(u + start * period, live)
        largest = high if largest is None else max(largest, high)
        smallest = low if smallest is None else min(smallest, low)
    return largest, smallest


def _merge_alignment(regions: list[Region], axis: int) -> Misalignment | None:
    first = regions[0][0]
    if first.period == 1 and all(
        len(region) == 1 and region[0].period == 1 and region[0].shift == first.shift and not region[0].has_empty
        for region in regions
    ):
        sums = [region[0].lo[0] + region[0].hi[0] for region in regions]  # twice the centres
        low, high = min(sums), max(sums)  # type: ignore[type-var]
        if low == high:
            return None
        return Misalignment(axis, tuple(Fraction(first.shift) for _ in regions), Fraction(high - low, 2))
    strides = tuple(g.stride for region in regions for g in region)
    if len(set(strides)) > 1:
        return Misalignment(axis, strides, None)
    period = max(g.period for region in regions for g in region)
    for region in regions:
        for g in region:
            period = period * g.period // _gcd(period, g.period)
    check_period(period)
    tables = [centres(region[0], period) for region in regions]
    offset = Fraction(0)
    for v in range(period):
        values = [table[v] for table in tables if table[v] is not None]
        if values:
            offset = max(offset, max(values) - min(values))
    if offset:
        return Misalignment(axis, strides, offset)
    return None


def _gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return a


def _merge_simple(branch_regions: list[Region]) -> tuple[Region, int] | None:
    """Fast path of a merge when every branch has one integer-stride group of the same stride.

    Returns the union region and twice the largest distance between branch
    centres (0 when aligned), or None when the general path is needed.
    """
    head = branch_regions[0]
    first = head[0]
    if len(head) != 1 or first.period != 1 or first.has_empty or first.dmin is None:
        return None
    shift = first.shift
    lo, hi, dmin = first.lo[0], first.hi[0], first.dmin[0]
    twice_low = twice_high = lo + hi  # type: ignore[operator]
    for region in branch_regions[1:]:
        group = region[0]
        if len(region) != 1 or group.period != 1 or group.shift != shift or group.has_empty or group.dmin is None:
            return None
        g_lo, g_hi, g_dmin = group.lo[0], group.hi[0], group.dmin[0]
        if g_lo < lo:  # type: ignore[operator]
            lo = g_lo
        if g_hi > hi:  # type: ignore[operator]
            hi = g_hi
        if g_dmin < dmin:  # type: ignore[operator]
            dmin = g_dmin
        twice = g_lo + g_hi  # type: ignore[operator]
        if twice < twice_low:
            twice_low = twice
        elif twice > twice_high:
            twice_high = twice
    return (Group(1, shift, (lo,), (hi,), (dmin,)),), twice_high - twice_low


def analyze(graph: Graph, input_size: tuple[int, ...] | None = None) -> Analysis:
    """Analyze ``graph`` (optionally at another ``input_size``) in one topological pass.

    Raises :class:`rfdesign.errors.SpecError` at a layer's location when its
    geometry is impossible for this input size.
    """
    was_enabled = gc.isenabled()
    gc.disable()  # the pass allocates many long-lived objects; collection cycles would make it superlinear
    try:
        return _analyze(graph, input_size)
    finally:
        if was_enabled:
            gc.enable()


#: the largest size of a feature map (the input's included) along one axis, and the most channels one may have
MAX_AXIS_SIZE = 2**31 - 1
MAX_CHANNELS = 2**24


def _check_input(graph: Graph, size: tuple[int, ...], overridden: bool) -> None:
    where = None if overridden else graph.input_location  # a size given on the command line has no spec line
    for axis, n in enumerate(size):
        if n > MAX_AXIS_SIZE:
            raise SpecError(
                f"the input size {n} on axis {axis + 1} is above the limit of {MAX_AXIS_SIZE:,} units",
                where,
                "analyse at a realistic size (--input-size)",
            )
    if graph.input_channels > MAX_CHANNELS:
        raise SpecError(f"the input has {graph.input_channels} channels, above the limit of {MAX_CHANNELS:,}", where)


def _analyze(graph: Graph, input_size: tuple[int, ...] | None) -> Analysis:
    size = tuple(input_size) if input_size is not None else graph.input_size
    _check_input(graph, size, input_size is not None and tuple(input_size) != tuple(graph.input_size))
    return _propagate(graph, size)


def _propagate(graph: Graph, size: tuple[int, ...]) -> Analysis:
    dims = len(size)
    axes = range(dims)
    input_region: Region = (IDENTITY_GROUP,)
    # per node: output size, channels, regions per axis, aligned, global context, one path only
    state: dict[str, tuple[tuple[int, ...], int, tuple[Region, ...], bool, bool, bool]] = {
        INPUT: (size, graph.input_channels, (input_region,) * dims, True, False, True)
    }
    layers: dict[str, LayerResult] = {}
    total_params = total_flops = 0
    for name, node in graph.nodes.items():
        try:
            result = _node(node, state, axes)
        except PeriodTooLong as exc:
            raise SpecError(
                f"layer `{name}`: its units' regions repeat only every {exc.period:,} units (upsampling, resizing "
                f"or transposed strides), more than the {MAX_PERIOD:,} that rfdesign follows",
                node.location,
                "use integer upsampling factors and strides of a realistic size",
            ) from None
        layers[name], state[name] = result
        geometry = result[0].geometry
        if geometry.channels > MAX_CHANNELS:
            raise SpecError(
                f"layer `{name}` has {geometry.channels} channels, above the limit of {MAX_CHANNELS:,}", node.location
            )
        if max(geometry.output_size) > MAX_AXIS_SIZE:
            raise SpecError(
                f"layer `{name}` outputs {'x'.join(map(str, geometry.output_size))}, above the limit of "
                f"{MAX_AXIS_SIZE:,} units along an axis",
                node.location,
            )
        total_params += geometry.params
        total_flops += geometry.flops
    return Analysis(graph, size, layers, graph.outputs, total_params, total_flops)


def _node(node: Node, state: dict[str, Any], axes: range) -> tuple[LayerResult, Any]:
    """One node's result and its state entry, from its inputs' states."""
    sources = node.inputs
    inputs = [state[s] for s in sources]
    geometry = resolve_layer(
        node,
        [item[0] for item in inputs],
        [item[1] for item in inputs],
        *(state[reference][0] for reference in node.attrs.references()),
    )
    misalignment: list[Misalignment] = []
    node_aligned = True
    node_context = bool(geometry.gate_inputs)
    for item in inputs:
        node_aligned = node_aligned and item[3]
        node_context = node_context or item[4]
    maps = geometry.maps
    single_path = inputs[0][5]
    if maps:
        source_regions = inputs[0][2]
        node_regions = tuple(
            tuple(compose(group, maps[axis]) for group in source_regions[axis]) for axis in axes
        )
    else:
        gates = geometry.gate_inputs
        spatial = [item for i, item in enumerate(inputs) if i not in gates] if gates else inputs
        single_path = len(spatial) == 1 and spatial[0][5]
        axes_regions = []
        for axis in axes:
            branch_regions = [item[2][axis] for item in spatial]
            simple = _merge_simple(branch_regions)
            if simple is not None:
                region, twice_offset = simple
                if twice_offset:
                    stride = Fraction(region[0].shift)
                    misalignment.append(
                        Misalignment(axis, (stride,) * len(branch_regions), Fraction(twice_offset, 2))
                    )
                    node_aligned = False
                axes_regions.append(region)
                continue
            problem = _merge_alignment(branch_regions, axis)
            if problem is not None:
                misalignment.append(problem)
                node_aligned = False
            axes_regions.append(union([g for region in branch_regions for g in region]))
        node_regions = tuple(axes_regions)
    output_size = geometry.output_size
    figures = tuple(_figures(node_regions[axis], output_size[axis], single_path) for axis in axes)
    layer = LayerResult(node, geometry, node_regions, figures, node_aligned, tuple(misalignment), node_context)
    return layer, (output_size, geometry.channels, node_regions, node_aligned, node_context, single_path)
