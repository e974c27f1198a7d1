"""Where a network comes from: a YAML spec (and, with extras, other model formats).

:func:`load_graph` is what every command calls with the user's SOURCE.
"""

from __future__ import annotations

from rfdesign.errors import SpecError
from rfdesign.spec.graph import Graph


def load_graph(source: str, output: str | None = None) -> Graph:
    """Load ``source`` as a graph; ``output`` (a layer name) overrides its output node."""
    from rfdesign.spec.load import load_spec

    graph = load_spec(source)
    if output is not None:
        graph = with_output(graph, output)
    return graph


def with_output(graph: Graph, output: str) -> Graph:
    """The same graph with ``output`` as its primary output node."""
    from dataclasses import replace

    from rfdesign.spec.suggest import did_you_mean

    if output not in graph.nodes:
        raise SpecError(f"no layer named `{output}` in `{graph.name}`", hint=did_you_mean(output, graph.nodes))
    return replace(graph, outputs=(output,) + tuple(o for o in graph.outputs if o != output))
