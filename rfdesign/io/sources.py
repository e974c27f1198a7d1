"""Where a network comes from: a YAML spec, an ONNX file, a Darknet cfg, or a PyTorch factory.

:func:`load_graph` is what every command calls with the user's SOURCE:

* ``*.yaml`` / ``*.yml``: a spec (docs/spec-format.md);
* ``*.onnx``: an ONNX model (extra ``rfdesign[onnx]``);
* ``*.cfg``: a Darknet cfg (no extra needed);
* ``package.module:Model`` (an ``nn.Module`` class, or a builder registered by
  torchvision or timm) or ``package.module:build(...)`` (any callable, written
  as a call with literal arguments): a PyTorch model, traced with torch.fx
  (extra ``rfdesign[torch]``; docs/interop.md says what is called, and how).

For imported models ``input_size`` is the size the model is imported at; for
specs it is left to the analysis (``--input-size`` overrides the spec's).
"""

from __future__ import annotations

import os
import re

from rfdesign.errors import Location, SpecError
from rfdesign.spec.graph import Graph

FACTORY = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*(\(.*\))?$")
KINDS = {".yaml": "spec", ".yml": "spec", ".onnx": "onnx", ".cfg": "darknet"}


def source_kind(source: str) -> str:
    """``spec``, ``onnx``, ``darknet`` or ``torch`` (a SpecError for anything else)."""
    extension = os.path.splitext(source)[1].lower()
    if extension in KINDS:
        return KINDS[extension]
    if not os.path.exists(source) and FACTORY.match(source):
        return "torch"
    if os.path.exists(source):
        raise SpecError(
            f"cannot tell what kind of model '{source}' is from its extension",
            Location(source),
            "use .yaml for a spec, .onnx for ONNX, .cfg for Darknet, or package.module:Model for PyTorch",
        )
    raise SpecError(
        f"no such file: '{source}'",
        hint="for a PyTorch model write package.module:Model or package.module:build(), "
        "e.g. torchvision.models:resnet50",
    )


def load_graph(source: str, output: str | None = None, input_size: tuple[int, ...] | None = None) -> Graph:
    """Load ``source`` as a graph; ``output`` (a layer name) picks its primary output node."""
    kind = source_kind(source)
    if kind == "spec":
        from rfdesign.spec.load import load_spec

        graph = load_spec(source)
        return with_output(graph, output) if output is not None else graph
    if kind == "onnx":
        from rfdesign.io.onnx_import import import_onnx

        return import_onnx(source, input_size, output)
    if kind == "darknet":
        from rfdesign.io.darknet import import_darknet

        return import_darknet(source, input_size, output)
    from rfdesign.io.torch_import import import_torch

    return import_torch(source, input_size, output)


def with_output(graph: Graph, output: str) -> Graph:
    """The same graph with ``output`` as its primary output node."""
    from dataclasses import replace

    from rfdesign.io.graph_builder import choose_output

    return replace(graph, outputs=choose_output(graph.nodes, graph.outputs, output, graph.name))
