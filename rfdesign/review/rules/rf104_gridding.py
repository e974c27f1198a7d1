"""RF104 gridding."""

from __future__ import annotations

from collections.abc import Iterator

from rfdesign.review.context import ReviewContext
from rfdesign.rf.dilation import chain_paths, common_factor, hdc_m2, holes, suggest
from rfdesign.review.finding import Finding
from rfdesign.review.rule import rule
from rfdesign.review.rules._text import along, group_axes
from rfdesign import ops
from rfdesign.spec.graph import Graph

def stacks(graph: Graph, axis: int) -> list[list[str]]:
    """Runs of stride-1 convolutions with kernel > 1 along ``axis`` (see :func:`chain_paths`)."""
    found: list[list[str]] = []
    for path in chain_paths(graph):
        run: list[str] = []
        for name in path + [None]:  # type: ignore[list-item]
            node = graph.nodes[name] if name is not None else None
            strided = node is not None and node.op == ops.CONV and node.attrs.stride[axis] != 1
            if node is None or strided:
                if len(run) >= 2 and run not in found:
                    found.append(run)
                run = []
                continue
            if node.op == ops.CONV and node.attrs.kernel[axis] > 1:  # type: ignore[operator]
                run.append(name)
    return found


@rule(
    "RF104",
    "gridding",
    "warning",
    summary="Stacked dilated convolutions leave holes in their dense receptive field (gridding).",
    why="""
Stacking convolutions whose dilation rates share a common factor (2, 2, 2 or
2, 4, 8 with kernel 3) makes every unit read only a sparse lattice of its
receptive field: neighbouring outputs are computed from disjoint sets of
inputs and the output shows a checkerboard. Wang et al. ("Understanding
Convolution for Semantic Segmentation", WACV 2018) call this gridding and
propose Hybrid Dilated Convolution: rates without a common factor (e.g.
1, 2, 5) satisfying M_2 <= K. This check computes exactly which offsets the
stack reads and fires when they are not contiguous. A stack is a run of
stride-1 convolutions along a chain of single-input layers; 1x1
convolutions and pass-through layers in between do not end it, a strided
layer, a pooling layer or a merge does.
""",
    example="""
name: gridded
input: {size: [64, 64]}
layers:
  - {op: conv, out: 32, kernel: 3, dilation: 2, padding: 2}
  - {op: conv, out: 32, kernel: 3, dilation: 2, padding: 2}
  - {op: conv, out: 32, kernel: 3, dilation: 2, padding: 2}
""",
    fix="Use rates without a common factor that satisfy HDC, e.g. 1, 2, 3 or 1, 2, 5 instead of 2, 2, 2.",
)
def check(ctx: ReviewContext) -> Iterator[Finding]:
    graph = ctx.graph
    found: dict[tuple[str, ...], dict[int, object]] = {}
    for axis in range(graph.dims):
        for chain in stacks(graph, axis):
            kernels = tuple(int(graph.nodes[n].attrs.kernel[axis]) for n in chain)  # type: ignore[arg-type]
            rates = tuple(int(graph.nodes[n].attrs.dilation[axis]) for n in chain)  # type: ignore[arg-type]
            if max(rates) == 1:
                continue
            missing, span = holes(kernels, rates)
            if missing:
                found.setdefault(tuple(chain), {})[axis] = (kernels, rates, missing, span)
    for chain, per_axis in found.items():
        for axes, (kernels, rates, missing, span) in group_axes(per_axis):  # type: ignore[misc]
            factor = common_factor(rates)
            better = suggest(kernels, rates)
            why = f"common factor {factor}" if factor > 1 else f"HDC's M_2 = {hdc_m2(rates)} > K = {max(kernels)}"
            yield ctx.finding(
                f"{len(chain)} stacked convs `{chain[0]}` .. `{chain[-1]}` with dilations {', '.join(map(str, rates))} "
                f"({why}) read only {span - missing} of the {span} positions of their receptive field along "
                f"{along(axes, graph.dims)}: gridding",
                layer=chain[0],
                fix=(f"use dilations {', '.join(map(str, better))}" if better else "use rates without a common factor"),
                axes=axes,
                layers=list(chain),
                dilations=list(rates),
                holes=missing,
                span=span,
                suggestion=list(better) if better else None,
            )
