"""The inverse problem: a spec with holes, a target, and how to check a candidate.

A *hole* is a ``{choose: [...]}`` on a layer's kernel, stride or dilation
(one hole per axis, or one for every axis when written as a scalar); an
*optional* layer may be dropped (it then passes its input through). An
:class:`Assignment` fills every hole and decides every optional layer;
:meth:`Problem.concrete` turns it into an ordinary graph, which the RF engine
analyses exactly (:meth:`Problem.evaluate`). The solvers only propose
assignments: every proposal is checked this way before it is reported.

Assignments are canonical, so that two different assignments are two
different networks: a dilation does not matter on an axis where the kernel
is 1, and nothing matters in a dropped layer; such values are set to the
smallest option.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from math import prod
from typing import Any

from rfdesign.errors import SpecError
from rfdesign.rf.analysis import Analysis, analyze
from rfdesign.ops.conv import conv_parameters
from rfdesign.rf.layer import output_channels
from rfdesign import ops
from rfdesign.spec.graph import INPUT, Choice, Graph, Node, ancestors
from rfdesign.spec.target import AxisTargets, targets, within

#: ops the solver can reason about on the path to the output
SUPPORTED_OPS = frozenset({ops.CONV, ops.MAXPOOL, ops.AVGPOOL, ops.IDENTITY, ops.NORM, ops.ADD, ops.CONCAT, ops.PAD})
ATTRS = ("kernel", "stride", "dilation")
CONSTRAINTS = ("no_unseen_pixels", "no_gridding")

Key = tuple[str, str, int]  # (node, attribute, axis)


@dataclass(frozen=True)
class Hole:
    """One free choice: ``attr`` of ``node`` on ``axes`` takes one of ``options``."""

    node: str
    attr: str
    axes: tuple[int, ...]
    options: tuple[int, ...]


@dataclass(frozen=True)
class Assignment:
    """Values for every hole, per (node, attribute, axis), and which optional layers are kept."""

    values: Mapping[Key, int]
    kept: Mapping[str, bool]

    def key(self) -> tuple[Any, ...]:
        return (tuple(sorted(self.values.items())), tuple(sorted(self.kept.items())))


@dataclass(frozen=True)
class Evaluation:
    """What the RF engine says of a concrete network."""

    analysis: Analysis
    params: int
    flops: int
    objective: int
    receptive_field: tuple[int, ...]
    effective_stride: tuple[Any, ...]
    output_size: tuple[int, ...]
    depth: int
    meets_target: bool
    violations: tuple[str, ...]


@dataclass
class Problem:
    """A template graph, its holes and optional layers, and what it must reach."""

    graph: Graph
    holes: list[Hole]
    optional: list[str]
    targets: AxisTargets
    objective: str = "params"
    top_k: int = 1
    constraints: dict[str, bool] = field(default_factory=dict)
    design: list[str] = field(default_factory=list)  # the output node and its ancestors, in order

    @property
    def dims(self) -> int:
        return self.graph.dims

    def options(self, node: str, attr: str, axis: int) -> tuple[int, ...]:
        """The values ``attr`` of ``node`` may take on ``axis`` (one value when fixed)."""
        values = self.graph.nodes[node].attrs.choices().get(attr)
        if values is None:
            return (1,)  # an op without this attribute acts as if it were 1
        value = values[axis]
        return value.options if isinstance(value, Choice) else (int(value),)

    def canonical(self, values: dict[Key, int], kept: dict[str, bool]) -> Assignment:
        """The canonical form of an assignment (see the module docstring)."""
        values = dict(values)
        for hole in self.holes:
            node = self.graph.nodes[hole.node]
            smallest = min(hole.options)
            if not kept.get(hole.node, True):
                for axis in hole.axes:
                    values[(hole.node, hole.attr, axis)] = smallest
            elif hole.attr == "dilation":
                kernels = [self.value(node, "kernel", axis, values) for axis in hole.axes]
                if all(k == 1 for k in kernels):
                    for axis in hole.axes:
                        values[(hole.node, hole.attr, axis)] = smallest
        return Assignment(values, dict(kept))

    def value(self, node: Node, attr: str, axis: int, values: Mapping[Key, int]) -> int:
        current = node.attrs.choices()[attr][axis]
        if isinstance(current, Choice):
            return values[(node.name, attr, axis)]
        return int(current)

    def concrete(self, assignment: Assignment) -> Graph:
        """The template with every hole filled; a dropped layer becomes an identity."""
        nodes: dict[str, Node] = {}
        for name, node in self.graph.nodes.items():
            if not assignment.kept.get(name, True):
                nodes[name] = Node(name, ops.IDENTITY, node.inputs, node.location, node.path, "identity",
                                   scope=node.scope, note="dropped by the solver")
                continue
            changes = {
                attr: tuple(self.value(node, attr, axis, assignment.values) for axis in range(self.dims))
                for attr in node.free_choices()
            }
            if changes:
                node = replace(node, attrs=node.attrs.with_values(**changes, tied=frozenset()), optional=False)
            nodes[name] = node
        return replace(self.graph, nodes=nodes)

    def objective_of(self, analysis: Analysis) -> int:
        """The objective counted over the design (the output node and its ancestors)."""
        layers = analysis.layers
        if self.objective == "flops":
            return sum(layers[name].flops for name in self.design)
        return sum(layers[name].params for name in self.design)

    def evaluate(self, assignment: Assignment) -> Evaluation:
        """Analyze the concrete network exactly and check it against the target."""
        analysis = analyze(self.concrete(assignment))
        out = analysis.output
        rf = tuple(axis.receptive_field for axis in out.axes)
        stride = tuple(axis.effective_stride for axis in out.axes)
        violations = []
        checks = (
            ("receptive field", self.targets.receptive_field, rf),
            ("output size", self.targets.output_size, out.output_size),
            ("effective stride", self.targets.effective_stride, stride),
        )
        for label, bounds, values in checks:
            if bounds is None:
                continue
            for axis, (value, axis_bounds) in enumerate(zip(values, bounds)):
                if not within(value, axis_bounds):
                    violations.append(f"{label} {value} on axis {axis + 1} is outside {axis_bounds}")
        violations.extend(self._constraint_violations(analysis))
        depth = sum(
            1
            for name in self.design
            if analysis.layers[name].op in (ops.CONV, ops.MAXPOOL, ops.AVGPOOL) and assignment.kept.get(name, True)
        )
        return Evaluation(
            analysis=analysis,
            params=analysis.params,
            flops=analysis.flops,
            objective=self.objective_of(analysis),
            receptive_field=rf,
            effective_stride=stride,
            output_size=out.output_size,
            depth=depth,
            meets_target=not violations,
            violations=tuple(violations),
        )

    def _constraint_violations(self, analysis: Analysis) -> list[str]:
        found = []
        if self.constraints.get("no_unseen_pixels") or self.constraints.get("no_gridding"):
            from rfdesign.review.config import ReviewConfig
            from rfdesign.review.runner import review

            codes = []
            if self.constraints.get("no_unseen_pixels"):
                codes.append("RF103")
            if self.constraints.get("no_gridding"):
                codes.append("RF104")
            result = review(analysis.graph, ReviewConfig(select=tuple(codes)), analysis)
            found.extend(f"{f.code} {f.name}: {f.message}" for f in result.findings)
        return found


def build_problem(graph: Graph, overrides: dict[str, Any] | None = None) -> Problem:
    """Extract the holes, optional layers and target of a template spec.

    ``overrides`` may set ``objective``, ``top_k`` and constraint flags
    (command-line options win over the spec's ``target:``).
    """
    overrides = overrides or {}
    target = graph.target
    if target is None:
        raise SpecError(
            "the spec has no `target:` block, so there is nothing to solve for",
            graph.input_location,
            "add e.g. `target: {receptive_field: {min: 200, max: 220}, output_size: [14, 14]}`",
        )
    bounds = targets(graph)
    if bounds.receptive_field is None and bounds.output_size is None and bounds.effective_stride is None:
        raise SpecError(
            "`target:` sets neither receptive_field, output_size nor effective_stride",
            graph.locate(("target",)),
        )
    constraints = dict(target.constraints or {})
    for key, value in constraints.items():
        if key not in CONSTRAINTS:
            from rfdesign.spec.suggest import did_you_mean

            raise SpecError(
                f"unknown constraint `{key}`",
                graph.locate(("target", "constraints", key)),
                did_you_mean(key, CONSTRAINTS) or f"constraints: {', '.join(CONSTRAINTS)}",
            )
        if not isinstance(value, bool):
            raise SpecError(
                f"`target.constraints.{key}` must be true or false", graph.locate(("target", "constraints", key))
            )
    for key in CONSTRAINTS:
        if overrides.get(key):
            constraints[key] = True
    needed = ancestors(graph.nodes, [graph.output])
    design = [name for name in graph.nodes if name in needed]
    holes: list[Hole] = []
    optional: list[str] = []
    for name, node in graph.nodes.items():
        has_hole = bool(node.free_choices())
        if (has_hole or node.optional) and name not in design:
            raise SpecError(
                f"layer `{name}` has free choices but does not feed the output `{graph.output}`",
                node.location,
                "the solver designs the path to the output; fix this layer's values or move the output",
            )
        if name in design and node.op not in SUPPORTED_OPS:
            raise SpecError(
                f"`rfdesign solve` cannot yet design through `{node.op}` (layer `{name}`)",
                node.location,
                f"supported on the path to the output: {', '.join(sorted(SUPPORTED_OPS))}",
            )
        for attr, values in node.attrs.choices().items():
            if attr in node.attrs.tied and isinstance(values[0], Choice):
                holes.append(Hole(name, attr, tuple(range(graph.dims)), values[0].options))
                continue
            for axis, value in enumerate(values):
                if isinstance(value, Choice):
                    holes.append(Hole(name, attr, (axis,), value.options))
        if node.optional:
            if node.op in ops.MERGE_OPS:
                raise SpecError(f"a merge (`{name}`) cannot be optional", node.location)
            optional.append(name)  # that dropping it keeps the channels is checked below
    problem = Problem(
        graph=graph,
        holes=holes,
        optional=optional,
        targets=bounds,
        objective=overrides.get("objective") or target.objective,
        top_k=overrides.get("top_k") or target.top_k,
        constraints=constraints,
        design=design,
    )
    _check_optional_channels(problem)
    if not holes and not optional:
        raise SpecError(
            "the spec has no free choices ({choose: [...]}) and no optional layers, so there is nothing to solve",
            graph.input_location,
            "use `rfdesign check` to compare a finished design with its target",
        )
    return problem


def channel_counts(graph: Graph) -> dict[str, int]:
    """Output channels of every node (and ``input``): they do not depend on any choice."""
    counts = {INPUT: graph.input_channels}
    for name, node in graph.nodes.items():
        counts[name] = output_channels(node, [counts[source] for source in node.inputs])
    return counts


def _check_optional_channels(problem: Problem) -> None:
    """A dropped layer passes its input on, so it must not change the channel count."""
    counts = channel_counts(problem.graph)
    for name in problem.optional:
        node = problem.graph.nodes[name]
        before, after = counts[node.inputs[0]], counts[name]
        if before != after:
            raise SpecError(
                f"optional layer `{name}` changes the channels ({before} -> {after}); dropping it would break the network",
                node.location,
                "make optional only layers that keep the channel count",
            )


def weights(node: Node, kernel: tuple[int, ...], in_channels: int) -> int:
    """Parameters of a conv node with this kernel (the conv op's own count)."""
    return conv_parameters(node.attrs, in_channels, kernel)
