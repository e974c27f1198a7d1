"""RF110 cheaper-equivalent."""

from __future__ import annotations

from collections.abc import Iterator
from math import prod

from rfdesign.review.context import ReviewContext
from rfdesign.review.finding import Finding
from rfdesign.review.rule import rule
from rfdesign import ops
from rfdesign.spec.graph import INPUT


@rule(
    "RF110",
    "cheaper-equivalent",
    "info",
    summary="A large kernel whose receptive field a stack of 3x3 convolutions reaches with fewer parameters.",
    why="""
Simonyan & Zisserman (VGG, ICLR 2015) observed that a stack of two 3x3
convolutions has the receptive field of one 5x5 and three that of a 7x7, with
fewer parameters (18 C^2 and 27 C^2 against 25 C^2 and 49 C^2) and more
non-linearities; He et al.'s "Bag of Tricks" (CVPR 2019) applies the same to
ResNet's 7x7 stem. The stack below keeps the layer's receptive-field growth
and effective stride exactly (the stride moves to the last 3x3), so the
network's figures do not change. Computation can grow, because the first
3x3s run before the stride; the message gives both counts.
""",
    example="""
name: big-kernel
input: {size: [64, 64], channels: 64}
layers:
  - {op: conv, out: 64, kernel: 7, padding: 3}
""",
    fix="Replace the layer by (k - 1) / 2 stacked 3x3 convolutions, with its stride on the last one.",
    options=(("min_saving", "report only alternatives that save at least this share of parameters (0.2)"),),
)
def check(ctx: ReviewContext) -> Iterator[Finding]:
    min_saving = ctx.option("min_saving")
    analysis = ctx.analysis
    for name, layer in analysis.layers.items():
        node = layer.node
        if node.op != ops.CONV or len(set(node.attrs.kernel)) != 1 or set(node.attrs.dilation) != {1}:
            continue
        kernel = int(node.attrs.kernel[0])  # type: ignore[arg-type]
        if kernel < 5 or kernel % 2 == 0:
            continue
        source = node.inputs[0]
        in_size = analysis.input_size if source == INPUT else analysis.layers[source].output_size
        in_channels = analysis.graph.input_channels if source == INPUT else analysis.layers[source].channels
        out_channels = layer.channels
        groups = node.attrs.group_count(in_channels)
        dims = len(layer.output_size)
        taps = 3**dims
        depth = (kernel - 1) // 2
        bias = out_channels if node.attrs.bias else 0
        first = taps * (in_channels // groups) * out_channels  # Cin -> Cout
        later = taps * (out_channels // groups) * out_channels  # Cout -> Cout
        stack_params = first + (depth - 1) * later + depth * bias
        saving = 1 - stack_params / layer.params
        if saving < min_saving:
            continue
        # the first depth-1 convs run at the input's resolution (stride 1, padding 1), the last one strided
        full, strided = prod(in_size), prod(layer.output_size)
        stack_flops = full * first + (depth - 2) * full * later + strided * later
        size = "x".join([str(kernel)] * dims)
        yield ctx.finding(
            f"`{name}` ({size}, {in_channels}->{out_channels} channels, {layer.params:,} params): {depth} stacked "
            f"3x3 convs with the stride on the last reach the same receptive field and stride with {stack_params:,} "
            f"params ({saving:.0%} fewer); multiply-adds {layer.flops:,} -> {stack_flops:,}",
            layer=name,
            fix=f"replace it by {depth} stacked 3x3 convs (padding 1), stride {node.attrs.stride[0]} on the last",
            params=layer.params,
            alternative_params=stack_params,
            saving=round(saving, 4),
            flops=layer.flops,
            alternative_flops=stack_flops,
        )
