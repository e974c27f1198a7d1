"""RF106 off-centre."""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction

from rfdesign.review.context import ReviewContext
from rfdesign.review.finding import Finding
from rfdesign.review.rule import rule
from rfdesign.review.rules._text import along, group_axes
from rfdesign.rf.analysis import LayerResult
from rfdesign.rf.coords import unit_box
from rfdesign.rf.report import number
from rfdesign.spec.graph import INPUT


def grid_shift(layer: LayerResult, size: int, axis: int) -> Fraction | None:
    """How far the grid of ``layer``'s units is off the input's centre along ``axis``, in pixels.

    A centred grid has its first and last units' receptive-field centres
    symmetric about the input's centre: ``c_0 + c_last = n - 1``.
    """
    last = tuple(n - 1 for n in layer.output_size)
    first_box = unit_box(layer, (0,) * len(last))[axis]
    last_box = unit_box(layer, last)[axis]
    if first_box is None or last_box is None:
        return None
    return Fraction(first_box[0] + first_box[1] + last_box[0] + last_box[1] - 2 * (size - 1), 4)


@rule(
    "RF106",
    "off-centre",
    "info",
    summary="Asymmetric padding shifts the output grid's receptive-field centres off the input's centre.",
    why="""
With TensorFlow's `same` padding when the total is odd, even kernels, or a
strided layer whose last window stops short of the input's end, a layer pads
more on one side than the other. Its units' receptive fields are then centred
half a pixel (times the stride so far) away from where a centred grid would
put them, and the shifts add up layer by layer. Predictions mapped back to
image coordinates with `u * stride` are off by that amount, and features
from such a backbone are misregistered with the image.
""",
    example="""
name: shifted
input: {size: [32, 32]}
layers:
  - {op: conv, out: 16, kernel: 2, padding: same}
""",
    fix="""
Use symmetric explicit padding with odd kernels, or pick an input size for
which every strided layer's windows end exactly at the input's last pixel.
When mapping outputs back to the image, add the reported shift.
""",
)
def check(ctx: ReviewContext) -> Iterator[Finding]:
    analysis = ctx.analysis
    out = ctx.output
    size = analysis.input_size
    dims = len(size)
    shifts: dict[str, list[Fraction | None]] = {}
    for name, layer in analysis.layers.items():
        shifts[name] = [grid_shift(layer, size[axis], axis) for axis in range(dims)]
    per_axis: dict[int, object] = {}
    for axis in range(dims):
        total = shifts[out.name][axis]
        if not total:
            continue
        contributors = []
        for name, layer in analysis.layers.items():
            if not layer.geometry.maps or len(layer.node.inputs) != 1:
                continue
            source = layer.node.inputs[0]
            before = Fraction(0) if source == INPUT else shifts[source][axis]
            after = shifts[name][axis]
            if before is not None and after is not None and after != before:
                contributors.append((name, after - before))
        per_axis[axis] = (total, tuple(contributors))
    for axes, (total, contributors) in group_axes(per_axis):  # type: ignore[misc]
        direction = "towards the end" if total > 0 else "towards the start"
        listed = ", ".join(f"`{name}` ({'+' if delta > 0 else ''}{number(delta)})" for name, delta in contributors[:4])
        if len(contributors) > 4:
            listed += f" and {len(contributors) - 4} more"
        first = contributors[0][0] if contributors else out.name
        yield ctx.finding(
            f"the output grid of `{out.name}` is off-centre by {number(abs(total))} px along {along(axes, dims)} "
            f"({direction}); shifts come from {listed}",
            layer=first,
            fix=f"use symmetric padding, or shift output coordinates by {number(-total)} px when mapping them to the image",
            axes=axes,
            shift=number(total),
            contributors={name: number(delta) for name, delta in contributors},
        )
