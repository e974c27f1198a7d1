"""Exact index maps from output units to input regions, along one axis.

Every op maps an output unit ``v`` to an interval of its input's units
``[lo(v), hi(v)]`` (empty for the holes a transposed convolution with stride
above its kernel leaves). These maps are *periodic-affine*: there are integers
``period`` Q >= 1 and ``shift`` R >= 0 with

    lo(v + Q) = lo(v) + R,   hi(v + Q) = hi(v) + R,

so a table of Q values describes the map on the whole (infinite) axis. A
convolution has Q = 1 and R = stride; a transposed convolution or an upsample
by f has Q = f and R = 1. Composition keeps the form, and the effective stride
of a unit in input pixels is the exact rational R / Q.

A node's region along an axis is a :class:`Region`: one :class:`Group` per
distinct effective stride among the paths that reach it (one group when the
network is aligned). A group stores, over one period,

* ``lo``/``hi``: the extent of the union of all its paths' regions;
* ``dmin``: a Q x Q table of ``min over paths p of hi_p(x) - lo_p(y)``, from
  which the smallest single-path region of unit v is ``dmin(v, v) + 1``
  (the receptive field of the shortest path, computed without enumerating
  paths).

The extent of a union of intervals is used throughout: a receptive field
with holes (stride above kernel) is reported by its extent; the holes are a
design-review finding, not a different size.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from fractions import Fraction
from math import gcd

Bound = int | None  # None marks an empty region


#: the longest period an index map may have (an upsample by f, or a transposed stride f, has period f;
#: composition takes least common multiples). Every loop over a period is bounded by it.
MAX_PERIOD = 1 << 16


class PeriodTooLong(ValueError):
    """A map whose period is above :data:`MAX_PERIOD`; the analysis turns it into a located SpecError."""

    def __init__(self, period: int):
        super().__init__(f"the index map repeats only every {period} units, more than the {MAX_PERIOD} tracked")
        self.period = period


def check_period(period: int) -> int:
    """``period``, or :class:`PeriodTooLong` when it is above :data:`MAX_PERIOD`."""
    if period > MAX_PERIOD:
        raise PeriodTooLong(period)
    return period


@dataclass(frozen=True, slots=True)
class OpMap:
    """The map of one op along one axis: output unit -> the input units it reads (its taps).

    ``taps[r]`` is the arithmetic progression (a ``range``) of the taps of unit
    ``r`` of one period (empty for a unit that reads nothing); unit ``v + Q``
    reads the taps of ``v`` shifted by ``R``. A range, not a tuple, so that a
    window as long as a huge input (a global pool) costs nothing to describe.
    """

    period: int
    shift: int
    taps: tuple[range, ...]

    def taps_at(self, v: int) -> range:
        q, r = divmod(v, self.period)
        offset = q * self.shift
        taps = self.taps[r]
        return range(taps.start + offset, taps.stop + offset, taps.step)


@lru_cache(maxsize=4096)
def window_map(stride: int, pad_before: int, effective_kernel: int, dilation: int = 1) -> OpMap:
    """Convolution and pooling: unit v reads v*s - p + j*d for every kernel tap j."""
    return OpMap(1, stride, (range(-pad_before, effective_kernel - pad_before, dilation),))


@lru_cache(maxsize=1024)
def transposed_map(stride: int, crop_before: int, kernel: int, dilation: int) -> OpMap:
    """Transposed convolution: output v receives input i when i*s + j*d = v + crop, 0 <= j < k.

    The taps j with j*d = v + crop (mod s) step by s/g (g = gcd(d, s)), so the
    sources of one output unit step by d/g: a range, found without a loop over k.
    """
    check_period(stride)
    g = gcd(dilation, stride)
    step_j = stride // g
    taps = []
    for v in range(stride):
        target = v + crop_before
        first = _first_tap(target, dilation, stride, g)
        if first is None or first >= kernel:
            taps.append(range(0))
            continue
        last = first + (kernel - 1 - first) // step_j * step_j
        low, high = (target - last * dilation) // stride, (target - first * dilation) // stride
        taps.append(range(low, high + 1, dilation // g))
    return OpMap(stride, 1, tuple(taps))


def _first_tap(target: int, dilation: int, stride: int, g: int) -> int | None:
    """The smallest j >= 0 with j * dilation = target (mod stride), None when there is none."""
    if target % g:
        return None
    modulus = stride // g
    if modulus == 1:
        return 0
    return (target // g) * pow(dilation // g, -1, modulus) % modulus


@lru_cache(maxsize=1024)
def resample_map(numerator: int, denominator: int, offset: Fraction, linear: bool) -> OpMap:
    """Resampling where output unit v reads source position ``v * num/den + offset``.

    Nearest mode reads ``floor(src)``; linear mode reads ``floor(src)`` and
    ``floor(src) + 1`` (the second only where its weight is non-zero).
    """
    g = gcd(numerator, denominator)
    period = check_period(denominator // g)
    shift = numerator // g
    taps = []
    for v in range(period):
        src = Fraction(v * numerator, denominator) + offset
        base = src.numerator // src.denominator
        taps.append(range(base, base + 2) if linear and src != base else range(base, base + 1))
    return OpMap(period, shift, tuple(taps))


@lru_cache(maxsize=1024)
def shift_map(offset: int) -> OpMap:
    """Padding (offset < 0) or cropping (offset > 0): unit v is input unit v + offset."""
    return OpMap(1, 1, (range(offset, offset + 1),))


def extremes_by_residue(taps: range, period: int) -> dict[int, tuple[int, int]]:
    """For each residue modulo ``period`` among ``taps``, its smallest and largest tap.

    The residues of an arithmetic progression repeat after at most ``period``
    terms, so the first and the last ``period`` taps hold every extreme: the
    cost is O(period), whatever the length of the window.
    """
    found: dict[int, tuple[int, int]] = {}
    count = len(taps)
    head = taps[: min(count, period)]
    tail = taps[max(count - period, 0) :]
    for tap in head:
        residue = tap % period
        if residue not in found:
            found[residue] = (tap, tap)
    for tap in tail:
        low, high = found[tap % period]
        if tap > high:
            found[tap % period] = (low, tap)
    return found


#: above this period the Q x Q shortest-path table is not kept (receptive_field_min is then unknown)
MAX_TRACKED_PERIOD = 64


@dataclass(frozen=True, slots=True)
class Group:
    """The paths of one effective stride R/Q reaching a node (see module docstring)."""

    period: int
    shift: int
    lo: tuple[Bound, ...]
    hi: tuple[Bound, ...]
    dmin: tuple[Bound, ...] | None  # Q*Q entries, row x, column y; None when not tracked
    has_empty: bool = False

    @property
    def stride(self) -> Fraction:
        return Fraction(self.shift, self.period)

    def lo_at(self, x: int) -> Bound:
        q, r = divmod(x, self.period)
        value = self.lo[r]
        return None if value is None else value + q * self.shift

    def hi_at(self, x: int) -> Bound:
        q, r = divmod(x, self.period)
        value = self.hi[r]
        return None if value is None else value + q * self.shift

    def dmin_at(self, x: int, y: int) -> Bound:
        assert self.dmin is not None
        qx, rx = divmod(x, self.period)
        qy, ry = divmod(y, self.period)
        value = self.dmin[rx * self.period + ry]
        return None if value is None else value + (qx - qy) * self.shift

    def extend(self, period: int) -> Group:
        """The same group described over a longer period (a multiple of this one)."""
        if period == self.period:
            return self
        shift = self.shift * (period // self.period)
        lo = tuple(self.lo_at(v) for v in range(period))
        hi = tuple(self.hi_at(v) for v in range(period))
        dmin = None
        if self.dmin is not None and period <= MAX_TRACKED_PERIOD:
            dmin = tuple(self.dmin_at(x, y) for x in range(period) for y in range(period))
        return Group(period, shift, lo, hi, dmin, self.has_empty)


#: the network input: unit v is pixel v
IDENTITY_GROUP = Group(1, 1, (0,), (0,), (0,))


def compose(group: Group, op: OpMap) -> Group:
    """The group of ``op`` applied after the paths in ``group``.

    A unit's region is the extent of the union of its taps' regions. The
    shortest-path table takes, for a pair of units, the largest entry over
    their taps' pairs: exact for a single path, and for several paths
    whenever each path's regions move forward with the unit index (true of
    every op except a dilated transposed convolution and the holes a
    transposed convolution with a stride above its kernel leaves; after
    those, with several paths, it is an approximation).
    """
    if group.period == 1 and op.period == 1 and not group.has_empty and group.dmin is not None:
        scale = group.shift
        taps = op.taps[0]
        lo_op, hi_op = taps[0], taps[-1]
        lo, hi, dmin = group.lo[0], group.hi[0], group.dmin[0]
        assert lo is not None and hi is not None and dmin is not None
        return Group(
            1,
            scale * op.shift,
            (lo + lo_op * scale,),
            (hi + hi_op * scale,),
            (dmin + (hi_op - lo_op) * scale,),
        )
    repeat = group.period // gcd(group.period, op.shift) if op.shift else 1
    period = check_period(op.period * repeat)
    shift = group.shift * (op.shift * repeat // group.period)
    lo: list[Bound] = []
    hi: list[Bound] = []
    # per unit, the extreme taps per residue of the input's period whose regions are not empty: regions move
    # forward within a residue class (lo(x + Q) = lo(x) + R, R >= 0), so only these can give a unit's extent
    rows: list[list[int]] = []  # the largest such tap per residue
    cols: list[list[int]] = []  # the smallest
    for v in range(period):
        found = extremes_by_residue(op.taps_at(v), group.period)
        kept = [pair for residue, pair in found.items() if group.lo[residue] is not None]
        rows.append([high for _, high in kept])
        cols.append([low for low, _ in kept])
        lo.append(min(group.lo_at(low) for low, _ in kept) if kept else None)  # type: ignore[type-var]
        hi.append(max(group.hi_at(high) for _, high in kept) if kept else None)  # type: ignore[type-var]
    dmin: list[Bound] | None = None
    if group.dmin is not None and period <= MAX_TRACKED_PERIOD:
        # dmin(a + Q, b) = dmin(a, b) + R with R >= 0: per residue of the input's period only the
        # largest row tap and the smallest column tap can give the maximum (keeps global pools linear)
        dmin = []
        for x in range(period):
            for y in range(period):
                values = [group.dmin_at(a, b) for a in rows[x] for b in cols[y]]
                present = [value for value in values if value is not None]
                dmin.append(max(present) if present else None)
    return Group(period, shift, tuple(lo), tuple(hi), None if dmin is None else tuple(dmin),
                 any(value is None for value in lo))


def _min(a: Bound, b: Bound) -> Bound:
    if a is None:
        return b
    if b is None:
        return a
    return a if a < b else b


def _max(a: Bound, b: Bound) -> Bound:
    if a is None:
        return b
    if b is None:
        return a
    return a if a > b else b


def stride_key(group: Group) -> tuple[int, int]:
    """The effective stride as a reduced (numerator, denominator) pair, cheap to hash."""
    g = gcd(group.shift, group.period)
    return (group.shift // g, group.period // g)


def union(groups: list[Group]) -> tuple[Group, ...]:
    """Merge groups of equal stride (pointwise union); keep different strides apart."""
    first = groups[0]
    if first.period == 1 and all(
        g.period == 1 and g.shift == first.shift and not g.has_empty and g.dmin is not None for g in groups
    ):
        return (
            Group(
                1,
                first.shift,
                (min(g.lo[0] for g in groups),),  # type: ignore[type-var]
                (max(g.hi[0] for g in groups),),  # type: ignore[type-var]
                (min(g.dmin[0] for g in groups),),  # type: ignore[type-var]
            ),
        )
    by_stride: dict[tuple[int, int], Group] = {}
    for group in groups:
        key = stride_key(group)
        if key not in by_stride:
            by_stride[key] = group
            continue
        other = by_stride[key]
        tracked = other.dmin is not None and group.dmin is not None
        if other.period == 1 and group.period == 1 and not (other.has_empty or group.has_empty) and tracked:
            by_stride[key] = Group(
                1,
                group.shift,
                (min(other.lo[0], group.lo[0]),),  # type: ignore[type-var]
                (max(other.hi[0], group.hi[0]),),  # type: ignore[type-var]
                (min(other.dmin[0], group.dmin[0]),),  # type: ignore[type-var]
            )
            continue
        period = check_period(other.period * group.period // gcd(other.period, group.period))
        a, b = other.extend(period), group.extend(period)
        lo = tuple(_min(x, y) for x, y in zip(a.lo, b.lo))
        dmin = None
        if a.dmin is not None and b.dmin is not None:
            dmin = tuple(_min(x, y) for x, y in zip(a.dmin, b.dmin))
        by_stride[key] = Group(
            period,
            a.shift,
            lo,
            tuple(_max(x, y) for x, y in zip(a.hi, b.hi)),
            dmin,
            any(value is None for value in lo),
        )
    return tuple(by_stride.values())


def centres(group: Group, period: int) -> tuple[Fraction | None, ...]:
    """The centre of each unit's region over ``period`` units (None where empty)."""
    result = []
    for v in range(period):
        lo, hi = group.lo_at(v), group.hi_at(v)
        result.append(None if lo is None or hi is None else Fraction(lo + hi, 2))
    return tuple(result)
