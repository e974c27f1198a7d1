"""RF101 rf-below-target."""

from __future__ import annotations

from collections.abc import Iterator
from math import ceil

from rfdesign.review.context import ReviewContext
from rfdesign.review.finding import Finding
from rfdesign.review.rule import rule
from rfdesign.review.rules._text import along, group_axes
from rfdesign.rf.report import number


def minimum_bounds(ctx: ReviewContext) -> list[int | None]:
    """The per-axis lower bound on the output RF: the spec's target, else the `min_rf` option."""
    dims = ctx.graph.dims
    if ctx.targets.receptive_field is not None:
        return [low for low, _ in ctx.targets.receptive_field]
    min_rf = ctx.option("min_rf")
    return [int(min_rf)] * dims if min_rf else [None] * dims


@rule(
    "RF101",
    "rf-below-target",
    "error",
    summary="The output's receptive field is smaller than the target.",
    why="""
A unit can only respond to what lies inside its receptive field. A detector
head whose field is smaller than the objects it must find, or a segmentation
net that sees less context than the task needs, cannot be fixed by training.
The target comes from the spec (`target.receptive_field`) or from
`rfdesign check --min-rf N`.
""",
    example="""
name: too-small
input: {size: [224, 224]}
target: {receptive_field: {min: 100}}
layers:
  - {op: conv, out: 32, kernel: 3, stride: 2, padding: 1}
  - {op: conv, out: 32, kernel: 3, stride: 2, padding: 1}
  - {op: conv, out: 64, kernel: 3, padding: 1}
""",
    fix="""
Add layers at the output's stride (each 3x3 convolution there adds 2 x stride
pixels), use larger or dilated kernels, or downsample earlier. `rfdesign solve`
finds the cheapest choices that reach the target.
""",
    options=(("min_rf", "the target when the spec has none (`--min-rf`)"),),
)
def check(ctx: ReviewContext) -> Iterator[Finding]:
    out = ctx.output
    dims = ctx.graph.dims
    short: dict[int, object] = {}
    for axis, low in enumerate(minimum_bounds(ctx)):
        figures = out.axes[axis]
        if low is not None and figures.receptive_field < low:
            short[axis] = (figures.receptive_field, low, figures.effective_stride)
    for axes, (rf, low, stride) in group_axes(short):  # type: ignore[misc]
        per_layer = 2 * stride
        layers_needed = ceil((low - rf) / per_layer)
        yield ctx.finding(
            f"receptive field {rf} of `{out.name}` along {along(axes, dims)} is {low - rf} px below the target {low}",
            layer=out.name,
            fix=f"e.g. {layers_needed} more 3x3 conv(s) at the output's stride {number(stride)} (+{number(per_layer)} px "
            "each), or run `rfdesign solve`",
            axes=axes,
            receptive_field=rf,
            target=low,
            shortfall=low - rf,
        )
