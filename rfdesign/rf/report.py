"""The analysis as plain data: the stable JSON contract of ``rfdesign analyze``.

Integers stay integers; a rational that is not an integer becomes a string
such as ``"1/2"``. Every per-axis value is a list with one entry per spatial
axis. The top-level keys describe the primary output node (plus network
totals for ``params`` and ``flops``); ``layers`` has one entry per node in
topological order with the same keys plus ``name`` and ``op``.
docs/json-format.md documents every key.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from operator import attrgetter
from typing import Any

from rfdesign.rf.analysis import Analysis, LayerResult
from rfdesign.spec.graph import INPUT

SCHEMA_VERSION = 1


def number(value: Fraction | int | None) -> int | str | None:
    """An exact number for JSON: an int, or "p/q" for a non-integer rational."""
    if value is None:
        return None
    if isinstance(value, Fraction):
        return value.numerator if value.denominator == 1 else f"{value.numerator}/{value.denominator}"
    return value


_AXIS_FIELDS = attrgetter(
    "receptive_field",
    "receptive_field_min",
    "receptive_field_position_min",
    "effective_stride",
    "effective_padding",
    "centre",
    "box",
)


def _numbers(values: tuple[Any, ...]) -> list[Any]:
    return [value if type(value) is int else number(value) for value in values]


def _axis_lists(layer: LayerResult) -> dict[str, Any]:
    # one attrgetter call per axis, then one tuple per figure across the axes
    rf, rf_min, rf_position_min, stride, padding, centre, box = zip(*map(_AXIS_FIELDS, layer.axes))
    return {
        "receptive_field": list(rf),
        "receptive_field_min": list(rf_min),
        "receptive_field_position_min": list(rf_position_min),
        "effective_stride": _numbers(stride),
        "effective_padding": list(padding),
        "centre": _numbers(centre),
        "box": [list(b) if b is not None else None for b in box],
    }


def layer_data(analysis: Analysis, layer: LayerResult) -> dict[str, Any]:
    """One node as JSON-ready data."""
    node = layer.node
    geometry = layer.geometry
    inputs = node.inputs
    first_input = inputs[0] if inputs else INPUT
    input_size = analysis.input_size if first_input == INPUT else analysis.layers[first_input].geometry.output_size
    data: dict[str, Any] = {
        "name": node.name,
        "op": node.op,
        "inputs": list(inputs),
        "input_size": list(input_size),
        "output_size": list(geometry.output_size),
        "channels": geometry.channels,
    }
    data.update(_axis_lists(layer))
    data["params"] = geometry.params
    data["flops"] = geometry.flops
    data["aligned"] = layer.aligned
    data["global_context"] = layer.global_context
    if geometry.padding is not None:
        data["padding"] = [list(pair) for pair in geometry.padding]
    if layer.misalignment:
        data["misalignment"] = [
            {
                "axis": m.axis,
                "strides": [number(s) for s in m.strides],
                "centre_offset": number(m.centre_offset),
            }
            for m in layer.misalignment
        ]
    data["location"] = str(node.location)
    return data


def iter_layer_data(analysis: Analysis) -> Iterator[dict[str, Any]]:
    """:func:`layer_data` of every node in topological order, one at a time (for streaming a large report)."""
    for layer in analysis.layers.values():
        yield layer_data(analysis, layer)


def analysis_data(analysis: Analysis, layers: bool = True) -> dict[str, Any]:
    """The whole analysis as JSON-ready data (see module docstring)."""
    output = analysis.output
    data: dict[str, Any] = {
        "name": analysis.name,
        "input_size": list(analysis.input_size),
        "output": output.name,
        "outputs": list(analysis.outputs),
        "output_size": list(output.output_size),
        "channels": output.channels,
    }
    data.update(_axis_lists(output))
    data["params"] = analysis.params
    data["flops"] = analysis.flops
    data["aligned"] = output.aligned
    data["global_context"] = output.global_context
    data["schema_version"] = SCHEMA_VERSION
    if layers:
        data["layers"] = list(iter_layer_data(analysis))
    return data
