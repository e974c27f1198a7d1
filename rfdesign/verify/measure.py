"""Measure receptive fields by back-propagation: an oracle independent of :mod:`rfdesign.rf`.

:func:`measure` builds the graph as a *probe* module
(:func:`rfdesign.verify.probe.build_module` with ``mode="probe"``: every
weight positive and constant, no biases, max pooling averaged, norms and
activations identity, broadcast ``mul`` gates dropped, float64, one channel)
and reads receptive fields off gradients. It shares no code with the
analytic engine; only the spec parser.

Method, per layer and spatial axis ``a``:

1. ``x = ones`` (requiring grad) at some input size; forward in probe mode.
2. Take output units along ``a`` near the middle of the layer's output:
   two whole *periods* of units ``u0 .. u0+2P-1`` and, for one phase ``r``,
   the unit in the third period. ``P`` is computed from the graph by
   composing each op's period (1 for an ordinary CNN; a transposed conv,
   upsampling or depth-to-space multiplies it; see :func:`_period_bounds`),
   so it is a multiple of the true period of the unit -> region map; ``u0``
   is a multiple of ``P`` at least one period from the start. The regions
   must be periodic (the same holes in both periods, every region moved by
   the same ``R`` pixels); if they are not, the input is enlarged (a unit
   near the edge of an inner layer that was cropped, then padded), and
   after two tries the figures are left out (branches of different
   strides: only the units' regions are meaningful).
3. For each unit, back-propagate from that unit (summed over channels, and
   over the other axes: every unit with that index along ``a``, so that a
   unit sitting in a hole along another axis cannot hide the field along
   this one; like the engine, axes are independent) and read the first and
   last input pixel along ``a`` whose gradient (summed over the other axes)
   is non-zero. With positive weights nothing cancels, so the non-zero set
   is exactly the set of input pixels that some path reaches; its extent
   (holes included) is the unit's region.
4. The region must lie inside the input with a margin of its own size on
   both sides (so that no part of it fell on the border, not even behind a
   hole). If not, the input is doubled along ``a`` (other axes unchanged)
   and the layer is measured again. Sizes go ``n, 2n, 4n, ...``; a layer
   starts at the first size that a cheap upper bound of its field says can
   fit it. The other axes are shrunk to save memory (halved while the
   network stays valid, not below ``MIN_OTHER`` pixels; a shorter axis is
   grown to it if its fields are as large), and if every measured unit sees
   nothing (a branch dead along another axis) they are grown and the layer
   measured again.

Figures (the same definitions as :mod:`rfdesign.rf`, on an infinite axis):

``receptive_field``
    the largest extent over the ``P`` phases;
``receptive_field_position_min``
    the smallest extent over the phases (below the former only when
    neighbouring units see regions of different sizes, i.e. after upsampling
    or transposed convolution);
``effective_stride``
    ``R / P`` with ``R = first(u + P) - first(u)``, as a :class:`fractions.Fraction`;
``effective_padding``
    how far unit 0's region starts before pixel 0, extrapolated from the
    interior unit ``u0``: ``(u0 / P) * R - first(u0)``.

Every figure depends on the input size when a layer uses ``padding: same``
(or a fixed-size resample), so compare with the engine at
``AxisMeasurement.input_size``, the size actually used.

Limits:

* Units whose output length along ``a`` does not grow with the input
  (after ``global_pool``/``linear``, or a fixed-size ``upsample`` with a
  long period), or whose period grows with the input as fast as their
  length (``align_corners`` resampling) cannot all be moved away from the
  border. They are measured as they are (``clipped=True``, up to
  ``max_clipped_units`` units spread over the axis): the region is the part
  of the field inside the input; stride and padding are not measured.
* If ``first(u)`` is not periodic with period ``P`` (a merge of branches
  with different strides), stride and padding are ``None`` (see ``note``).
* A unit in a hole (a transposed conv with stride above its kernel) sees
  nothing; its phase is left out of the figures, and the padding is ``None``
  when unit 0 is such a unit.
* The measurement treats channels as fully mixed, like the engine (the probe
  collapses channels): a ``space_to_depth`` directly undone by
  ``depth_to_space`` counts its window.
* Inputs are capped at ``max_input`` pixels along the measured axis; a
  layer whose field does not fit is returned with ``None`` figures and a note.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction

from rfdesign.errors import SpecError, require
from rfdesign.spec.graph import INPUT, Graph


@dataclass(frozen=True)
class AxisMeasurement:
    """What the gradients say about one layer along one axis."""

    axis: int
    input_size: tuple[int, ...]  # the input size the figures were measured at
    receptive_field: int | None
    receptive_field_position_min: int | None
    effective_stride: Fraction | None
    effective_padding: int | None
    period: int  # the period bound P used
    units: tuple[tuple[int, tuple[int, int] | None], ...]  # (unit along the axis, (first, last) pixel or None)
    unit: tuple[int, ...] | None  # full index of the first measured unit (other axes: the middle unit)
    clipped: bool = False  # the unit could not be kept away from the border (see module docstring)
    note: str = ""

    @property
    def measured(self) -> bool:
        """False when the layer could not be probed at all (see ``note``)."""
        return bool(self.units)


# ---------------------------------------------------------------------------
# graph bookkeeping (sizes, period bounds, size heuristics)
# ---------------------------------------------------------------------------


def _spatial_inputs(node, shapes: dict) -> list[str]:  # noqa: ANN001
    """The inputs of a merge, without the broadcast gates of a ``mul`` (dropped by the probe)."""
    if node.op != "mul":
        return list(node.inputs)
    sizes = [shapes[source][1] for source in node.inputs]
    if not any(any(n != 1 for n in size) for size in sizes):
        return list(node.inputs)
    return [source for source, size in zip(node.inputs, sizes) if any(n != 1 for n in size)]


def _period_bounds(graph: Graph, shapes: dict, axis: int) -> dict[str, int]:
    """Per node, a period of its unit -> region map along ``axis`` (a multiple of the smallest).

    An op maps output unit ``v + Q`` to its input units moved by ``R`` (a conv:
    Q = 1, R = stride; a transposed conv: Q = stride, R = 1; a resample from n
    to m: Q = m/g, R = n/g). After a map of period P, moving ``k * Q`` output
    units moves the input by ``k * R``, a whole number of periods when ``k =
    P / gcd(P, R)``: the period is ``Q * P / gcd(P, R)``. Merges take the lcm.
    """
    period: dict[str, int] = {INPUT: 1}
    for name, node in graph.nodes.items():
        if name not in shapes:
            continue
        op = node.op
        if op in ("add", "concat", "mul"):
            p = 1
            for source in _spatial_inputs(node, shapes):
                p = p * period[source] // math.gcd(p, period[source])
            period[name] = p
            continue
        q, r = 1, 1
        n = shapes[node.inputs[0]][1][axis]
        if op in ("conv", "maxpool", "avgpool"):
            r = int(node.attrs.stride[axis])
        elif op == "conv_transpose":
            q = int(node.attrs.stride[axis])
        elif op == "depth_to_space":
            q = node.attrs.factor[axis]  # type: ignore[index]
        elif op == "space_to_depth":
            r = node.attrs.factor[axis]  # type: ignore[index]
        elif op in ("global_pool", "linear"):
            r = n
        elif op == "upsample":
            m = shapes[name][1][axis]
            num, den = (n - 1, m - 1) if node.attrs.mode == "linear" and node.attrs.align_corners else (n, m)
            if den <= 0:
                num, den = 0, 1
            g = math.gcd(num, den)
            q, r = den // g, num // g
        p = period[node.inputs[0]]
        period[name] = q * p // math.gcd(p, r)
    return period


def _field_bounds(graph: Graph, shapes: dict, axis: int) -> dict[str, int]:
    """Per node, a generous bound on |padding| + 2 x field along ``axis``, to pick a first input size."""
    stride: dict[str, Fraction] = {INPUT: Fraction(1)}
    field: dict[str, Fraction] = {INPUT: Fraction(1)}
    offset: dict[str, Fraction] = {INPUT: Fraction(0)}
    for name, node in graph.nodes.items():
        if name not in shapes:
            continue
        src = node.inputs[0]
        s, f, o = stride[src], field[src], offset[src]
        op = node.op
        if op in ("add", "concat", "mul"):
            spatial = _spatial_inputs(node, shapes)
            s = max(stride[x] for x in spatial)
            f = max(field[x] for x in spatial)
            o = max(offset[x] for x in spatial)
        elif op in ("conv", "maxpool", "avgpool"):
            k_eff = int(node.attrs.dilation[axis]) * (int(node.attrs.kernel[axis]) - 1) + 1
            f += (k_eff - 1) * s
            o += k_eff * s
            s *= int(node.attrs.stride[axis])
        elif op == "conv_transpose":
            k_eff = int(node.attrs.dilation[axis]) * (int(node.attrs.kernel[axis]) - 1) + 1
            f += k_eff * s
            o += k_eff * s
            s /= int(node.attrs.stride[axis])
        elif op == "upsample" or op == "depth_to_space":
            n = shapes[src][1][axis]
            m = shapes[name][1][axis]
            f += s
            o += s
            s = s * n / m
        elif op == "space_to_depth":
            k = node.attrs.factor[axis]  # type: ignore[index]
            f += (k - 1) * s
            s *= k
        elif op == "pad":
            o += node.attrs.padding[axis][0] * s  # type: ignore[index]
        elif op in ("global_pool", "linear"):
            n = shapes[src][1][axis]
            f += (n - 1) * s
            s *= n
        stride[name], field[name], offset[name] = s, f, o
    return {name: math.ceil(2 * field[name] + offset[name]) for name in field}


def _shapes(graph: Graph, size: Sequence[int], nodes: Iterable[str]) -> dict | None:
    from rfdesign.verify.probe import infer_shapes

    try:
        return infer_shapes(graph, size, nodes)
    except SpecError:
        return None


def _sizes(base: tuple[int, ...], axis: int, n: int) -> tuple[int, ...]:
    return base[:axis] + (n,) + base[axis + 1 :]


#: the note of a measurement whose regions are not periodic
IRREGULAR = "regions are not periodic with period"
#: the other axes are not shrunk below this (and short ones are grown to it when their fields are
#: that large): on a tiny axis every unit of a branch may see only padding (a dilated kernel
#: stepping over the one real pixel), which would hide that branch
MIN_OTHER = 32


def _shrink_others(graph: Graph, base: tuple[int, ...], axis: int, names: list[str]) -> tuple[int, ...]:
    """Halve the other axes while every layer of ``names`` still has an output (saves memory; not measured)."""
    size = list(base)
    for other in range(len(base)):
        if other == axis:
            continue
        while (size[other] + 1) // 2 >= MIN_OTHER:
            trial = list(size)
            trial[other] = (size[other] + 1) // 2
            if _shapes(graph, trial, names) is None:
                break
            size = trial
    return tuple(size)


# ---------------------------------------------------------------------------
# measurement
# ---------------------------------------------------------------------------


class _Probe:
    """One forward of the probe module with the autograd graph kept for several backward passes."""

    def __init__(self, torch, module, graph: Graph, size: tuple[int, ...], names: list[str]):  # noqa: ANN001
        self.torch = torch
        self.size = size
        channels = 1 if module.channels == "one" else graph.input_channels
        self.x = torch.ones((1, channels, *size), dtype=torch.float64, requires_grad=True)
        self.outputs = module(self.x, outputs=names)

    def region(self, name: str, index: tuple[int, ...], axis: int) -> tuple[int, int] | None:
        """First and last input pixel along ``axis`` seen by the units at ``index[axis]`` (all other axes)."""
        torch = self.torch
        y = self.outputs[name]
        unit = y[0].narrow(1 + axis, index[axis], 1).sum()
        if not unit.requires_grad:
            return None
        (grad,) = torch.autograd.grad(unit, self.x, retain_graph=True)
        dims = [d for d in range(grad.dim()) if d != 2 + axis]
        line = grad.sum(dim=dims)
        hits = torch.nonzero(line > 0).flatten()
        if hits.numel() == 0:
            return None
        return int(hits[0]), int(hits[-1])

    def close(self) -> None:
        self.outputs = {}
        self.x = None


def _inside(region: tuple[int, int] | None, n: int) -> bool:
    if region is None:
        return True
    lo, hi = region
    extent = hi - lo + 1
    return lo >= extent and hi <= n - 1 - extent


def _measure_layer(probe: _Probe, name: str, axis: int, period: int) -> AxisMeasurement | str | None:
    """Measure ``name`` at the probe's input size.

    Units: two whole periods ``u0 .. u0+2P-1`` (``u0`` a multiple of ``P``, at
    least one period from the start) and one phase of the third. Returns None
    when a region touches the border (enlarge the input), ``"short"`` when
    the layer has fewer than the 4P units needed.
    """
    y = probe.outputs[name]
    spatial = tuple(y.shape[2:])
    m = spatial[axis]
    p = period
    if m < 4 * p:
        return "short"
    n = probe.size[axis]
    middle = [s // 2 for s in spatial]
    u0 = p * max(1, min((m // 2 - p) // p, (m - 3 * p) // p))

    def index(u: int) -> tuple[int, ...]:
        full = list(middle)
        full[axis] = u
        return tuple(full)

    units: list[tuple[int, tuple[int, int] | None]] = []
    for u in range(u0, u0 + 2 * p):
        region = probe.region(name, index(u), axis)
        if not _inside(region, n):
            return None
        units.append((u, region))
    first, second = [region for _, region in units[:p]], [region for _, region in units[p:]]
    if all(region is None for region in first + second):
        return AxisMeasurement(axis, probe.size, None, None, None, None, p, tuple(units), index(u0),
                               note="every measured unit sees nothing")  # fmt: skip
    # periodic: a phase is a hole in both periods or in neither, and moves by the same R pixels
    regular = True
    shifts: set[int] = set()
    for a, b in zip(first, second):
        if a is None or b is None:
            regular &= a is None and b is None
            continue
        shifts.update((b[0] - a[0], b[1] - a[1]))
    r = next((i for i, region in enumerate(first) if region is not None), None)
    if r is None:  # the first period saw nothing, the second did
        regular = False
        r = next(i for i, region in enumerate(second) if region is not None) - p
    third = probe.region(name, index(u0 + 2 * p + r), axis)
    if not _inside(third, n):
        return None
    units.append((u0 + 2 * p + r, third))
    base, later = units[r][1] if r >= 0 else None, units[p + r][1]
    if third is None or base is None or later is None:
        regular = False
    else:
        shifts.update((third[0] - later[0], third[1] - later[1]))
    regular &= len(shifts) == 1
    extents = [hi - lo + 1 for region in first + second if region is not None for lo, hi in [region]]
    stride = padding = None
    note = ""
    if regular:
        shift = shifts.pop()
        stride = Fraction(shift, p)
        if first[0] is not None:
            padding = (u0 // p) * shift - first[0][0]
        else:
            note = "unit 0 sees nothing (a hole), so no effective padding"
    else:
        note = f"{IRREGULAR} {p} (a merge of branches with different strides?)"
    return AxisMeasurement(
        axis=axis,
        input_size=probe.size,
        receptive_field=max(extents),
        receptive_field_position_min=min(extents),
        effective_stride=stride,
        effective_padding=padding,
        period=p,
        units=tuple(units),
        unit=index(u0),
        note=note,
    )


def _measure_clipped(probe: _Probe, name: str, axis: int, period: int, max_units: int) -> AxisMeasurement:
    """Every (or a spread of) unit(s) as they are, border included."""
    y = probe.outputs[name]
    spatial = tuple(y.shape[2:])
    m = spatial[axis]
    middle = [s // 2 for s in spatial]
    picks = sorted({round(i * (m - 1) / max(1, max_units - 1)) for i in range(min(m, max_units))})
    units = []
    for u in picks:
        full = list(middle)
        full[axis] = u
        units.append((u, probe.region(name, tuple(full), axis)))
    extents = [hi - lo + 1 for _, region in units if region is not None for lo, hi in [region]]
    first = list(middle)
    first[axis] = picks[0]
    return AxisMeasurement(
        axis=axis,
        input_size=probe.size,
        receptive_field=max(extents) if extents else None,
        receptive_field_position_min=min(extents) if extents else None,
        effective_stride=None,
        effective_padding=None,
        period=period,
        units=tuple(units),
        unit=tuple(first),
        clipped=True,
        note="the output length does not grow with the input here, so units touch the border: "
        "figures are those of the part inside the input",
    )


def measure(
    graph: Graph,
    input_size: Sequence[int] | None = None,
    layers: Iterable[str] | None = None,
    *,
    max_input: int = 1 << 16,
    max_pixels: int = 40_000_000,
    max_clipped_units: int = 16,
    shrink: bool = True,
    threads: int | None = 1,
    channels: str = "one",
) -> dict[str, list[AxisMeasurement]]:
    """Measure every layer in ``layers`` (default: all), per axis, by gradients.

    ``input_size`` is the starting size (default: the spec's); each
    measurement records the size it used. ``max_input`` caps the length of
    the measured axis and ``max_pixels`` the input's total pixel count.
    ``shrink`` halves the unmeasured axes while the network still has an
    output everywhere. ``threads`` sets torch's intra-op threads while measuring
    (restored after; the probe's one-channel ops are too small to gain from
    more, and extra threads spin badly on a busy machine); None leaves it.
    ``channels="full"`` probes with the real channel counts, groups and pixel
    shuffles and torch's own convolutions (slower; a cross-check of the
    default one-channel probe).
    See the module docstring for the method and limits.
    """
    _check_start(graph, input_size, max_input, max_pixels)
    torch = require("torch", "torch")
    saved = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return _measure(torch, graph, input_size, layers, max_input, max_pixels, max_clipped_units, shrink, channels)
    finally:
        if threads is not None:
            torch.set_num_threads(saved)


def _check_start(graph: Graph, input_size: Sequence[int] | None, max_input: int, max_pixels: int) -> None:
    """Refuse, before torch allocates anything, a starting size beyond the measurement's caps."""
    base = tuple(input_size) if input_size is not None else tuple(graph.input_size)
    where = graph.input_location if input_size is None else None
    for axis, n in enumerate(base):
        if n > max_input:
            raise SpecError(
                f"verify measures inputs of up to {max_input:,} pixels along an axis; the input is {n:,} "
                f"along axis {axis + 1}",
                where,
                "measure at a smaller --input-size (receptive fields do not depend on it, except with `same` padding)",
            )
    if math.prod(base) > max_pixels:
        raise SpecError(
            f"verify measures inputs of up to {max_pixels:,} pixels; the input has {math.prod(base):,}",
            where,
            "measure at a smaller --input-size",
        )


def _measure(
    torch,  # noqa: ANN001
    graph: Graph,
    input_size: Sequence[int] | None,
    layers: Iterable[str] | None,
    max_input: int,
    max_pixels: int,
    max_clipped_units: int,
    shrink: bool,
    channels: str,
) -> dict[str, list[AxisMeasurement]]:
    from rfdesign.verify.probe import build_module

    base = tuple(input_size) if input_size is not None else tuple(graph.input_size)
    if len(base) != graph.dims:
        raise SpecError(f"input size {list(base)} has {len(base)} axes, `{graph.name}` has {graph.dims}")
    names = [n for n in (list(layers) if layers is not None else list(graph.nodes)) if n != INPUT]
    for name in names:
        if name not in graph.nodes:
            raise SpecError(f"no layer named `{name}` in `{graph.name}`")
    shapes = _shapes(graph, base, graph.nodes)
    if shapes is None:
        raise SpecError(f"`{graph.name}` has no valid output at input size {list(base)}")
    module = build_module(graph, "probe", channels=channels)
    limits = (max_input, max_pixels, max_clipped_units)
    results: dict[str, list[AxisMeasurement]] = {name: [] for name in names}
    for axis in range(graph.dims):
        sizes = _other_sizes(graph, base, axis, names, shrink)
        found = _measure_axis(torch, module, graph, names, axis, sizes, *limits)
        # a unit that sees nothing at all: every path dies in the padding of another, too short,
        # axis (a dilated kernel stepping over its only real pixel). Retry with longer other axes.
        dead = [name for name in names if _sees_nothing(found[name])]
        for scale in (4, 16):
            if not dead:
                break
            bigger = tuple(n if b == axis else n * scale for b, n in enumerate(sizes))
            if _shapes(graph, bigger, graph.nodes) is None:
                break
            again = _measure_axis(torch, module, graph, dead, axis, bigger, *limits)
            for name in dead:
                if not _sees_nothing(again[name]):
                    found[name] = again[name]
            dead = [name for name in dead if _sees_nothing(found[name])]
        for name in names:
            results[name].append(found[name])
    return results


def _sees_nothing(m: AxisMeasurement) -> bool:
    return bool(m.units) and all(region is None for _, region in m.units)


def _other_sizes(graph: Graph, base: tuple[int, ...], axis: int, names: list[str], shrink: bool) -> tuple[int, ...]:
    """Sizes for the axes not measured: small (memory), but not so small that middle units see only padding.

    An axis longer than ``MIN_OTHER`` is halved while it stays that long (and
    the network valid); a shorter one is doubled up to ``MIN_OTHER`` when the
    fields along it are that large.
    """
    if graph.dims == 1:
        return base
    shapes = _shapes(graph, base, graph.nodes)
    assert shapes is not None
    sizes = list(_shrink_others(graph, base, axis, list(graph.nodes)) if shrink else base)
    for other in range(graph.dims):
        if other == axis:
            continue
        bounds = _field_bounds(graph, shapes, other)
        want = min(MIN_OTHER, math.ceil(1.5 * max(bounds[name] for name in names)))
        candidate = sizes[other]
        while candidate < want:
            candidate *= 2
            trial = list(sizes)
            trial[other] = candidate
            if _shapes(graph, trial, graph.nodes) is not None:
                sizes = trial
                break
    return tuple(sizes)


def _measure_axis(  # noqa: C901 - the enlargement loop, in one place
    torch,  # noqa: ANN001
    module,  # noqa: ANN001
    graph: Graph,
    names: list[str],
    axis: int,
    sizes: tuple[int, ...],
    max_input: int,
    max_pixels: int,
    max_clipped_units: int,
) -> dict[str, AxisMeasurement]:
    """Measure ``names`` along ``axis``, the other axes at ``sizes`` (doubling the measured one as needed)."""
    results: dict[str, AxisMeasurement] = {}
    shapes0 = _shapes(graph, sizes, names)
    assert shapes0 is not None
    shapes8 = _shapes(graph, _sizes(sizes, axis, 8 * sizes[axis]), names)
    bounds = _field_bounds(graph, shapes0, axis)
    periods0 = _period_bounds(graph, shapes0, axis)
    start: dict[str, int] = {}
    clipped: list[str] = []
    fixed: set[str] = set()
    for name in names:
        length = shapes0[name][1][axis]
        if shapes8 is not None and shapes8[name][1][axis] == length:
            fixed.add(name)  # the output length does not grow with the input (after a global op)
        if name in fixed:  # its units cannot be moved away from the border
            clipped.append(name)
            continue
        n = sizes[axis]
        while n < 3 * bounds[name] // 2 and n < max_input:
            n *= 2
        start[name] = n
    if clipped:
        probe = _Probe(torch, module, graph, sizes, clipped)
        for name in clipped:
            results[name] = _measure_clipped(probe, name, axis, periods0[name], max_clipped_units)
        probe.close()
    n = sizes[axis]
    pending = dict(start)
    tried: dict[str, tuple[int, ...]] = {}
    short: dict[str, int] = {}  # units missing at the last size tried
    irregular: dict[str, tuple[AxisMeasurement, int]] = {}  # not periodic: retried at larger sizes
    fallback: dict[tuple[int, ...], list[tuple[str, str]]] = {}
    while pending:
        batch = [name for name, first in pending.items() if first <= n]
        size = _sizes(sizes, axis, n)
        if n > max_input or math.prod(size) > max_pixels:
            reason = (
                f"too big: the field needs an input of more than {n // 2} pixels along axis {axis + 1} "
                f"(limits: {max_input} along an axis, {max_pixels} in all)"
            )
            for name in pending:
                if name in irregular:
                    results[name] = irregular[name][0]
                else:
                    results[name] = AxisMeasurement(axis, size, None, None, None, None, 0, (), None, note=reason)
            break
        shapes = _shapes(graph, size, graph.nodes) if batch else None
        if batch and shapes is None:  # e.g. branches whose sizes only match at some input sizes
            for name in batch:
                del pending[name]
                if name in irregular:
                    results[name] = irregular[name][0]
                    continue
                at = tried.get(name, sizes)
                note = (
                    f"the field needs a larger input but the network has no valid output at {list(size)}, "
                    f"so the units were measured as they are at {list(at)}, border included"
                )
                fallback.setdefault(at, []).append((name, note))
        elif batch:
            assert shapes is not None
            periods = _period_bounds(graph, shapes, axis)
            probe = _Probe(torch, module, graph, size, batch)
            for name in batch:
                got = tuple(probe.outputs[name].shape[2:])
                if got != shapes[name][1]:  # pragma: no cover - a bug in the probe builder or infer_shapes
                    raise AssertionError(f"`{name}`: probe output {got} but shape inference says {shapes[name][1]}")
                found = _measure_layer(probe, name, axis, periods[name])
                if isinstance(found, AxisMeasurement) and found.note.startswith(IRREGULAR):
                    # a unit near an edge of some inner layer (cropped, then padded) or branches of
                    # different strides: larger inputs settle the former, twice is enough to tell
                    tries = irregular.get(name, (found, 0))[1] + 1
                    if tries <= 2:
                        irregular[name] = (found, tries)
                        tried[name] = size
                        continue
                if isinstance(found, AxisMeasurement):
                    results[name] = found
                    del pending[name]
                elif found == "short" and short.get(name, math.inf) <= 4 * periods[name] - shapes[name][1][axis]:
                    # more input does not give enough units: the period grows with the length
                    results[name] = _measure_clipped(probe, name, axis, periods[name], max_clipped_units)
                    del pending[name]
                else:
                    tried[name] = size
                    if found == "short":
                        short[name] = 4 * periods[name] - shapes[name][1][axis]
            probe.close()
            del probe
        n *= 2
    for at, items in fallback.items():
        shapes = _shapes(graph, at, [name for name, _ in items])
        assert shapes is not None
        periods = _period_bounds(graph, shapes, axis)
        probe = _Probe(torch, module, graph, at, [name for name, _ in items])
        for name, note in items:
            found = _measure_clipped(probe, name, axis, periods[name], max_clipped_units)
            results[name] = replace(found, note=note)
        probe.close()
    return results
