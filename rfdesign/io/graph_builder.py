"""One graph builder for every importer: typed nodes, unique names, pruning, default outputs, the engine's check.

The contract an importer (PyTorch, ONNX, Darknet, and any reader to come:
Keras, Caffe ...) follows to turn a model into a flat
:class:`~rfdesign.spec.graph.Graph`:

1. Make one :class:`GraphBuilder` per import, with the source's
   :class:`~rfdesign.errors.Location` (the default location of every node and
   of the builder's own errors) and the framework's name as its messages say
   it (``"PyTorch"``, ``"ONNX"``, ``"Darknet"``).
2. Name nodes. :meth:`GraphBuilder.unique` reserves a wanted name, suffixed
   ``_2``, ``_3`` ... while it is taken (``input`` always is); use it where the
   framework's own names may repeat (a module called twice, unnamed ONNX
   nodes). :meth:`GraphBuilder.add` takes the name as given and refuses one
   that already holds a node: that is a bug in the importer, a ``ValueError``.
3. Add nodes in topological order, every input before its readers, with
   :meth:`GraphBuilder.add`: a canonical op name (:mod:`rfdesign.ops`), the
   inputs, the output size and channels *the framework* gives (measured by
   running the model, or computed with the framework's own rules), and the
   op's typed attributes, either an instance of the op's ``attrs_type`` or
   keyword values that the op's ``make`` turns into one (an unknown name is a
   ``TypeError``: a misspelt attribute fails loudly, it is never dropped).
   Size windows with the engine's own arithmetic
   (:mod:`rfdesign.rf.geometry`: ``window_axis``, ``window_size``,
   ``same_padding``, ``transposed_size`` ...) instead of deriving it again.
   :meth:`GraphBuilder.amend` changes a node already added (new attribute
   values, a longer note) without touching its fields by hand.
4. Pick default outputs: :meth:`GraphBuilder.last_with_extent` walks back
   from a model output through nodes of spatial size 1 (global pooling, dense
   heads) and flattening nodes (``add(..., flattens=True)``) to the feature
   map that feeds them; :meth:`GraphBuilder.default_outputs` does it for
   every end, in order, without repeats.
5. :meth:`GraphBuilder.finish` makes the graph: with ``keep`` it drops every
   node that does not feed those nodes (image statistics used only for
   control flow, unused branches), then it analyses the graph with the
   engine and refuses any node whose size or channels differ from what the
   framework gave (a bug in the importer, never the user's), and finally
   puts the ``output`` the user asked for (a SpecError naming the nearest
   layer when there is none of that name) before the default outputs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from rfdesign.errors import Location, SpecError
from rfdesign.spec.graph import INPUT, Attrs, Graph, Node, ancestors
from rfdesign.spec.suggest import did_you_mean

__all__ = ["GraphBuilder", "choose_output", "unique_name"]


def unique_name(wanted: str, used: set[str]) -> str:
    """``wanted`` (or ``node``), suffixed ``_2``, ``_3`` ... until it is not in ``used``; records it."""
    name = wanted or "node"
    if name not in used:
        used.add(name)
        return name
    k = 2
    while f"{name}_{k}" in used:
        k += 1
    used.add(f"{name}_{k}")
    return f"{name}_{k}"


def choose_output(
    names: Iterable[str],
    outputs: Sequence[str],
    output: str | None,
    graph_name: str,
    location: Location | None = None,
    hint: str | None = None,
) -> tuple[str, ...]:
    """``outputs`` with ``output`` (a layer name) first; a located SpecError when no layer has that name.

    The error's hint is the nearest name, else ``hint`` (how the importer names its layers).
    """
    if output is None:
        return tuple(outputs)
    names = list(names)
    if output not in names:
        raise SpecError(
            f"no layer named `{output}` in `{graph_name}`", location, did_you_mean(output, names) or hint
        )
    return (output,) + tuple(o for o in outputs if o != output)


class GraphBuilder:
    """Nodes of one import, with the size and channels the framework gave each (see the module docstring)."""

    def __init__(self, location: Location, framework: str):
        self.location = location
        self.framework = framework
        self.nodes: dict[str, Node] = {}
        #: name -> (channels, spatial size) as the framework gives them
        self.shapes: dict[str, tuple[int, tuple[int, ...]]] = {}
        self._flattening: set[str] = set()
        self._used: set[str] = {INPUT}

    # -- names ---------------------------------------------------------------------------------------

    def unique(self, wanted: str) -> str:
        """Reserve ``wanted`` (or ``node``), suffixed ``_2``, ``_3`` ... while it is taken."""
        return unique_name(wanted, self._used)

    # -- nodes ---------------------------------------------------------------------------------------

    def add(
        self,
        name: str,
        op: str,
        inputs: Sequence[str],
        size: Sequence[int],
        channels: int,
        attrs: Attrs | None = None,
        /,
        *,
        source_op: str = "",
        note: str | None = None,
        location: Location | None = None,
        flattens: bool = False,
        **values: Any,
    ) -> str:
        """Add node ``name`` computing canonical ``op`` from ``inputs``; returns ``name``.

        ``size`` and ``channels`` are the node's output as the framework gives it.
        ``attrs`` is an instance of the op's ``attrs_type``, or else ``values``
        are passed to the op's ``make`` (its defaults fill the rest); the
        arguments before ``attrs`` are positional, so an attribute may be
        called ``size`` (an upsample's).
        ``source_op`` is the word the model used (default: ``op``);
        ``flattens`` marks a node after which the map has no spatial extent
        although its own size is the map's (a flatten before a dense head).
        """
        from rfdesign.ops import op_for

        if name in self.nodes or name == INPUT:
            raise ValueError(f"node name `{name}` added twice")
        for source in inputs:
            if source != INPUT and source not in self.nodes:
                raise ValueError(f"node `{name}` reads `{source}`, which is not a node yet")
        kind = op_for(op)
        if attrs is None:
            attrs = kind.make(len(size), **values)
        elif values:
            raise TypeError(f"node `{name}`: give the attributes of `{op}` as one object or as keywords, not both")
        elif not isinstance(attrs, kind.attrs_type):
            raise TypeError(f"node `{name}`: `{op}` takes {kind.attrs_type.__name__}, not {type(attrs).__name__}")
        self.nodes[name] = Node(
            name,
            op,
            tuple(inputs),
            location or self.location,
            source_op=source_op or op,
            note=note,
            attrs=attrs,
        )
        self.shapes[name] = (int(channels), tuple(int(n) for n in size))
        self._used.add(name)
        if flattens:
            self._flattening.add(name)
        return name

    def amend(self, name: str, *, note: str = "", **values: Any) -> None:
        """Replace some attributes of node ``name`` (by field name; unknown ones are a TypeError), extend its note."""
        node = self.nodes[name]
        if values:
            node.attrs = node.attrs.with_values(**values)
        if note:
            node.note = (node.note or "") + note

    # -- outputs -------------------------------------------------------------------------------------

    def last_with_extent(self, name: str) -> str:
        """Walk back from ``name`` through nodes of spatial size 1 and flattening nodes to the map they start from.

        ``name`` itself when the walk reaches the input (nothing has extent).
        """
        current = name
        while current != INPUT and (current in self._flattening or all(n == 1 for n in self.shapes[current][1])):
            current = self.nodes[current].inputs[0]
        return name if current == INPUT else current

    def default_outputs(self, ends: Iterable[str]) -> tuple[str, ...]:
        """For each end (a model output), the last node with spatial extent before it, in order, without repeats."""
        return tuple(dict.fromkeys(self.last_with_extent(end) for end in ends))

    # -- the graph -----------------------------------------------------------------------------------

    def finish(
        self,
        name: str,
        input_size: Sequence[int],
        input_channels: int,
        outputs: Sequence[str],
        output: str | None = None,
        *,
        keep: Iterable[str] | None = None,
        naming: str | None = None,
        file: str | None = None,
        input_location: Location | None = None,
    ) -> Graph:
        """The graph: pruned to the ancestors of ``keep`` (when given), checked against the engine, ``output`` first.

        ``naming`` is the hint when ``output`` names no layer (how the importer
        names layers). ``file`` defaults to the builder's location's file and
        ``input_location`` to the builder's location.
        """
        nodes = self.nodes
        if keep is not None:
            kept = ancestors(self.nodes, keep)
            nodes = {n: node for n, node in self.nodes.items() if n in kept}
        size = tuple(int(n) for n in input_size)
        self.check(name, size, input_channels, nodes)
        chosen = choose_output(nodes, outputs, output, name, self.location, naming)
        return Graph(
            name=name,
            input_size=size,
            input_channels=input_channels,
            nodes=nodes,
            outputs=chosen,
            file=file if file is not None else self.location.file,
            input_location=input_location if input_location is not None else self.location,
        )

    def check(self, name: str, input_size: tuple[int, ...], input_channels: int, nodes: dict[str, Node]) -> None:
        """The engine must give every node the size and channels the framework gave it."""
        from rfdesign.rf import analyze

        if not nodes:
            return
        graph = Graph(name, input_size, input_channels, nodes, (next(reversed(nodes)),), self.location.file,
                      self.location)  # fmt: skip
        analysis = analyze(graph)
        for n, layer in analysis.layers.items():
            want = self.shapes[n]
            if (layer.channels, tuple(layer.output_size)) != want:
                raise SpecError(
                    f"node `{n}` ({nodes[n].note}): {self.framework} gives {want[0]} channels of {list(want[1])},"
                    f" rfdesign computes {layer.channels} channels of {list(layer.output_size)}",
                    self.location,
                    "this is a bug in the importer; please report it with the model",
                )
