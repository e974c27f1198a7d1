"""A flat graph back to spec YAML: every layer explicit, named, and in order.

Used for the solver's filled-in proposals and by the importers. Values equal
to the spec language's defaults are left out so the result stays readable;
`rfdesign analyze` gives the same figures for the written spec as for the
graph it came from.
"""

from __future__ import annotations

from typing import Any

import yaml

from rfdesign import ops
from rfdesign.spec.graph import INPUT, Graph, Node


def layer_dict(node: Node, previous: str | None) -> dict[str, Any]:
    """One node as a spec layer mapping (``previous``: the layer written before it)."""
    written = node.source_op if node.source_op and ops.canonical(node.source_op) == node.op else node.op
    layer: dict[str, Any] = {"name": node.name, "op": written}
    if list(node.inputs) != [previous]:
        layer["from"] = node.inputs[0] if len(node.inputs) == 1 else list(node.inputs)
    layer.update(ops.op_for(node.op).layer_fields(node.attrs))
    if node.optional:
        layer["optional"] = True
    if node.note:
        layer["note"] = node.note
    return layer


def spec_dict(graph: Graph, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The graph as spec data (``extra`` keys such as ``target`` are appended)."""
    layers = []
    previous: str | None = INPUT
    for node in graph.nodes.values():
        layers.append(layer_dict(node, previous))
        previous = node.name
    data: dict[str, Any] = {
        "name": graph.name,
        "input": {"size": list(graph.input_size), "channels": graph.input_channels},
        "layers": layers,
    }
    if list(graph.outputs) != [previous]:
        data["output"] = graph.outputs[0] if len(graph.outputs) == 1 else list(graph.outputs)
    data.update(extra or {})
    return data


class _Dumper(yaml.SafeDumper):
    """Block style at the top, flow style for each layer and short lists."""


def _represent_dict(dumper: yaml.SafeDumper, data: dict[str, Any]) -> yaml.Node:
    flow = "op" in data or "size" in data or set(data) <= {"min", "max", "choose"}
    return dumper.represent_mapping("tag:yaml.org,2002:map", data.items(), flow_style=flow)


def _represent_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    flow = all(not isinstance(item, dict) for item in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_Dumper.add_representer(dict, _represent_dict)
_Dumper.add_representer(list, _represent_list)


def dump(data: dict[str, Any], header: str = "", notes_as_comments: bool = False) -> str:
    """Spec data as YAML text, with an optional comment header.

    With ``notes_as_comments`` each layer's ``note`` (e.g. where an imported
    layer came from) is written as a comment at the end of its line instead.
    """
    comments: list[str | None] = []
    if notes_as_comments:
        layers = []
        for layer in data.get("layers", []):
            layer = dict(layer)
            comments.append(layer.pop("note", None))
            layers.append(layer)
        data = {**data, "layers": layers}
    text = yaml.dump(data, Dumper=_Dumper, sort_keys=False, width=100000, allow_unicode=True)
    if notes_as_comments:
        lines = text.splitlines()
        start = lines.index("layers:") + 1
        for offset, comment in enumerate(comments):
            if comment:
                lines[start + offset] += "  # " + " ".join(comment.split())
        text = "\n".join(lines) + "\n"
    if header:
        text = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines()) + text
    return text
