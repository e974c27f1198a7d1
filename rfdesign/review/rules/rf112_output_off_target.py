"""RF112 output-off-target."""

from __future__ import annotations

from collections.abc import Iterator

from rfdesign.review.context import ReviewContext
from rfdesign.review.finding import Finding
from rfdesign.review.rule import rule
from rfdesign.review.rules._text import along, group_axes
from rfdesign.rf.report import number
from rfdesign.spec.target import bounds_text, within


@rule(
    "RF112",
    "output-off-target",
    "error",
    summary="The output size or effective stride differs from the target.",
    why="""
Heads, losses and decoders are built for a given output resolution: a 14x14
map where the head expects 7x7, or a stride-16 backbone where the decoder
assumes 8, breaks the model or silently misregisters predictions.
""",
    example="""
name: wrong-resolution
input: {size: [224, 224]}
target: {output_size: [14, 14]}
layers:
  - {op: conv, out: 32, kernel: 3, stride: 2, padding: 1}
  - {op: conv, out: 64, kernel: 3, stride: 2, padding: 1}
""",
    fix="Add or remove stride-2 layers until the effective stride is input size / output size.",
)
def check(ctx: ReviewContext) -> Iterator[Finding]:
    out = ctx.output
    dims = ctx.graph.dims
    targets = ctx.targets
    checks = (
        ("output size", targets.output_size, [a for a in out.output_size], "output_size"),
        ("effective stride", targets.effective_stride, [a.effective_stride for a in out.axes], "effective_stride"),
    )
    for label, bounds, values, key in checks:
        if bounds is None:
            continue
        off = {axis: (value, b) for axis, (value, b) in enumerate(zip(values, bounds)) if not within(value, b)}
        for axes, (value, axis_bounds) in group_axes(off):  # type: ignore[misc]
            yield ctx.finding(
                f"{label} {number(value)} of `{out.name}` along {along(axes, dims)} is not the target's "
                f"{bounds_text(axis_bounds)}",
                layer=out.name,
                fix="change the number or placement of strided layers",
                axes=axes,
                quantity=key,
                value=number(value),
            )
