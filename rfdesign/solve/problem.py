"""The inverse problem: a spec with holes, a target, and how to check a candidate.

A *hole* is a ``{choose: [...]}`` on a layer's kernel, stride or dilation
(one hole per axis, or one for every axis when written as a scalar); an
*optional* layer may be dropped (it then passes its input through). An
:class:`Assignment` fills every hole and decides every optional layer;
:meth:`Problem.concrete` turns it into an ordinary graph, which the RF engine
analyses exactly (:meth:`Problem.evaluate`). The solvers only propose
assignments: every proposal is checked this way before it is reported.

Design rules (``forbid: [RF103, ...]``) are checked on the concrete
network by the review itself (:mod:`rfdesign.solve.rules`).

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
from rfdesign.solve.rules import ALIASES, DEFAULT_FORBID, RuleSet, rule_codes

ATTRS = ("kernel", "stride", "dilation")
#: what the solvers can minimise: parameters, multiply-adds, or the largest activation (channels x units)
OBJECTIVES = ("params", "flops", "activations")
#: keys of `target.constraints`
CONSTRAINT_KEYS = ("forbid", "allow", "defaults", *ALIASES)
#: the boolean constraint names (aliases of rule codes: no_unseen_pixels is RF103, no_gridding RF104)
CONSTRAINTS = tuple(ALIASES)

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
    activations: int  # the largest output of any design layer: channels x units
    objective: int
    receptive_field: tuple[int, ...]
    effective_stride: tuple[Any, ...]
    output_size: tuple[int, ...]
    depth: int
    meets_target: bool  # the target and every forbidden rule
    violations: tuple[str, ...]  # what misses the target, then the forbidden rules' findings, as text
    findings: tuple[Any, ...] = ()  # the review's findings for forbidden rules (rfdesign.review.finding.Finding)
    misses_target: bool = False  # the target itself is missed (not only a rule)


@dataclass(frozen=True)
class Unit:
    """What the solver keeps or drops as one: an optional layer, or an optional block use.

    ``entry`` is the node it reads; dropped, its ``output`` passes ``entry`` on.
    """

    name: str
    members: tuple[str, ...]
    entry: str
    output: str


@dataclass
class Problem:
    """A template graph, its holes and optional units, and what it must reach.

    ``optional`` lists the units' names (an optional layer's own name, or an
    optional block use's); ``kept`` in an :class:`Assignment` is keyed by them.
    """

    graph: Graph
    holes: list[Hole]
    optional: list[str]
    targets: AxisTargets
    objective: str = "params"
    top_k: int = 1
    rules: RuleSet = field(default_factory=RuleSet)
    design: list[str] = field(default_factory=list)  # the output node and its ancestors, in order
    units: dict[str, Unit] = field(default_factory=dict)

    @property
    def dims(self) -> int:
        return self.graph.dims

    def unit_of(self, name: str) -> str | None:
        """The optional unit node ``name`` belongs to (None for a layer that is always there)."""
        node = self.graph.nodes[name]
        if node.group:
            return node.group
        return name if node.optional else None

    def kept(self, assignment: Assignment, name: str) -> bool:
        """Whether node ``name`` is in the design ``assignment`` describes."""
        unit = self.unit_of(name)
        return unit is None or assignment.kept.get(unit, True)

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
            if (hole.node, hole.attr, hole.axes[0]) not in values:
                continue  # a partial assignment (one stage's) leaves other layers' holes out
            node = self.graph.nodes[hole.node]
            smallest = min(hole.options)
            unit = self.unit_of(hole.node)
            if unit is not None and not kept.get(unit, True):
                for axis in hole.axes:
                    values[(hole.node, hole.attr, axis)] = smallest
            elif hole.attr == "dilation":
                if any((hole.node, "kernel", axis) not in values and self._is_hole(node, "kernel", axis)
                       for axis in hole.axes):  # fmt: skip
                    continue
                kernels = [self.value(node, "kernel", axis, values) for axis in hole.axes]
                if all(k == 1 for k in kernels):
                    for axis in hole.axes:
                        values[(hole.node, hole.attr, axis)] = smallest
        return Assignment(values, dict(kept))

    @staticmethod
    def _is_hole(node: Node, attr: str, axis: int) -> bool:
        return isinstance(node.attrs.choices()[attr][axis], Choice)

    def value(self, node: Node, attr: str, axis: int, values: Mapping[Key, int]) -> int:
        current = node.attrs.choices()[attr][axis]
        if isinstance(current, Choice):
            return values[(node.name, attr, axis)]
        return int(current)

    def concrete(self, assignment: Assignment) -> Graph:
        """The template with every hole filled; a dropped layer becomes an identity."""
        nodes: dict[str, Node] = {}
        for name, node in self.graph.nodes.items():
            if not self.kept(assignment, name):
                unit = self.units[self.unit_of(name)]  # type: ignore[index]
                source = unit.entry if name == unit.output else node.inputs[0]
                nodes[name] = Node(name, ops.IDENTITY, (source,), node.location, node.path, "identity",
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
        if self.objective == "activations":
            return activations(analysis, self.design)
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
        misses = bool(violations)
        findings = tuple(self.rules.findings(analysis.graph, analysis))
        violations.extend(f"{f.code} {f.name}: {f.message}" for f in findings)
        depth = sum(
            1
            for name in self.design
            if analysis.layers[name].op in (ops.CONV, ops.MAXPOOL, ops.AVGPOOL) and self.kept(assignment, name)
        )
        return Evaluation(
            analysis=analysis,
            params=analysis.params,
            flops=analysis.flops,
            activations=activations(analysis, self.design),
            objective=self.objective_of(analysis),
            receptive_field=rf,
            effective_stride=stride,
            output_size=out.output_size,
            depth=depth,
            meets_target=not violations,
            violations=tuple(violations),
            findings=findings,
            misses_target=misses,
        )

    def with_rules(self, rules: RuleSet) -> Problem:
        """The same problem under other rules."""
        return replace(self, rules=rules)


def activations(analysis: Analysis, names: list[str]) -> int:
    """The largest output among ``names``: channels x units (elements of one sample's activation)."""
    return max((analysis.layers[name].channels * prod(analysis.layers[name].output_size) for name in names), default=0)


def rule_set(graph: Graph, overrides: dict[str, Any]) -> RuleSet:
    """The rules a design must pass: the defaults, less what is allowed, plus what is forbidden.

    From the spec's ``target.constraints`` (``forbid``, ``allow``, ``defaults``
    and the aliases ``no_unseen_pixels`` / ``no_gridding``) and the command
    line's ``forbid`` / ``allow`` / ``defaults`` / alias overrides. A default
    rule the spec's ``review:`` block turns off is not forbidden; the rules
    run with the spec's review options.
    """
    from rfdesign.review.rule import all_rules
    from rfdesign.review.runner import spec_config
    from rfdesign.spec.suggest import did_you_mean

    known = list(all_rules())
    config = spec_config(graph)
    target = graph.target
    constraints = dict(target.constraints or {}) if target is not None else {}
    forbid: list[str] = []
    allow: list[str] = []
    use_defaults = True
    for key, value in constraints.items():
        where = graph.locate(("target", "constraints", key))
        if key not in CONSTRAINT_KEYS:
            raise SpecError(
                f"unknown constraint `{key}`",
                where,
                did_you_mean(str(key), CONSTRAINT_KEYS) or f"constraints: {', '.join(CONSTRAINT_KEYS)}",
            )
        if key in ALIASES or key == "defaults":
            if not isinstance(value, bool):
                raise SpecError(f"`target.constraints.{key}` must be true or false", where)
            if key == "defaults":
                use_defaults = value
            elif value:
                forbid.append(ALIASES[key])
            continue
        codes = rule_codes(value, f"`target.constraints.{key}`", where, known)
        (forbid if key == "forbid" else allow).extend(codes)
    forbid.extend(overrides.get("forbid") or ())
    allow.extend(overrides.get("allow") or ())
    forbid.extend(code for alias, code in ALIASES.items() if overrides.get(alias))
    if overrides.get("defaults") is not None:
        use_defaults = bool(overrides["defaults"])
    explicit = set(forbid) - set(allow)
    chosen = set(explicit)
    if use_defaults:
        chosen |= {code for code in DEFAULT_FORBID if config.enabled(code) and code not in allow}
    order = list(DEFAULT_FORBID) + sorted(set(known) - set(DEFAULT_FORBID))
    return RuleSet(tuple(code for code in order if code in chosen), frozenset(explicit), config)


def build_problem(graph: Graph, overrides: dict[str, Any] | None = None) -> Problem:
    """Extract the holes, optional layers, target and rules of a template spec.

    ``overrides`` may set ``objective``, ``top_k``, and the rules (``forbid``,
    ``allow``: lists of codes; ``defaults``: whether the default rules apply;
    ``no_unseen_pixels``, ``no_gridding``: aliases); command-line options win
    over the spec's ``target:``.
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
    rules = rule_set(graph, overrides)
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
        for attr, values in node.attrs.choices().items():
            if attr in node.attrs.tied and isinstance(values[0], Choice):
                holes.append(Hole(name, attr, tuple(range(graph.dims)), values[0].options))
                continue
            for axis, value in enumerate(values):
                if isinstance(value, Choice):
                    holes.append(Hole(name, attr, (axis,), value.options))
        if node.optional and not node.group:
            if node.op in ops.MERGE_OPS:
                raise SpecError(f"a merge (`{name}`) cannot be optional", node.location)
            optional.append(name)  # that dropping it keeps the channels is checked below
    units = {name: Unit(name, (name,), graph.nodes[name].inputs[0], name) for name in optional}
    units.update(_group_units(graph, design))
    optional.extend(name for name in units if name not in optional)
    problem = Problem(
        graph=graph,
        holes=holes,
        optional=optional,
        targets=bounds,
        objective=overrides.get("objective") or target.objective,
        top_k=overrides.get("top_k") or target.top_k,
        rules=rules,
        design=design,
        units=units,
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


def _group_units(graph: Graph, design: list[str]) -> dict[str, Unit]:
    """The optional block uses: their members (in order), the one node they read, and their output."""
    members: dict[str, list[str]] = {}
    for name in design:
        group = graph.nodes[name].group
        if group:
            members.setdefault(group, []).append(name)
    units = {}
    for group, names in members.items():
        inside = set(names)
        outside = {s for n in names for s in graph.nodes[n].dependencies() if s not in inside}
        node = graph.nodes[names[-1]]
        if len(outside) != 1 or group not in inside:
            raise SpecError(
                f"the optional block use `{group}` reads {len(outside)} layers from outside; the solver can drop "
                "only a use with one input",
                node.location,
            )
        units[group] = Unit(group, tuple(names), outside.pop(), group)
    return units


def _check_optional_channels(problem: Problem) -> None:
    """A dropped unit passes its input on, so it must not change the channel count."""
    counts = channel_counts(problem.graph)
    for name in problem.optional:
        unit = problem.units[name]
        node = problem.graph.nodes[unit.output]
        before, after = counts[unit.entry], counts[unit.output]
        if before != after:
            what = "layer" if len(unit.members) == 1 else "block use"
            raise SpecError(
                f"optional {what} `{name}` changes the channels ({before} -> {after}); dropping it would break the network",
                node.location,
                "make optional only layers that keep the channel count",
            )


def weights(node: Node, kernel: tuple[int, ...], in_channels: int) -> int:
    """Parameters of a conv node with this kernel (the conv op's own count)."""
    return conv_parameters(node.attrs, in_channels, kernel)
