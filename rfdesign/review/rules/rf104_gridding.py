"""RF104 gridding."""

from __future__ import annotations

from collections.abc import Iterator

from rfdesign.review.context import ReviewContext
from rfdesign.review.dilation import common_factor, hdc_m2, holes, suggest
from rfdesign.review.finding import Finding
from rfdesign.review.rule import rule
from rfdesign.review.rules._text import along, group_axes
from rfdesign.spec import ops
from rfdesign.spec.graph import INPUT, Graph

PASS_THROUGH = frozenset({ops.IDENTITY, ops.NORM})


def _conv_predecessor(graph: Graph, name: str) -> str | None:
    """The stride-1 conv feeding ``name`` directly or through pass-through ops, if any."""
    source = graph.nodes[name].inputs[0]
    while source != INPUT:
        node = graph.nodes[source]
        if node.op == ops.CONV:
            return source
        if node.op not in PASS_THROUGH or len(node.inputs) != 1:
            return None
        source = node.inputs[0]
    return None


def stacks(graph: Graph, axis: int) -> list[list[str]]:
    """Maximal chains of stride-1 convs (kernel > 1 along ``axis``) joined by pass-through ops."""

    def member(name: str) -> bool:
        node = graph.nodes[name]
        return node.op == ops.CONV and node.stride[axis] == 1 and node.kernel[axis] > 1  # type: ignore[operator]

    following: dict[str, str] = {}
    preceded: set[str] = set()
    for name in graph.nodes:
        if not member(name):
            continue
        previous = _conv_predecessor(graph, name)
        if previous is not None and member(previous) and previous not in following:
            following[previous] = name
            preceded.add(name)
    chains = []
    for name in graph.nodes:
        if member(name) and name not in preceded:
            chain = [name]
            while chain[-1] in following:
                chain.append(following[chain[-1]])
            chains.append(chain)
    return chains


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
stack reads and fires when they are not contiguous.
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
            kernels = tuple(int(graph.nodes[n].kernel[axis]) for n in chain)  # type: ignore[arg-type]
            rates = tuple(int(graph.nodes[n].dilation[axis]) for n in chain)  # type: ignore[arg-type]
            if len(chain) < 2 or max(rates) == 1:
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
