"""RF108 rf-far-beyond-input."""

from __future__ import annotations

from collections.abc import Iterator
from math import ceil

from rfdesign.review.context import ReviewContext
from rfdesign.review.finding import Finding
from rfdesign.review.rule import rule
from rfdesign.review.rules._text import along, group_axes


@rule(
    "RF108",
    "rf-far-beyond-input",
    "warning",
    summary="The receptive field exceeds the input by more than a factor (default 2).",
    why="""
Once a unit's receptive field is far larger than the image, most of it is
zero padding: further depth mostly convolves padding, which costs computation
and teaches the model the image border's position rather than content. It
usually means the network was designed for a larger input than it is used at.
""",
    example="""
name: too-deep-for-32px
input: {size: [32, 32]}
layers:
  - {op: conv, out: 16, kernel: 7, stride: 2, padding: 3}
  - {op: conv, out: 16, kernel: 7, stride: 2, padding: 3}
  - {op: conv, out: 16, kernel: 7, stride: 2, padding: 3}
  - {op: conv, out: 16, kernel: 7, stride: 2, padding: 3}
""",
    fix="Use a larger input size, or stop adding depth where the field first passes the limit.",
    options=(("rf_beyond_factor", "how many times the input size the receptive field may reach (default 2)"),),
)
def check(ctx: ReviewContext) -> Iterator[Finding]:
    factor = ctx.option("rf_beyond_factor")
    out = ctx.output
    size = ctx.analysis.input_size
    order = list(ctx.analysis.layers)
    over: dict[int, object] = {}
    for axis, n in enumerate(size):
        rf = out.axes[axis].receptive_field
        limit = factor * n
        if rf > limit:
            first = next(name for name in order if ctx.analysis.layers[name].axes[axis].receptive_field > limit)
            over[axis] = (rf, n, limit, first)
    for axes, (rf, n, limit, first) in group_axes(over):  # type: ignore[misc]
        params = sum(ctx.analysis.layers[name].params for name in order[order.index(first) :])
        yield ctx.finding(
            f"receptive field {rf} of `{out.name}` along {along(axes, len(size))} is {rf / n:.1f}x the input "
            f"size {n} (limit {factor}x); it first passes {limit:g} at `{first}`, and the layers from there spend "
            f"{params:,} parameters mostly on padding",
            layer=first,
            fix=f"use an input of at least {ceil(rf / factor)} px, or end the network near `{first}`",
            axes=axes,
            receptive_field=rf,
            ratio=round(rf / n, 3),
            first_layer=first,
        )
