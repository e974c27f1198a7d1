"""`rfdesign propose`: a template from a few numbers, for the solver to fill.

The template is a chain of ``depth_max`` convolutions with TensorFlow-style
``same`` padding (so the output size is ``ceil(input / effective stride)``):

* ``depth_min`` of them are always kept; the other ``depth_max - depth_min``
  are optional, spread evenly after the kept ones, so the solver picks the
  depth;
* every layer chooses its kernel, stride and dilation from the given lists;
* widths (the documented rule): the kept layers' widths grow geometrically
  from the minimum to the maximum of ``--channels`` (rounded to multiples of
  8); an optional layer keeps the width of the layer before it, so dropping
  it never breaks the channel count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rfdesign.errors import SpecError


@dataclass(frozen=True)
class ProposeRequest:
    input_size: tuple[int, ...]
    input_channels: int
    receptive_field: tuple[int | None, int | None]
    output_size: tuple[int, ...] | None
    depth: tuple[int, int]
    kernels: tuple[int, ...]
    strides: tuple[int, ...]
    dilations: tuple[int, ...]
    channels: tuple[int, int]
    objective: str = "params"
    top_k: int = 1
    constraints: tuple[str, ...] = ()


def widths(count: int, low: int, high: int) -> list[int]:
    """``count`` widths growing geometrically from ``low`` to ``high`` (multiples of 8 when ``low`` >= 8)."""
    if count == 1:
        return [low]
    result = []
    for index in range(count):
        value = low * (high / low) ** (index / (count - 1))
        result.append(int(round(value / 8)) * 8 if low >= 8 else int(round(value)))
    result[0], result[-1] = low, high
    return result


def template(request: ProposeRequest) -> dict[str, Any]:
    """The template spec data for a request (see the module docstring)."""
    low_depth, high_depth = request.depth
    if not 1 <= low_depth <= high_depth:
        raise SpecError(f"--depth must be MIN:MAX with 1 <= MIN <= MAX, got {low_depth}:{high_depth}")
    if high_depth > 256:
        raise SpecError(f"--depth {high_depth} is more than the 256 layers a template may have")
    kept_widths = widths(low_depth, *request.channels)
    optional = high_depth - low_depth
    per_slot = [optional // low_depth + (1 if i < optional % low_depth else 0) for i in range(low_depth)]

    def choose(values: tuple[int, ...]) -> Any:
        return values[0] if len(values) == 1 else {"choose": list(values)}

    layers = []
    for index, width in enumerate(kept_widths):
        base = {"op": "conv", "out": width, "kernel": choose(request.kernels), "stride": choose(request.strides),
                "dilation": choose(request.dilations), "padding": "same", "bias": False}
        layers.append({"name": f"conv{index + 1}", **base})
        for extra in range(per_slot[index]):
            layers.append({"name": f"conv{index + 1}_{chr(ord('a') + extra)}", **base, "optional": True})
    target: dict[str, Any] = {}
    low, high = request.receptive_field
    if low is not None or high is not None:
        target["receptive_field"] = low if low == high else {k: v for k, v in (("min", low), ("max", high)) if v is not None}
    if request.output_size is not None:
        target["output_size"] = list(request.output_size)
    target["objective"] = request.objective
    target["top_k"] = request.top_k
    if request.constraints:
        target["constraints"] = {name: True for name in request.constraints}
    return {
        "name": "proposed",
        "description": "template made by `rfdesign propose`; `rfdesign solve` fills the {choose: ...} holes",
        "input": {"size": list(request.input_size), "channels": request.input_channels},
        "target": target,
        "layers": layers,
    }
