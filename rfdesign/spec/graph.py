"""The flat graph of primitive ops that a spec expands to.

Blocks and ``repeat`` are gone; every node has a unique name, a canonical op,
its inputs, and per-axis attributes already normalised to tuples with one
entry per spatial axis. Nodes are kept in a topological order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
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
#: per-axis (before, after) padding, or "same" (TensorFlow's rule, resolved against the input size)
PaddingSpec = Union[str, tuple[tuple[int, int], ...]]


@dataclass(slots=True)
class Node:
    """One primitive op in the flat graph."""

    name: str
    op: str
    inputs: tuple[str, ...]
    location: Location
    path: tuple[Any, ...] = ()
    source_op: str = ""
    kernel: tuple[Dim, ...] = ()
    stride: tuple[Dim, ...] = ()
    dilation: tuple[Dim, ...] = ()
    padding: PaddingSpec = ()
    output_padding: tuple[int, ...] = ()
    ceil_mode: bool = False
    groups: int | str = 1
    out: int | None = None
    bias: bool = True
    factor: tuple[int, ...] | None = None
    size: tuple[int, ...] | None = None
    mode: str = "nearest"
    align_corners: bool = False
    crop: tuple[tuple[int, int], ...] | None = None
    like: str | None = None
    pool_mode: str = "avg"
    affine: bool = True
    optional: bool = False
    note: str | None = None
    scope: str = ""
    tied: frozenset[str] = frozenset()  # attributes written as one `{choose: ...}` for every axis
    start: int = 0  # select: first channel kept
    stop: int | None = None  # select: one past the last channel kept

    def free_choices(self) -> list[str]:
        """Names of attributes that still hold a :class:`Choice`."""
        found = []
        for attr in ("kernel", "stride", "dilation"):
            if any(isinstance(value, Choice) for value in getattr(self, attr)):
                found.append(attr)
        return found


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
        node = nodes[name]
        seen.add(name)
        stack.extend(node.inputs)
        if node.like is not None:
            stack.append(node.like)
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
