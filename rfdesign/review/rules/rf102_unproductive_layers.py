"""RF102 unproductive-layers."""

from __future__ import annotations

from collections.abc import Iterator

from rfdesign.review.context import ReviewContext
from rfdesign.review.finding import Finding
from rfdesign.review.rule import rule
from rfdesign.review.rules._text import count, names, size_text
from rfdesign import ops
from rfdesign.spec.graph import INPUT


@rule(
    "RF102",
    "unproductive-layers",
    "warning",
    summary="Layers whose input already sees the whole image on every path, so they add no new context.",
    why="""
Richter et al. ("Should You Go Deeper? Optimizing Convolutional Neural Network
Architectures without Training", ICMLA 2021, and their rfa-toolbox) show that
convolutional layers whose input already has a receptive field at least as
large as the image cannot integrate new spatial context; they barely improve
accuracy and can be removed or moved earlier. On multi-path networks the
smallest field over paths (`receptive_field_min`) decides, since information
can bypass layers through skip connections. A layer is listed when that
smallest field of its input covers the input on every axis.
""",
    example="""
name: too-deep-for-its-input
input: {size: [32, 32]}
layers:
  - {op: conv, out: 16, kernel: 3, padding: 1}
  - {op: maxpool, kernel: 2}
  - {op: conv, out: 32, kernel: 3, padding: 1}
  - {op: maxpool, kernel: 2}
  - {op: conv, out: 64, kernel: 3, padding: 1}
  - {op: conv, out: 64, kernel: 3, padding: 1}
  - {op: conv, out: 64, kernel: 3, padding: 1}
  - {op: conv, out: 64, kernel: 3, padding: 1}
  - {op: conv, out: 64, kernel: 3, padding: 1}
""",
    fix="""
Remove the listed layers or move their capacity before the first of them, or
train at a larger input size where they become productive.
""",
)
def check(ctx: ReviewContext) -> Iterator[Finding]:
    analysis = ctx.analysis
    size = analysis.input_size
    unproductive: list[str] = []
    spent: dict[str, int] = {}
    for name, layer in analysis.layers.items():
        if layer.op not in (ops.CONV, ops.CONV_TRANSPOSE) or layer.params == 0:
            continue
        if all(n == 1 for n in layer.output_size):
            continue  # a head on a pooled vector, global by design
        source = layer.node.inputs[0]
        if source == INPUT:
            continue
        figures = analysis.layers[source].axes
        if all(axis.receptive_field_min >= n for axis, n in zip(figures, size)):
            unproductive.append(name)
            spent[name] = layer.params
    if not unproductive:
        return
    params = sum(spent.values())
    share = params / analysis.params if analysis.params else 0
    yield ctx.finding(
        f"{count(len(unproductive), 'layer')} cannot add context: on every path their input already sees the whole "
        f"{size_text(size)} input: {names(unproductive)}; they spend {params:,} parameters ({share:.0%} of the network)",
        layer=unproductive[0],
        fix=f"remove them or move their capacity before `{unproductive[0]}`, or use a larger input",
        layers=unproductive,
        params=spent,
        total_params=params,
    )
