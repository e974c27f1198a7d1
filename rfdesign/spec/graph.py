"""The flat graph of primitive ops that a spec expands to.

Blocks and ``repeat`` are gone; every node has a unique name, a canonical op,
its inputs, and per-axis attributes already normalised to tuples with one
entry per spatial axis. Nodes are kept in a topological order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Union

from rfdesign.errors import Location

INPUT = "input"


@dataclass(frozen=True)
class Choice:
    """A hole left for the solver: one of ``options`` (``{choose: [...]}``)."""

    options: tuple[int, ...]

    def __str__(self) -> str:
        return "{" + "|".join(str(option) for option in self.options) + "}"


Dim = Union[int, Choice]
#: per-axis (before, after) padding, or a rule resolved against the input size and the effective kernel:
#: "same" (TensorFlow's), "causal" (all before), "anticausal" (all after)
PaddingSpec = Union[str, tuple[tuple[int, int], ...]]


@dataclass(frozen=True, slots=True)
class Attrs:
    """Base of every op's typed attributes (see :mod:`rfdesign.ops`); itself, the attributes of ops with none."""

    def references(self) -> tuple[str, ...]:
        """Other nodes this op reads besides its inputs (e.g. the layer a crop matches)."""
        return ()

    def choices(self) -> dict[str, tuple[Any, ...]]:
        """The per-axis attributes that may hold solver holes (``{choose: [...]}``), by name."""
        return {}

    def with_values(self, **values: Any) -> Attrs:
        """A copy with some attributes replaced."""
        return replace(self, **values)

    def renamed(self, rename: Callable[[str], str]) -> Attrs:
        """A copy whose references to other nodes go through ``rename``."""
        return self

    def axis(self, axis: int) -> Attrs:
        """The attributes of one spatial axis, as a 1-D op's (per-axis values cut to that axis)."""
        return self


#: the attributes of an op that has none (merges, identities)
NO_ATTRS = Attrs()


@dataclass(slots=True)
class Node:
    """One primitive op in the flat graph.

    ``op`` is a canonical op name (:mod:`rfdesign.ops`); ``attrs`` its typed
    attributes (the op's ``attrs_type``: kernel, stride … for a convolution).
    ``source_op`` is the word the spec (or the imported model) used, e.g.
    ``relu`` for an identity; ``scope`` the block use the node comes from;
    ``group`` the optional block use whose nodes the solver keeps or drops together.
    """

    name: str
    op: str
    inputs: tuple[str, ...]
    location: Location
    path: tuple[Any, ...] = ()
    source_op: str = ""
    attrs: Attrs = NO_ATTRS
    optional: bool = False
    note: str | None = None
    scope: str = ""
    group: str = ""  # the optional block use this node belongs to: the solver keeps or drops it whole

    def dependencies(self) -> tuple[str, ...]:
        """Every node this one reads: its inputs, then its references (a crop's ``like``)."""
        references = self.attrs.references()
        return self.inputs + references if references else self.inputs

    def free_choices(self) -> list[str]:
        """Names of attributes that still hold a :class:`Choice`."""
        return [
            attr for attr, values in self.attrs.choices().items() if any(isinstance(v, Choice) for v in values)
        ]


def ancestors(nodes: Mapping[str, Node], names: Iterable[str]) -> set[str]:
    """``names`` and every node they depend on (inputs and ``like`` references), ``input`` left out.

    A name missing from ``nodes`` raises KeyError.
    """
    seen: set[str] = set()
    stack = list(names)
    while stack:
        name = stack.pop()
        if name == INPUT or name in seen:
            continue
        seen.add(name)
        stack.extend(nodes[name].dependencies())
    return seen


@dataclass
class Graph:
    """A network: its input, its nodes in topological order, and its outputs."""

    name: str
    input_size: tuple[int, ...]
    input_channels: int
    nodes: dict[str, Node]
    outputs: tuple[str, ...]
    file: str = "<spec>"
    input_location: Location | None = None
    target: Any = None
    review: dict[str, Any] | None = None
    raw: dict[str, Any] | None = field(default=None, repr=False)
    positions: Any = field(default=None, repr=False)  # rfdesign.spec.yamlload.Positions, for located errors

    def locate(self, path: tuple[Any, ...]) -> Location:
        """The location of a path in the spec file (the file itself when unknown)."""
        if self.positions is None:
            return Location(self.file)
        return self.positions.locate(path)

    @property
    def dims(self) -> int:
        return len(self.input_size)

    @property
    def output(self) -> str:
        """The primary output node (the first of ``outputs``)."""
        return self.outputs[0]

    def consumers(self) -> dict[str, list[str]]:
        """For each node (and ``input``), the nodes that read it, in order."""
        result: dict[str, list[str]] = {INPUT: []}
        for name in self.nodes:
            result[name] = []
        for node in self.nodes.values():
            for source in node.inputs:
                result[source].append(node.name)
        return result
