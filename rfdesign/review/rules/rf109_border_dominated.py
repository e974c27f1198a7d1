"""RF109 border-dominated."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator
from fractions import Fraction
from itertools import product

from rfdesign.review.context import ReviewContext
from rfdesign.review.finding import Finding
from rfdesign.review.rule import rule
from rfdesign.review.rules._text import size_text
from rfdesign.rf.coords import _hi, _lo


def inside_shares(region: tuple, units: int, size: int) -> list[Fraction]:  # type: ignore[type-arg]
    """Per output unit, the share of its receptive field (along one axis) inside the input."""
    shares = []
    for v in range(units):
        lo, hi = _lo(region, v), _hi(region, v)
        if lo is None or hi is None:
            shares.append(Fraction(1))
            continue
        inside = max(0, min(hi, size - 1) - max(lo, 0) + 1)
        shares.append(Fraction(inside, hi - lo + 1))
    return shares


def count_below(per_axis: list[list[Fraction]], threshold: Fraction) -> int:
    """How many units (combinations of one share per axis) have a product of shares below ``threshold``."""
    *outer, last = per_axis
    last_sorted = sorted(last)
    total = 0
    for combination in product(*outer):
        prefix = Fraction(1)
        for share in combination:
            prefix *= share
        if prefix == 0:
            total += len(last_sorted)
            continue
        # units with prefix * s < threshold  <=>  s < threshold / prefix
        total += bisect_left(last_sorted, threshold / prefix)
    return total


@rule(
    "RF109",
    "border-dominated",
    "warning",
    summary="More than half of the output units have a receptive field that is mostly padding.",
    why="""
A unit whose receptive field lies mostly outside the image sees mostly zeros:
its features encode where the border is more than what is in the image.
Receptive fields larger than the input make this the common case; the rule
counts how many output units are affected, not only the centre one.
""",
    example="""
name: mostly-padding
input: {size: [16, 16]}
layers:
  - {op: conv, out: 8, kernel: 9, padding: 4}
  - {op: conv, out: 8, kernel: 9, padding: 4}
  - {op: conv, out: 8, kernel: 9, padding: 4}
""",
    fix="Use a larger input or a smaller receptive field; or crop the output to its well-supported centre.",
    options=(
        ("border_fraction", "a unit is border-dominated when more than this share of its field is padding (0.5)"),
        ("border_units", "fire when more than this share of output units is border-dominated (0.5)"),
    ),
)
def check(ctx: ReviewContext) -> Iterator[Finding]:
    out = ctx.output
    size = ctx.analysis.input_size
    padding_share = Fraction(str(ctx.option("border_fraction")))
    unit_share = Fraction(str(ctx.option("border_units")))
    per_axis = [inside_shares(out.regions[axis], out.output_size[axis], size[axis]) for axis in range(len(size))]
    total = 1
    for n in out.output_size:
        total *= n
    dominated = count_below(per_axis, 1 - padding_share)
    if Fraction(dominated, total) <= unit_share:
        return
    rf = "x".join(str(a.receptive_field) for a in out.axes)
    yield ctx.finding(
        f"{dominated} of the {total} output units of `{out.name}` ({dominated / total:.0%}) have more than "
        f"{float(padding_share):.0%} of their {rf} receptive field outside the {size_text(size)} input",
        layer=out.name,
        fix="use a larger input or a smaller receptive field",
        dominated_units=dominated,
        total_units=total,
    )
