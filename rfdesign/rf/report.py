"""The analysis as plain data: the stable JSON contract of ``rfdesign analyze``.

Integers stay integers; a rational that is not an integer becomes a string
such as ``"1/2"``. Every per-axis value is a list with one entry per spatial
axis. The top-level keys describe the primary output node (plus network
totals for ``params`` and ``flops``); ``layers`` has one entry per node in
topological order with the same keys plus ``name`` and ``op``.
docs/json-format.md documents every key.
"""

from __future__ import annotations

from fractions import Fraction
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


def _axis_lists(layer: LayerResult) -> dict[str, Any]:
    axes = layer.axes
    return {
        "receptive_field": [a.receptive_field for a in axes],
        "receptive_field_min": [a.receptive_field_min for a in axes],
        "receptive_field_position_min": [a.receptive_field_position_min for a in axes],
        "effective_stride": [number(a.effective_stride) for a in axes],
        "effective_padding": [a.effective_padding for a in axes],
        "centre": [number(a.centre) for a in axes],
        "box": [list(a.box) if a.box is not None else None for a in axes],
    }


def layer_data(analysis: Analysis, layer: LayerResult) -> dict[str, Any]:
    """One node as JSON-ready data."""
    node = layer.node
    first_input = node.inputs[0] if node.inputs else INPUT
    input_size = analysis.input_size if first_input == INPUT else analysis.layers[first_input].output_size
    data: dict[str, Any] = {
        "name": layer.name,
        "op": layer.op,
        "inputs": list(node.inputs),
        "input_size": list(input_size),
        "output_size": list(layer.output_size),
        "channels": layer.channels,
    }
    data.update(_axis_lists(layer))
    data["params"] = layer.params
    data["flops"] = layer.flops
    data["aligned"] = layer.aligned
    data["global_context"] = layer.global_context
    if layer.geometry.padding is not None:
        data["padding"] = [list(pair) for pair in layer.geometry.padding]
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
        data["layers"] = [layer_data(analysis, layer) for layer in analysis.layers.values()]
    return data
