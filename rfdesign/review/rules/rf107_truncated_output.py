"""RF107 truncated-output."""

from __future__ import annotations

from collections.abc import Iterator

from rfdesign.errors import SpecError
from rfdesign.review.context import ReviewContext
from rfdesign.review.finding import Finding
from rfdesign.review.rule import rule
from rfdesign.review.rules._text import along, names, size_text, unit_words
from rfdesign.rf.analysis import Analysis, analyze
from rfdesign import ops
from rfdesign.spec.graph import INPUT, Graph

SEARCH = 64


def truncating_layers(analysis: Analysis) -> list[tuple[str, int, int]]:
    """(layer, axis, rows dropped): window layers whose last window stops before their input's end."""
    found = []
    for name, layer in analysis.layers.items():
        node = layer.node
        if node.op not in ops.WINDOW_OPS or node.op == ops.CONV_TRANSPOSE:
            continue
        source = node.inputs[0]
        in_size = analysis.input_size if source == INPUT else analysis.layers[source].output_size
        assert layer.geometry.padding is not None
        for axis, (n, m) in enumerate(zip(in_size, layer.output_size)):
            stride, kernel, dilation = node.attrs.stride[axis], node.attrs.kernel[axis], node.attrs.dilation[axis]
            end = (m - 1) * stride - layer.geometry.padding[axis][0] + dilation * (kernel - 1)  # type: ignore[operator]
            if end < n - 1:
                found.append((name, axis, n - 1 - end))
    return found


def clean_size(graph: Graph, size: tuple[int, ...], axes: list[int]) -> tuple[int | None, int | None]:
    """The nearest input sizes below and above ``size`` (changed on ``axes``) where no layer truncates."""
    below = above = None
    base = size[axes[0]]
    for delta in range(1, SEARCH + 1):
        for candidate in (base - delta, base + delta):
            if candidate < 1 or (candidate < base and below is not None) or (candidate > base and above is not None):
                continue
            trial = tuple(candidate if axis in axes else n for axis, n in enumerate(size))
            try:
                analysis = analyze(graph, trial)
            except SpecError:
                continue
            if not any(axis in axes for _, axis, _ in truncating_layers(analysis)):
                if candidate < base:
                    below = candidate
                else:
                    above = candidate
        if below is not None and above is not None:
            break
    return below, above


@rule(
    "RF107",
    "truncated-output",
    "warning",
    summary="Floor division drops the last rows or columns of the input: no output unit sees them.",
    why="""
A strided convolution or pooling computes `floor((n + padding - k') / s) + 1`
outputs; when the division leaves a remainder, the last rows of its input
fall after the last window and are ignored. At the network's input that means
a strip along the bottom and right edges that the model never looks at, and
predictions there are extrapolated. It depends on the input size, so the
check suggests nearby sizes that avoid it.
""",
    example="""
name: truncating
input: {size: [225, 225]}
layers:
  - {op: conv, out: 32, kernel: 3, stride: 2}
  - {op: conv, out: 64, kernel: 3, stride: 2}
""",
    fix="Use an input size the network divides evenly (the check suggests the nearest ones), or pad the input.",
)
def check(ctx: ReviewContext) -> Iterator[Finding]:
    size = ctx.analysis.input_size
    dims = len(size)
    dropped = {}
    for axis, (_, _, trailing) in enumerate(ctx.unseen):
        if trailing:
            dropped[axis] = trailing
    if not dropped:
        return
    causes = [name for name, axis, _ in truncating_layers(ctx.analysis) if axis in dropped]
    causes = list(dict.fromkeys(causes))
    axes = sorted(dropped)
    if len(set(size)) == 1:
        axes = list(range(dims))
    below, above = clean_size(ctx.graph, size, axes)
    parts = [
        f"the last {len(rows)} {unit_words(axis, dims)}" if len(rows) > 1 else f"the last {unit_words(axis, dims)[:-1]}"
        for axis, rows in dropped.items()
    ]
    suggestion = " or ".join(str(s) for s in (below, above) if s is not None)
    fix = f"use input size {suggestion} along {along(axes, dims)}" if suggestion else "pad the input"
    yield ctx.finding(
        f"{' and '.join(parts)} of the {size_text(size)} input reach no output unit"
        + (f": floor division at {names(causes, 3)} drops them" if causes else ""),
        layer=causes[0] if causes else ctx.output.name,
        fix=fix,
        dropped={str(axis): rows for axis, rows in dropped.items()},
        layers=causes,
        suggested_sizes=[s for s in (below, above) if s is not None],
    )
