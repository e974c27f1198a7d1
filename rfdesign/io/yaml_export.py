"""A flat graph back to spec YAML: every layer explicit, named, and in order.

Used for the solver's filled-in proposals and by the importers. Values equal
to the spec language's defaults are left out so the result stays readable;
`rfdesign analyze` gives the same figures for the written spec as for the
graph it came from.
"""

from __future__ import annotations

from typing import Any

import yaml

from rfdesign.spec import ops
from rfdesign.spec.graph import INPUT, Choice, Graph, Node


def _axes(values: tuple[Any, ...]) -> Any:
    plain = [{"choose": list(v.options)} if isinstance(v, Choice) else v for v in values]
    if len({repr(v) for v in plain}) == 1:
        return plain[0]
    return plain


def _padding(padding: Any) -> Any:
    if padding == "same":
        return "same"
    pairs = list(padding)
    if all(before == after for before, after in pairs):
        return _axes(tuple(before for before, _ in pairs))
    return [[before, after] for before, after in pairs]


def layer_dict(node: Node, previous: str | None) -> dict[str, Any]:
    """One node as a spec layer mapping (``previous``: the layer written before it)."""
    written = node.source_op if node.source_op and ops.canonical(node.source_op) == node.op else node.op
    layer: dict[str, Any] = {"name": node.name, "op": written}
    if list(node.inputs) != [previous]:
        layer["from"] = node.inputs[0] if len(node.inputs) == 1 else list(node.inputs)
    op = node.op
    if op in (ops.CONV, ops.CONV_TRANSPOSE, ops.LINEAR) and node.out is not None:
        layer["out"] = node.out
    if op in ops.WINDOW_OPS:
        layer["kernel"] = _axes(node.kernel)
        default_stride = node.kernel if op in ops.POOL_OPS else (1,) * len(node.stride)
        if node.stride != default_stride:
            layer["stride"] = _axes(node.stride)
        if any(d != 1 for d in node.dilation):
            layer["dilation"] = _axes(node.dilation)
        padding = _padding(node.padding)
        if padding != 0:
            layer["padding"] = padding
        if op in ops.POOL_OPS and node.ceil_mode:
            layer["ceil_mode"] = True
        if op == ops.CONV_TRANSPOSE and any(node.output_padding):
            layer["output_padding"] = _axes(node.output_padding)
    if op in (ops.CONV, ops.CONV_TRANSPOSE):
        if node.groups != 1:
            layer["groups"] = node.groups
    if op in (ops.CONV, ops.CONV_TRANSPOSE, ops.LINEAR) and not node.bias:
        layer["bias"] = False
    if op == ops.GLOBAL_POOL:
        layer["mode"] = node.pool_mode
    if op == ops.UPSAMPLE:
        if node.factor is not None:
            layer["factor"] = _axes(node.factor)
        else:
            layer["size"] = _axes(node.size or ())
        if node.mode != "nearest":
            layer["mode"] = "bilinear" if len(node.factor or node.size or ()) == 2 else "linear"
        if node.align_corners:
            layer["align_corners"] = True
    if op == ops.NORM and not node.affine:
        layer["affine"] = False
    if op == ops.PAD:
        layer["padding"] = _padding(node.padding)
    if op == ops.CROP:
        if node.like is not None:
            layer["like"] = node.like
        else:
            layer["crop"] = _padding(node.crop)
    if op == ops.SELECT:
        layer["start"] = node.start
        if node.stop is not None:
            layer["stop"] = node.stop
    if op in (ops.SPACE_TO_DEPTH, ops.DEPTH_TO_SPACE):
        layer["factor"] = _axes(node.factor or ())
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
