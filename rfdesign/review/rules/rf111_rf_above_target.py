"""RF111 rf-above-target."""

from __future__ import annotations

from collections.abc import Iterator

from rfdesign.review.context import ReviewContext
from rfdesign.review.finding import Finding
from rfdesign.review.rule import rule
from rfdesign.review.rules._text import along, group_axes


@rule(
    "RF111",
    "rf-above-target",
    "warning",
    summary="The output's receptive field is larger than the target's maximum.",
    why="""
A target's upper bound usually encodes locality: a keypoint or texture head
that should not mix in distant context, or a streaming model whose latency is
its receptive field. Going past it costs computation and can hurt the task.
""",
    example="""
name: too-big
input: {size: [64, 64]}
target: {receptive_field: {max: 9}}
layers:
  - {op: conv, out: 16, kernel: 5, padding: 2}
  - {op: conv, out: 16, kernel: 5, padding: 2}
  - {op: conv, out: 16, kernel: 5, padding: 2}
""",
    fix="Use fewer or smaller kernels, less dilation, or downsample later; `rfdesign solve` can search within the range.",
)
def check(ctx: ReviewContext) -> Iterator[Finding]:
    bounds = ctx.targets.receptive_field
    if bounds is None:
        return
    out = ctx.output
    over: dict[int, object] = {}
    for axis, (_, high) in enumerate(bounds):
        rf = out.axes[axis].receptive_field
        if high is not None and rf > high:
            over[axis] = (rf, high)
    for axes, (rf, high) in group_axes(over):  # type: ignore[misc]
        yield ctx.finding(
            f"receptive field {rf} of `{out.name}` along {along(axes, ctx.graph.dims)} exceeds the target's "
            f"maximum {high} by {rf - high} px",
            layer=out.name,
            fix="remove or shrink layers, or reduce dilation",
            axes=axes,
            receptive_field=rf,
            target=high,
            excess=rf - high,
        )
