"""RF103 unseen-pixels."""

from __future__ import annotations

from collections.abc import Iterator

from rfdesign.review.context import ReviewContext
from rfdesign.review.finding import Finding
from rfdesign.review.rule import rule
from rfdesign.review.rules._text import size_text, unit_words
from rfdesign.rf.coverage import window_has_gaps
from rfdesign import ops


def hole_makers(ctx: ReviewContext, axis: int) -> list[str]:
    """Layers whose own windows leave interior gaps in their input along ``axis``."""
    found = []
    for name, layer in ctx.analysis.layers.items():
        node = layer.node
        if node.op not in ops.WINDOW_OPS or node.op == ops.CONV_TRANSPOSE:
            continue
        if window_has_gaps(int(node.attrs.kernel[axis]), int(node.attrs.stride[axis]), int(node.attrs.dilation[axis])):  # type: ignore[arg-type]
            found.append(name)
    return found


def _sample(indices: list[int]) -> str:
    shown = ", ".join(str(i) for i in indices[:6])
    return shown + (", ..." if len(indices) > 6 else "")


@rule(
    "RF103",
    "unseen-pixels",
    "warning",
    summary="Some input pixels inside the image reach no output unit at all (gaps).",
    why="""
When a layer's stride exceeds what its (dilated) kernel covers, e.g. a
1x1 convolution with stride 2 or a 2x2 pool with stride 3, the windows of
neighbouring units leave gaps, and the pixels in them never influence the
output: the network is blind there, whatever it learns. The check walks back
from every output unit over the real, finite feature maps.
""",
    example="""
name: gappy
input: {size: [32, 32]}
layers:
  - {op: conv, out: 16, kernel: 1, stride: 2}
  - {op: conv, out: 16, kernel: 3, padding: 1}
""",
    fix="Make every strided layer's effective kernel at least its stride, e.g. kernel 3 with stride 2.",
)
def check(ctx: ReviewContext) -> Iterator[Finding]:
    size = ctx.analysis.input_size
    dims = len(size)
    missing = []
    for axis, (leading, interior, _) in enumerate(ctx.unseen):
        if leading or interior:
            missing.append((axis, sorted(leading + interior)))
    if not missing:
        return
    unseen_share = 1.0
    for axis, n in enumerate(size):
        holes = next((len(indices) for a, indices in missing if a == axis), 0)
        unseen_share *= 1 - holes / n
    fraction = 1 - unseen_share
    parts = [
        f"{len(indices)} of {size[axis]} {unit_words(axis, dims)} ({_sample(indices)})" for axis, indices in missing
    ]
    makers = [name for axis, _ in missing for name in hole_makers(ctx, axis)]
    makers = list(dict.fromkeys(makers))
    where = f"; gaps first appear at `{makers[0]}`" if makers else ""
    first = makers[0] if makers else ctx.output.name
    detail = ""
    if makers:
        node = ctx.graph.nodes[first]
        axis = missing[0][0]
        detail = f" (stride {node.attrs.stride[axis]} > effective kernel {node.attrs.dilation[axis] * (node.attrs.kernel[axis] - 1) + 1})"
    yield ctx.finding(
        f"{fraction:.1%} of the {size_text(size)} input is never seen by any output unit: "
        + "; ".join(parts)
        + f" fall in gaps{where}{detail}",
        layer=first,
        fix="give every strided layer an effective kernel at least as large as its stride",
        unseen_fraction=round(fraction, 6),
        unseen={str(axis): indices for axis, indices in missing},
        layers=makers,
    )
