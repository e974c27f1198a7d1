"""RF105 misaligned-merge."""

from __future__ import annotations

from collections.abc import Iterator

from rfdesign.review.context import ReviewContext
from rfdesign.review.finding import Finding
from rfdesign.review.rule import rule
from rfdesign.review.rules._text import along, group_axes
from rfdesign.rf.report import number


@rule(
    "RF105",
    "misaligned-merge",
    "warning",
    summary="An add or concat joins branches whose effective strides or receptive-field centres differ.",
    why="""
Adding or concatenating feature maps assumes that unit (i, j) of every branch
describes the same place in the image. When the branches' receptive fields
are centred on different input pixels (asymmetric padding on one branch, a
crop off by one) or step by different strides, the merge mixes features of
different places, a silent error that the Distill article on receptive fields
(Araujo, Norris & Sim, 2019) calls misalignment.
""",
    example="""
name: misaligned
input: {size: [32, 32]}
layers:
  - {name: a, op: conv, out: 16, kernel: 3, padding: 1}
  - {name: b, op: conv, from: input, out: 16, kernel: 2, padding: [[0, 1], [0, 1]]}
  - {op: add, from: [a, b]}
""",
    fix="Pad or crop one branch so the centres coincide, or give both branches the same stride.",
)
def check(ctx: ReviewContext) -> Iterator[Finding]:
    dims = ctx.graph.dims
    for name, layer in ctx.analysis.layers.items():
        if not layer.misalignment:
            continue
        per_axis: dict[int, object] = {}
        for problem in layer.misalignment:
            if problem.centre_offset is None:
                per_axis[problem.axis] = ("strides", tuple(number(s) for s in problem.strides))
            else:
                per_axis[problem.axis] = ("centres", number(problem.centre_offset))
        parts = []
        for axes, (kind, value) in group_axes(per_axis):  # type: ignore[misc]
            if kind == "strides":
                parts.append(f"strides differ along {along(axes, dims)} ({', '.join(map(str, value))})")
            else:
                parts.append(f"centres differ by {value} px along {along(axes, dims)}")
        inputs = ", ".join(f"`{s}`" for s in layer.node.inputs)
        yield ctx.finding(
            f"`{name}` ({layer.op} of {inputs}) joins misaligned branches: " + "; ".join(parts),
            layer=name,
            fix="pad or crop one branch so their receptive-field centres coincide",
            misalignment={str(axis): value[1] for axis, value in per_axis.items()},  # type: ignore[index]
        )
