"""RF105 misaligned-merge."""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction

from rfdesign.review.context import ReviewContext
from rfdesign.review.finding import Finding
from rfdesign.review.rule import rule
from rfdesign.review.rules._text import along, group_axes
from rfdesign.rf.coords import _hi, _lo
from rfdesign.rf.report import number
from rfdesign.spec.graph import INPUT


def branch_boxes(ctx: ReviewContext, source: str, axis: int, units: int) -> list[tuple[int, int] | None]:
    """Boxes of the first ``units`` units of a merge input along ``axis`` (the input pixel itself for `input`)."""
    if source == INPUT:
        return [(v, v) for v in range(units)]
    layer = ctx.analysis.layers[source]
    region = layer.regions[axis]
    return [(lo, hi) if (lo := _lo(region, v)) is not None and (hi := _hi(region, v)) is not None else None
            for v in range(units)]


def causal(boxes: list[list[tuple[int, int] | None]], stride: object) -> bool:
    """True when every branch's region of unit v ends (or every one starts) exactly at pixel v * stride.

    That is a causal (or anti-causal) network: branches are aligned on the
    unit's own position by design, whatever their centres.
    """
    for edge in (1, 0):
        if all(
            box is None or box[edge] == v * stride  # type: ignore[operator]
            for branch in boxes
            for v, box in enumerate(branch)
        ):
            return True
    return False


def mean_offset(boxes: list[list[tuple[int, int] | None]]) -> Fraction:
    """The largest difference between branches of their average centre over the units compared."""
    means = []
    for branch in boxes:
        centres = [Fraction(box[0] + box[1], 2) for box in branch if box is not None]
        means.append(sum(centres, Fraction(0)) / len(centres) if centres else Fraction(0))
    return max(means) - min(means)


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
    fix="""
Pad or crop one branch so the centres coincide, or give both branches the same
stride. Branches of a causal (or anti-causal) network, whose regions all end
(or start) at the unit's own position, are aligned on that edge by design and
are not reported. After a nearest or transposed-convolution upsampling, neighbouring
units alternate around the skip branch's centre; the message says when the
offset is zero on average.
""",
)
def check(ctx: ReviewContext) -> Iterator[Finding]:
    dims = ctx.graph.dims
    for name, layer in ctx.analysis.layers.items():
        if not layer.misalignment:
            continue
        sources = [s for i, s in enumerate(layer.node.inputs) if i not in layer.geometry.gate_inputs]
        per_axis: dict[int, object] = {}
        for problem in layer.misalignment:
            if problem.centre_offset is None:
                per_axis[problem.axis] = ("strides", tuple(number(s) for s in problem.strides), None)
                continue
            period = max(axis.period for axis in layer.axes)
            units = min(layer.output_size[problem.axis], max(period, 2))
            boxes = [branch_boxes(ctx, source, problem.axis, units) for source in sources]
            if causal(boxes, layer.axes[problem.axis].effective_stride):
                continue  # causal (or anti-causal) branches: aligned on the edge they share, by design
            per_axis[problem.axis] = ("centres", number(problem.centre_offset), number(mean_offset(boxes)))
        parts = []
        for axes, (kind, value, average) in group_axes(per_axis):  # type: ignore[misc]
            if kind == "strides":
                parts.append(f"strides differ along {along(axes, dims)} ({', '.join(map(str, value))})")
            elif average == 0:
                parts.append(
                    f"centres differ by up to {value} px along {along(axes, dims)} depending on the unit "
                    "(0 on average: the pattern of an upsampling branch)"
                )
            else:
                parts.append(f"centres differ by {value} px along {along(axes, dims)}")
        if not parts:
            continue
        inputs = ", ".join(f"`{s}`" for s in layer.node.inputs)
        yield ctx.finding(
            f"`{name}` ({layer.op} of {inputs}) joins misaligned branches: " + "; ".join(parts),
            layer=name,
            fix="pad or crop one branch so their receptive-field centres coincide",
            misalignment={str(axis): value[1] for axis, value in per_axis.items()},  # type: ignore[index]
        )
