"""The general z3 model: any DAG of the ops the RF engine reads, 1-D to 3-D, per-axis holes.

Each hole is a one-hot set of Booleans over its options; each optional layer
a Boolean. Each node and axis has a one-hot set of Booleans over the
*states* it can have: the feature map's size and the engine's exact index
map from its units to the input (a period Q and shift R: effective stride
R/Q, fractional after upsampling, and which residues see nothing), found
by propagating every option forward through the op's own geometry (the
engine's arithmetic, TensorFlow's ``same`` and the causal rules included).
Per node and axis, integers ``lo[r]``, ``hi[r]`` (r < Q) are the first and
last input pixel of unit r's region; unit ``r + qQ`` is shifted by ``qR``.
A transition (an input state and an option) moves them by constants or
takes the min / max over a few of them, so the model is Boolean plus linear
integer arithmetic with no products or divisions:

* merges: equal sizes and strides (the solver never proposes branches that
  step at different strides), the regions' union per unit, as the engine;
* the output's receptive field is the largest ``hi[r] - lo[r] + 1`` over its
  units; output size and stride targets forbid states;
* rules with an exact linear form are constraints: RF104 (every stack of
  two or more stride-1 convolutions reads contiguous offsets: sorted by
  dilation, each rate at most one plus the span of the smaller ones), RF105
  (merged branches' centres equal, or every branch causal or anti-causal),
  RF108 (a cap on the receptive field); RF107 has a necessary one (the last
  output unit's region reaches the last pixel). Every design is reviewed
  afterwards, and what a rule rejects is excluded with a clause
  (:meth:`Z3Model.nogood`) over the prefix that already breaks it.

The objective is a linear sum (parameters, multiply-adds) or a maximum
(the largest activation). Canonical forms are constraints (a kernel-1 axis
uses the smallest dilation; a dropped layer the smallest options), so
blocking one design never blocks an equivalent one.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from fractions import Fraction
from itertools import product
from math import gcd, prod
from typing import Any

from rfdesign import ops
from rfdesign.errors import SpecError, require
from rfdesign.ops.conv import conv_parameters
from rfdesign.rf.dilation import chain_paths
from rfdesign.rf.maps import OpMap
from rfdesign.solve.problem import Assignment, Evaluation, Problem, channel_counts, weights
from rfdesign.solve.rules import prefix_violations
from rfdesign.spec.graph import INPUT, Choice, Node

MAX_SHAPES = 4096
MAX_PERIOD = 64
WINDOW_ATTRS = ("kernel", "stride", "dilation")


class NoDesign(Exception):
    """Building the model already shows that no design exists (the message says why)."""


class Timeout(Exception):
    """The deadline passed while the model was being built."""


@dataclass(frozen=True)
class State:
    """A node's feature map along one axis: its size, and the index map's period, shift and empty residues."""

    size: int
    period: int
    shift: int
    empty: frozenset[int] = frozenset()

    @property
    def stride(self) -> Fraction:
        return Fraction(self.shift, self.period)


class Z3Model:
    """The z3 encoding of one problem (see the module docstring)."""

    def __init__(self, problem: Problem, deadline: float | None = None):
        z3 = require("z3", "z3")  # a core dependency; the message helps a broken install
        self.z3 = z3
        self.problem = problem
        self.graph = problem.graph
        self.dims = problem.dims
        self.deadline = deadline
        self.solver = z3.Solver()
        self.channels = channel_counts(self.graph)
        self.choice: dict[tuple[str, str, int], dict[int, Any]] = {}
        self.kept: dict[str, Any] = {}
        self.states: dict[tuple[str, int], list[State]] = {}
        self.state: dict[tuple[str, int], list[Any]] = {}
        self.lo: dict[tuple[str, int], list[Any]] = {}
        self.hi: dict[tuple[str, int], list[Any]] = {}
        self.tracked: dict[str, Any] = {}  # labelled target parts, for unsat cores
        self._gates: dict[str, set[int]] = {}
        self._choices()
        self._input()
        for name in problem.design:
            self._tick()
            self._node(self.graph.nodes[name])
        self._targets()
        rules = problem.rules
        if "RF104" in rules:
            self._gridding()
        if "RF105" in rules:
            self._alignment()
        self.cost = self._objective()

    def _tick(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise Timeout()

    # -- variables -------------------------------------------------------------------------------

    def _choices(self) -> None:
        z3 = self.z3
        for hole in self.problem.holes:
            booleans = {value: z3.Bool(f"{hole.node}.{hole.attr}.{hole.axes}={value}") for value in hole.options}
            self.solver.add(z3.PbEq([(b, 1) for b in booleans.values()], 1))
            for axis in hole.axes:
                self.choice[(hole.node, hole.attr, axis)] = booleans
        for name in self.problem.optional:
            self.kept[name] = z3.Bool(f"{name}.kept")

    def options(self, node: Node, attr: str, axis: int) -> dict[int, Any]:
        """value -> Boolean (True for a fixed value; 1 for an attribute the op does not have)."""
        values = node.attrs.choices().get(attr)
        if values is None:
            return {1: True}
        value = values[axis]
        if isinstance(value, Choice):
            return self.choice[(node.name, attr, axis)]
        return {int(value): True}

    def keeps(self, name: str) -> Any:
        """The Boolean that keeps node ``name`` (True when it is always there)."""
        unit = self.problem.unit_of(name)
        return True if unit is None else self.kept[unit]

    def _bypass(self, node: Node) -> str | None:
        """What a dropped node passes on: its unit's entry for the unit's output, else its own input."""
        unit = self.problem.unit_of(node.name)
        if unit is None:
            return None
        entry = self.problem.units[unit]
        return entry.entry if node.name == entry.output else node.inputs[0]

    def _vars(self, name: str, states: list[State], axis: int) -> None:
        z3 = self.z3
        if not states:
            raise NoDesign(f"no choice of layer `{name}` fits (its output would be empty, or every option is forbidden)")
        if len(states) > MAX_SHAPES:
            raise SpecError(
                f"layer `{name}` can take more than {MAX_SHAPES} sizes and strides: the template is too free to model",
                self.graph.nodes[name].location,
                "add an output_size or effective_stride target, or fix some strides",
            )
        period = max(s.period for s in states)
        if period > MAX_PERIOD:
            raise SpecError(
                f"layer `{name}`: units repeat their regions only every {period} units, more than the solver models",
                self.graph.nodes[name].location,
                "use fewer or smaller fractional strides (upsampling) on the path to the output",
            )
        key = (name, axis)
        self.states[key] = states
        self.state[key] = [z3.Bool(f"{name}.state{axis}={s.size}/{s.shift}:{s.period}") for s in states]
        self.solver.add(z3.PbEq([(b, 1) for b in self.state[key]], 1))
        self.lo[key] = [z3.Int(f"{name}.lo{axis}.{r}") for r in range(period)]
        self.hi[key] = [z3.Int(f"{name}.hi{axis}.{r}") for r in range(period)]

    def _input(self) -> None:
        for axis, n in enumerate(self.graph.input_size):
            self._vars(INPUT, [State(n, 1, 1)], axis)
            key = (INPUT, axis)
            self.solver.add(self.state[key][0], self.lo[key][0] == 0, self.hi[key][0] == 0)

    def at(self, key: tuple[str, int], state: State, x: int, bound: str) -> Any:
        """``lo`` or ``hi`` of unit ``x`` (any integer) of a node in ``state``."""
        q, r = divmod(x, state.period)
        variables = self.lo[key] if bound == "lo" else self.hi[key]
        return variables[r] + q * state.shift

    # -- layers ----------------------------------------------------------------------------------

    def _node(self, node: Node) -> None:
        if node.op in ops.MERGE_OPS:
            self._merge(node)
            return
        z3 = self.z3
        add = self.solver.add
        source = node.inputs[0]
        kept = self.keeps(node.name)
        bypass = self._bypass(node)
        references = node.attrs.references()
        op = ops.op_for(node.op)
        for axis in range(self.dims):
            inp = (source, axis)
            transitions = []  # (condition, output state, {residue: (lo terms, hi terms)})
            reference_states = [(None, True)]
            if references:
                ref_key = (references[0], axis)
                reference_states = list(zip(self.states[ref_key], self.state[ref_key]))
            for (values, chosen), (ref_state, ref_bool) in product(self._combos(node, axis), reference_states):
                view = replace(node, attrs=node.attrs.axis(axis).with_values(**values) if values else node.attrs.axis(axis))
                for index, state in enumerate(self.states[inp]):
                    self._tick()
                    here = z3.And(self.state[inp][index], chosen, ref_bool)
                    try:
                        geometry = op.geometry(
                            view, [(state.size,)], [self.channels[source]],
                            [(ref_state.size,)] if ref_state is not None else [],
                        )  # fmt: skip
                    except SpecError:
                        add(z3.Implies(kept, z3.Not(here)))
                        continue
                    composed = self._compose(inp, state, geometry.maps[0], geometry.output_size[0])
                    if composed is None:
                        add(z3.Implies(kept, z3.Not(here)))
                        continue
                    transitions.append((here, *composed))
            states = list(dict.fromkeys(t[1] for t in transitions))
            if bypass is not None:
                states = list(dict.fromkeys(states + self.states[(bypass, axis)]))
            self._vars(node.name, states, axis)
            out = (node.name, axis)
            index_of = {state: i for i, state in enumerate(states)}
            for here, result, bounds in transitions:
                self._tick()
                effects = [self.state[out][index_of[result]]]
                for r, (lows, highs) in bounds.items():
                    effects.append(self._extreme(self.lo[out][r], lows, min))
                    effects.append(self._extreme(self.hi[out][r], highs, max))
                add(z3.Implies(z3.And(here, kept), z3.And(effects)))
            if bypass is not None:
                self._pass_through(out, (bypass, axis), states, kept)
        self._canonical(node)

    def _pass_through(self, out: tuple[str, int], source: tuple[str, int], states: list[State], kept: Any) -> None:
        """Dropped, a node's state and regions are its bypass source's."""
        z3 = self.z3
        for index, state in enumerate(self.states[source]):
            same = [self.state[out][states.index(state)]]
            for r in range(state.period):
                same += [self.lo[out][r] == self.lo[source][r], self.hi[out][r] == self.hi[source][r]]
            self.solver.add(z3.Implies(z3.And(z3.Not(kept), self.state[source][index]), z3.And(same)))

    def _extreme(self, target: Any, terms: list[Any], pick: Any) -> Any:
        """``target`` is the min (or max) of ``terms``."""
        z3 = self.z3
        if len(terms) == 1:
            return target == terms[0]
        if pick is min:
            return z3.And(z3.And([target <= t for t in terms]), z3.Or([target == t for t in terms]))
        return z3.And(z3.And([target >= t for t in terms]), z3.Or([target == t for t in terms]))

    def _compose(
        self, key: tuple[str, int], state: State, op_map: OpMap, size: int
    ) -> tuple[State, dict[int, tuple[list[Any], list[Any]]]] | None:
        """The output state of ``op_map`` applied to ``state``, and per output residue its lo / hi terms.

        The same composition as the engine's (rfdesign.rf.maps.compose): unit v
        reads the taps of the map; its region spans its non-empty taps'
        regions. Per residue of the input's period only the extreme tap can
        give the min (or max), so each bound is a min or max of a few terms.
        """
        q, r = state.period, state.shift
        repeat = q // gcd(q, op_map.shift) if op_map.shift else 1
        period = op_map.period * repeat
        shift = r * (op_map.shift * repeat // q)
        if period > MAX_PERIOD:
            return None
        bounds: dict[int, tuple[list[Any], list[Any]]] = {}
        empty = []
        for v in range(period):
            taps = op_map.taps_at(v)
            # every residue modulo q first (and last) appears among the first (and last) q taps
            lowest: dict[int, int] = {}
            highest: dict[int, int] = {}
            for x in taps[:q]:
                if x % q not in state.empty:
                    lowest.setdefault(x % q, x)
            for x in reversed(taps[-q:]):
                if x % q not in state.empty:
                    highest.setdefault(x % q, x)
            if not lowest:
                empty.append(v)
                continue
            lows = list(dict.fromkeys(self.at(key, state, x, "lo") for x in lowest.values()))
            highs = list(dict.fromkeys(self.at(key, state, x, "hi") for x in highest.values()))
            bounds[v] = (lows, highs)
        return State(size, period, shift, frozenset(empty)), bounds

    def _combos(self, node: Node, axis: int) -> list[tuple[dict[str, tuple[int]], Any]]:
        """Every (kernel, stride, dilation) of ``node`` on ``axis`` with the Boolean that selects it."""
        z3 = self.z3
        if not ops.op_for(node.op).window:
            return [({}, True)]
        kernels, strides, dilations = (self.options(node, attr, axis) for attr in WINDOW_ATTRS)
        result = []
        for (k, kb), (s, sb), (d, db) in product(kernels.items(), strides.items(), dilations.items()):
            result.append(({"kernel": (k,), "stride": (s,), "dilation": (d,)}, z3.And(kb, sb, db)))
        return result

    def _merge(self, node: Node) -> None:
        z3 = self.z3
        add = self.solver.add
        gates = self._gate_inputs(node)
        self._gates[node.name] = gates
        sources = [s for i, s in enumerate(node.inputs) if i not in gates]
        kept = self.keeps(node.name)
        bypass = self._bypass(node)
        for axis in range(self.dims):
            keys = [(s, axis) for s in sources]
            transitions = []
            for combination in product(*(range(len(self.states[k])) for k in keys)):
                self._tick()
                chosen = [self.states[k][i] for k, i in zip(keys, combination)]
                here = z3.And([self.state[k][i] for k, i in zip(keys, combination)])
                if len({s.size for s in chosen}) > 1 or len({s.stride for s in chosen}) > 1:
                    add(z3.Implies(kept, z3.Not(here)))  # the engine refuses unequal sizes; unequal strides: never
                    continue
                period = 1
                for s in chosen:
                    period = period * s.period // gcd(period, s.period)
                if period > MAX_PERIOD:
                    add(z3.Implies(kept, z3.Not(here)))
                    continue
                first = chosen[0]
                shift = first.shift * (period // first.period)
                empty = [v for v in range(period) if all(v % s.period in s.empty for s in chosen)]
                bounds = {}
                for v in range(period):
                    if v in empty:
                        continue
                    present = [(k, s) for k, s in zip(keys, chosen) if v % s.period not in s.empty]
                    lows = [self.at(k, s, v, "lo") for k, s in present]
                    highs = [self.at(k, s, v, "hi") for k, s in present]
                    bounds[v] = (lows, highs)
                transitions.append((here, State(first.size, period, shift, frozenset(empty)), bounds))
            states = list(dict.fromkeys(t[1] for t in transitions))
            if bypass is not None:
                states = list(dict.fromkeys(states + self.states[(bypass, axis)]))
            self._vars(node.name, states, axis)
            out = (node.name, axis)
            index_of = {state: i for i, state in enumerate(states)}
            for here, result, bounds in transitions:
                self._tick()
                effects = [self.state[out][index_of[result]]]
                for r, (lows, highs) in bounds.items():
                    effects.append(self._extreme(self.lo[out][r], lows, min))
                    effects.append(self._extreme(self.hi[out][r], highs, max))
                add(z3.Implies(z3.And(here, kept), z3.And(effects)))
            if bypass is not None:
                self._pass_through(out, (bypass, axis), states, kept)

    def _gate_inputs(self, node: Node) -> set[int]:
        """Inputs of a ``mul`` that are global gates (size 1 on every axis in every state)."""
        if node.op != ops.MUL:
            return set()
        one = [all(s.size == 1 for axis in range(self.dims) for s in self.states[(src, axis)]) for src in node.inputs]
        if all(one):
            return set()
        return {i for i, flag in enumerate(one) if flag}

    def _canonical(self, node: Node) -> None:
        """Kernel 1 -> the smallest dilation; dropped -> the smallest options (one design, one model)."""
        z3 = self.z3
        add = self.solver.add
        kept = self.keeps(node.name)
        for attr in WINDOW_ATTRS:
            for axis in range(self.dims):
                options = self.options(node, attr, axis)
                if len(options) > 1 and kept is not True:
                    add(z3.Implies(z3.Not(kept), options[min(options)]))
        tied = getattr(node.attrs, "tied", frozenset())
        for axis in range(self.dims):
            kernels = self.options(node, "kernel", axis)
            dilations = self.options(node, "dilation", axis)
            if len(dilations) > 1 and 1 in kernels:
                shared = all(self.options(node, "kernel", a).get(1) is not None for a in range(self.dims))
                if "dilation" in tied and not shared:
                    continue
                if "dilation" in tied:
                    condition = z3.And([self.options(node, "kernel", a)[1] for a in range(self.dims)])
                else:
                    condition = kernels[1]
                add(z3.Implies(condition, dilations[min(dilations)]))

    # -- target, rules, objective ------------------------------------------------------------------

    def receptive_fields(self, key: tuple[str, int], state: State) -> list[Any]:
        """The receptive field of each unit of one period (as the engine's figures: units < min(period, size))."""
        return [
            self.hi[key][v] - self.lo[key][v] + 1
            for v in range(min(state.period, state.size))
            if v not in state.empty
        ]

    def receptive_field(self, axis: int) -> Any:
        """The output's receptive field along ``axis`` as one integer (the largest over its units)."""
        z3 = self.z3
        key = (self.graph.output, axis)
        field = z3.Int(f"receptive_field{axis}")
        for state, boolean in zip(self.states[key], self.state[key]):
            fields = self.receptive_fields(key, state)
            if fields:
                self.solver.add(z3.Implies(boolean, self._extreme(field, fields, max)))
        return field

    def _targets(self) -> None:
        z3 = self.z3
        output = self.graph.output
        targets = self.problem.targets
        rules = self.problem.rules
        low_rf = high_rf = None
        parts: dict[str, list[Any]] = {}
        for axis in range(self.dims):
            key = (output, axis)
            n = self.graph.input_size[axis]
            if targets.receptive_field is not None:
                low_rf, high_rf = targets.receptive_field[axis]
            else:
                low_rf = high_rf = None
            cap = None
            if "RF108" in rules:
                cap = math.floor(rules.config.options["rf_beyond_factor"] * n)
            for state, boolean in zip(self.states[key], self.state[key]):
                fields = self.receptive_fields(key, state)
                if not fields:
                    self.solver.add(z3.Not(boolean))
                    continue
                if low_rf is not None:
                    parts.setdefault("receptive_field.min", []).append(
                        z3.Implies(boolean, z3.Or([f >= low_rf for f in fields])))
                if high_rf is not None:
                    parts.setdefault("receptive_field.max", []).append(
                        z3.Implies(boolean, z3.And([f <= high_rf for f in fields])))
                if cap is not None:
                    parts.setdefault("RF108", []).append(z3.Implies(boolean, z3.And([f <= cap for f in fields])))
                if "RF107" in rules:  # necessary: the last output unit's region reaches the last pixel
                    last = [self.at(key, state, u, "hi") for u in range(max(0, state.size - state.period), state.size)
                            if u % state.period not in state.empty]  # fmt: skip
                    parts.setdefault("RF107", []).append(z3.Implies(boolean, z3.Or([h >= n - 1 for h in last])))
            for label, bounds, attr in (
                ("output_size", targets.output_size, "size"),
                ("effective_stride", targets.effective_stride, "stride"),
            ):
                if bounds is None:
                    continue
                low, high = bounds[axis]
                allowed = [
                    boolean
                    for state, boolean in zip(self.states[key], self.state[key])
                    if (low is None or getattr(state, attr) >= low) and (high is None or getattr(state, attr) <= high)
                ]
                parts.setdefault(label, []).append(z3.Or(allowed) if allowed else z3.BoolVal(False))
        for label, conditions in parts.items():
            flag = z3.Bool(f"target:{label}")
            self.tracked[label] = flag
            self.solver.add(z3.Implies(flag, z3.And(conditions)))

    def _gridding(self) -> None:
        """RF104: every stack of two or more stride-1 convolutions reads contiguous offsets (module docstring)."""
        z3 = self.z3
        flag = z3.Bool("rule:RF104")
        self.tracked["RF104"] = flag
        design = set(self.problem.design)
        for path in chain_paths(self.graph):
            self._tick()
            convs = [self.graph.nodes[n] for n in path if self.graph.nodes[n].op == ops.CONV and n in design]
            if len(convs) < 2:
                continue
            for axis in range(self.dims):
                self._gridding_axis(convs, axis, flag)

    def _gridding_axis(self, convs: list[Node], axis: int, flag: Any) -> None:
        z3 = self.z3
        member = {}
        breaker = {}
        for node in convs:
            kernels, strides = self.options(node, "kernel", axis), self.options(node, "stride", axis)
            one = strides.get(1, False)
            kept = self.keeps(node.name)
            member[node.name] = z3.And(kept, one, z3.Or([b for k, b in kernels.items() if k > 1] or [False]))
            breaker[node.name] = z3.And(kept, z3.Not(one))
        names = [node.name for node in convs]

        def same_run(i: int, j: int) -> Any:
            low, high = sorted((i, j))
            return z3.Not(z3.Or([breaker[n] for n in names[low : high + 1]]))

        for i, node in enumerate(convs):
            self._tick()
            partner = z3.Or([z3.And(member[names[j]], same_run(i, j)) for j in range(len(convs)) if j != i])
            for rate, chosen in self.options(node, "dilation", axis).items():
                if rate == 1:
                    continue
                terms = []
                for j, other in enumerate(convs):
                    if j == i:
                        continue
                    for (k, kb), (d, db) in product(
                        self.options(other, "kernel", axis).items(), self.options(other, "dilation", axis).items()
                    ):
                        if k > 1 and d < rate:
                            terms.append(z3.If(z3.And(member[other.name], same_run(i, j), kb, db), (k - 1) * d, 0))
                reach = z3.Sum(terms) if terms else z3.IntVal(0)
                self.solver.add(z3.Implies(z3.And(flag, member[node.name], chosen, partner), rate <= 1 + reach))

    def _alignment(self) -> None:
        """RF105: at every merge, the branches' centres agree on every unit, or every branch is (anti-)causal."""
        z3 = self.z3
        flag = z3.Bool("rule:RF105")
        self.tracked["RF105"] = flag
        for name in self.problem.design:
            node = self.graph.nodes[name]
            if node.op not in ops.MERGE_OPS:
                continue
            gates = self._gates.get(name, set())
            sources = [s for i, s in enumerate(node.inputs) if i not in gates]
            if len(sources) < 2:
                continue
            for axis in range(self.dims):
                out = (name, axis)
                for state, boolean in zip(self.states[out], self.state[out]):
                    self._tick()
                    # RF105 compares max(period over axes, 2) units; this axis' period alone is no more, so
                    # the constraint is never stricter than the rule (which reviews every design anyway)
                    units = min(state.size, max(state.period, 2))
                    self.solver.add(z3.Implies(z3.And(flag, boolean), self._aligned(sources, axis, state, units)))

    def _aligned(self, sources: list[str], axis: int, merged: State, units: int) -> Any:
        z3 = self.z3
        options = []
        for combination in product(*(range(len(self.states[(s, axis)])) for s in sources)):
            chosen = [self.states[(s, axis)][i] for s, i in zip(sources, combination)]
            if any(c.size != merged.size or c.stride != merged.stride for c in chosen):
                continue
            here = z3.And([self.state[(s, axis)][i] for s, i in zip(sources, combination)])
            keys = [(s, axis) for s in sources]
            centres = []
            for v in range(merged.period):
                present = [(k, c) for k, c in zip(keys, chosen) if v % c.period not in c.empty]
                twice = [self.at(k, c, v, "lo") + self.at(k, c, v, "hi") for k, c in present]
                centres += [twice[0] == t for t in twice[1:]]
            causal = []
            for edge in ("hi", "lo"):
                terms = []
                for v in range(units):
                    position = v * merged.stride
                    for k, c in zip(keys, chosen):
                        if v % c.period in c.empty:
                            continue
                        if position.denominator != 1:
                            terms.append(z3.BoolVal(False))
                        else:
                            terms.append(self.at(k, c, v, edge) == position.numerator)
                causal.append(z3.And(terms) if terms else z3.BoolVal(True))
            options.append(z3.And(here, z3.Or(z3.And(centres) if centres else z3.BoolVal(True), *causal)))
        return z3.Or(options) if options else z3.BoolVal(True)

    def _objective(self) -> Any:
        z3 = self.z3
        objective = self.problem.objective
        if objective == "activations":
            return self._peak()
        terms: list[Any] = []
        for name in self.problem.design:
            self._tick()
            node = self.graph.nodes[name]
            kept = self.keeps(name)
            if objective == "params":
                terms.extend(self._params_terms(node, kept))
            else:
                terms.extend(self._flops_terms(node, kept))
        return z3.Sum(terms) if terms else z3.IntVal(0)

    def _kernel_combos(self, node: Node) -> list[tuple[tuple[int, ...], Any]]:
        z3 = self.z3
        kernel_sets = [self.options(node, "kernel", axis) for axis in range(self.dims)]
        if "kernel" in getattr(node.attrs, "tied", ()):
            return [((k,) * self.dims, b) for k, b in kernel_sets[0].items()]
        return [
            (tuple(k for k, _ in choice), z3.And([b for _, b in choice]))
            for choice in product(*(s.items() for s in kernel_sets))
        ]

    def _params_terms(self, node: Node, kept: Any) -> list[Any]:
        z3 = self.z3
        in_channels = self.channels[node.inputs[0]] if node.inputs else 0
        if node.op == ops.NORM and node.attrs.affine:
            return [z3.If(kept, 2 * in_channels, 0)]
        if node.op in (ops.CONV, ops.CONV_TRANSPOSE):
            transposed = node.op == ops.CONV_TRANSPOSE
            return [
                z3.If(z3.And(kept, chosen), conv_parameters(node.attrs, in_channels, kernel, transposed), 0)
                for kernel, chosen in self._kernel_combos(node)
            ]
        if node.op == ops.LINEAR:
            return [z3.If(condition, in_channels * area * node.attrs.out + (node.attrs.out if node.attrs.bias else 0), 0)
                    for area, condition in self._areas(node.inputs[0], node)]  # fmt: skip
        return []

    def _areas(self, name: str, owner: Node) -> list[tuple[int, Any]]:
        """(units of one sample, condition) for every combination of ``name``'s per-axis states."""
        z3 = self.z3
        per_axis = [list(zip(self.states[(name, a)], self.state[(name, a)])) for a in range(self.dims)]
        if prod(len(p) for p in per_axis) > MAX_SHAPES:
            raise SpecError(
                f"the objective needs the sizes of `{name}`, which can take too many values",
                owner.location,
                "use `objective: params`, or fewer stride and padding choices",
            )
        return [(prod(s.size for s, _ in states), z3.And([b for _, b in states])) for states in product(*per_axis)]

    def _flops_terms(self, node: Node, kept: Any) -> list[Any]:
        z3 = self.z3
        if node.op not in (ops.CONV, ops.CONV_TRANSPOSE, ops.LINEAR):
            return []
        in_channels = self.channels[node.inputs[0]]
        if node.op == ops.LINEAR:
            return [z3.If(condition, in_channels * area * node.attrs.out, 0)
                    for area, condition in self._areas(node.inputs[0], node)]  # fmt: skip
        transposed = node.op == ops.CONV_TRANSPOSE
        sized = node.inputs[0] if transposed else node.name  # a transposed conv's work scales with its input
        terms = []
        for kernel, chosen in self._kernel_combos(node):
            bias = self.channels[node.name] if node.attrs.bias else 0
            per_unit = conv_parameters(node.attrs, in_channels, kernel, transposed) - bias
            for area, condition in self._areas(sized, node):
                terms.append(z3.If(z3.And(kept, chosen, condition), per_unit * area, 0))
        return terms

    def _peak(self) -> Any:
        """The largest activation of the design (channels x units), as an exact maximum."""
        z3 = self.z3
        peak = z3.Int("objective:activations")
        sizes = []
        for name in self.problem.design:
            self._tick()
            node = self.graph.nodes[name]
            terms = [z3.If(condition, self.channels[name] * area, 0) for area, condition in self._areas(name, node)]
            sizes.append(z3.Sum(terms))
        self.solver.add(z3.And([peak >= size for size in sizes]), z3.Or([peak == size for size in sizes]))
        return peak

    def trivial_bound(self) -> int:
        """A lower bound on the objective that needs no search: every layer at its cheapest."""
        problem = self.problem
        if problem.objective != "params":
            return 0  # multiply-adds and activations depend on sizes; zero is the only bound without search
        total = 0
        for name in problem.design:
            node = self.graph.nodes[name]
            if name in problem.optional:
                continue
            in_channels = self.channels[node.inputs[0]] if node.inputs else 0
            if node.op == ops.NORM and node.attrs.affine:
                total += 2 * in_channels
            if node.op == ops.CONV:
                kernels = [problem.options(name, "kernel", axis) for axis in range(self.dims)]
                total += weights(node, tuple(min(k) for k in kernels), in_channels)
        return total

    # -- reading models, excluding designs ----------------------------------------------------------

    def assignment(self, model: Any) -> Assignment:
        z3 = self.z3
        values = {}
        for key, booleans in self.choice.items():
            for value, boolean in booleans.items():
                if z3.is_true(model.eval(boolean, model_completion=True)):
                    values[key] = value
        kept = {name: z3.is_true(model.eval(b, model_completion=True)) for name, b in self.kept.items()}
        return self.problem.canonical(values, kept)

    def block(self, assignment: Assignment, names: set[str] | None = None) -> Any:
        """A clause excluding this design (or every design that agrees with it on the layers ``names``)."""
        z3 = self.z3
        literals = []
        for key, value in assignment.values.items():
            if names is not None and key[0] not in names:
                continue
            if not self.problem.kept(assignment, key[0]):
                continue  # a dropped layer's values do not matter
            literals.append(z3.Not(self.choice[key][value]))
        for unit, kept in assignment.kept.items():
            if names is not None and not set(self.problem.units[unit].members) & names:
                continue
            literals.append(z3.Not(self.kept[unit]) if kept else self.kept[unit])
        return z3.Or(literals) if literals else z3.BoolVal(False)

    def nogood(self, assignment: Assignment, evaluation: Evaluation) -> Any:
        """A clause excluding this design and every design that shares the prefix already breaking a rule.

        The prefixes tried end at separators (see :mod:`rfdesign.solve.stages`),
        shortest first, by bisection: a prefix that breaks a rule is broken by
        every longer one.
        """
        from rfdesign.solve.prune import prefix_graph
        from rfdesign.solve.stages import separators
        from rfdesign.spec.graph import ancestors

        cuts = separators(self.graph, self.problem.design)[:-1]
        rules = self.problem.rules

        def broken(end: str) -> bool:
            from rfdesign.rf.analysis import analyze

            graph = prefix_graph(self.problem, dict(assignment.values), dict(assignment.kept), end)
            return bool(prefix_violations(rules, analyze(graph), end))

        low, high = 0, len(cuts)  # the first broken prefix lies in cuts[low:high], or none does
        found = None
        while low < high:
            middle = (low + high) // 2
            if broken(cuts[middle]):
                found = cuts[middle]
                high = middle
            else:
                low = middle + 1
        if found is None:
            return self.block(assignment)
        return self.block(assignment, ancestors(self.graph.nodes, [found]))
