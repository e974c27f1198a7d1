"""The general z3 model: any DAG of convolutions, pooling and merges, per-axis holes.

Each hole is a one-hot set of Booleans over its options. Each node and axis
has a one-hot set of Booleans over the *shapes* (size, effective stride) it
can have, found by propagating every option forward; a layer's option moves
its input's shape to an output shape (:func:`rfdesign.solve.shapes.step`,
the RF engine's size rules, TensorFlow's ``same`` included). Two integers
per node and axis, ``lo`` and ``hi``, are the first and last input pixel of
unit 0's region; an option in a given input shape moves them by constants,
so the model is Boolean plus linear integer arithmetic with no products or
divisions:

* merges: equal shapes, ``lo = min``, ``hi = max`` (the extent of the union,
  as in the RF engine);
* the output's receptive field is ``hi - lo + 1``; output size and stride
  targets simply forbid shapes.

The objective is a linear sum over the kernels chosen (parameters), or over
kernels and output shapes (multiply-adds).

Canonical forms are constraints (a kernel-1 axis uses the smallest
dilation; a dropped layer uses the smallest options), so blocking one design
never blocks an equivalent one. Design rules are constraints too:
``no_unseen_pixels`` forbids options whose windows leave gaps, and
``no_gridding`` requires every stack of stride-1 convolutions to read a
contiguous set of offsets (exact for stacks: sorted by dilation, each rate
must not exceed 1 + the span of the smaller ones).
"""

from __future__ import annotations

from itertools import product
from typing import Any

from rfdesign.errors import SpecError, require
from rfdesign.review.dilation import chain_paths
from rfdesign.rf.coverage import window_has_gaps
from rfdesign.solve.problem import Assignment, Problem, channel_counts
from rfdesign.solve.shapes import WINDOW, Shape, step
from rfdesign import ops
from rfdesign.spec.graph import INPUT, Choice, Node

MAX_SHAPES = 4096


class NoDesign(Exception):
    """Building the model already shows that no design exists (the message says why)."""


class Z3Model:
    """The z3 encoding of one problem (see the module docstring)."""

    def __init__(self, problem: Problem):
        z3 = require("z3", "z3")  # a core dependency; the message helps a broken install
        self.z3 = z3
        self.problem = problem
        self.graph = problem.graph
        self.dims = problem.dims
        self.solver = z3.Solver()
        self.channels = channel_counts(self.graph)
        self.choice: dict[tuple[str, str, int], dict[int, Any]] = {}
        self.kept: dict[str, Any] = {}
        self.shapes: dict[tuple[str, int], list[Shape]] = {}
        self.state: dict[tuple[str, int], list[Any]] = {}
        self.lo: dict[tuple[str, int], Any] = {}
        self.hi: dict[tuple[str, int], Any] = {}
        self.tracked: dict[str, Any] = {}  # labelled target parts, for unsat cores
        self._choices()
        self._input()
        for name in problem.design:
            self._node(self.graph.nodes[name])
        self._targets()
        if problem.constraints.get("no_gridding"):
            self._gridding()
        self.cost = self._objective()

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
        """value -> Boolean (True for a fixed value)."""
        values = node.attrs.choices().get(attr)
        if values is None:
            return {1: True}  # an op without this attribute acts as if it were 1
        value = values[axis]
        if isinstance(value, Choice):
            return self.choice[(node.name, attr, axis)]
        return {int(value): True}

    def keeps(self, name: str) -> Any:
        return self.kept.get(name, True)

    def _vars(self, name: str, shapes: list[Shape], axis: int) -> None:
        z3 = self.z3
        if not shapes:
            raise NoDesign(f"no choice of layer `{name}` fits (its output would be empty, or every option is forbidden)")
        if len(shapes) > MAX_SHAPES:
            raise SpecError(
                f"layer `{name}` can take more than {MAX_SHAPES} sizes and strides: the template is too free to model",
                self.graph.nodes[name].location,
                "add an output_size or effective_stride target, or fix some strides",
            )
        key = (name, axis)
        self.shapes[key] = shapes
        self.state[key] = [z3.Bool(f"{name}.shape{axis}={s.size}/{s.stride}") for s in shapes]
        self.solver.add(z3.PbEq([(b, 1) for b in self.state[key]], 1))
        self.lo[key] = z3.Int(f"{name}.lo{axis}")
        self.hi[key] = z3.Int(f"{name}.hi{axis}")

    def _input(self) -> None:
        for axis, n in enumerate(self.graph.input_size):
            self._vars(INPUT, [Shape(n, 1)], axis)
            key = (INPUT, axis)
            self.solver.add(self.state[key][0], self.lo[key] == 0, self.hi[key] == 0)

    # -- layers ----------------------------------------------------------------------------------

    def _node(self, node: Node) -> None:
        z3 = self.z3
        add = self.solver.add
        if node.op in ops.MERGE_OPS:
            for axis in range(self.dims):
                sources = [(s, axis) for s in node.inputs]
                common = [shape for shape in self.shapes[sources[0]] if all(shape in self.shapes[s] for s in sources)]
                self._vars(node.name, common, axis)
                key = (node.name, axis)
                for source in sources:
                    for shape, boolean in zip(self.shapes[source], self.state[source]):
                        if shape in common:
                            add(boolean == self.state[key][common.index(shape)])
                        else:
                            add(z3.Not(boolean))
                    add(self.lo[key] <= self.lo[source], self.hi[key] >= self.hi[source])
                add(z3.Or([self.lo[key] == self.lo[s] for s in sources]))
                add(z3.Or([self.hi[key] == self.hi[s] for s in sources]))
            return
        source = node.inputs[0]
        kept = self.keeps(node.name)
        optional = node.name in self.kept
        for axis in range(self.dims):
            inp = (source, axis)
            combos = self._combos(node, axis)
            transitions = []  # (input shape index, condition, effect)
            for index, shape in enumerate(self.shapes[inp]):
                for (k, s, d), chosen in combos:
                    effect = step(node, axis, shape, k, s, d)
                    if effect is None:
                        add(z3.Implies(kept, z3.Not(z3.And(self.state[inp][index], chosen))))
                        continue
                    transitions.append((index, chosen, effect))
            shapes = list(dict.fromkeys([effect.shape for _, _, effect in transitions]))
            if optional:
                shapes = list(dict.fromkeys(shapes + self.shapes[inp]))
            self._vars(node.name, shapes, axis)
            out = (node.name, axis)
            for index, chosen, effect in transitions:
                add(z3.Implies(z3.And(self.state[inp][index], chosen, kept), z3.And(
                    self.state[out][shapes.index(effect.shape)],
                    self.lo[out] == self.lo[inp] + effect.dlo,
                    self.hi[out] == self.hi[inp] + effect.dhi,
                )))  # fmt: skip
            if optional:
                for index, shape in enumerate(self.shapes[inp]):
                    add(z3.Implies(z3.And(z3.Not(kept), self.state[inp][index]), self.state[out][shapes.index(shape)]))
                add(z3.Implies(z3.Not(kept), z3.And(self.lo[out] == self.lo[inp], self.hi[out] == self.hi[inp])))
        self._canonical(node)

    def _combos(self, node: Node, axis: int) -> list[tuple[tuple[int, int, int], Any]]:
        """Every (kernel, stride, dilation) of ``node`` on ``axis`` with the Boolean that selects it."""
        z3 = self.z3
        if node.op not in WINDOW:
            return [((1, 1, 1), True)]
        kernels, strides, dilations = (self.options(node, attr, axis) for attr in ("kernel", "stride", "dilation"))
        result = []
        for (k, kb), (s, sb), (d, db) in product(kernels.items(), strides.items(), dilations.items()):
            chosen = z3.And(kb, sb, db)
            if self.problem.constraints.get("no_unseen_pixels") and window_has_gaps(k, s, d):
                self.solver.add(z3.Implies(self.keeps(node.name), z3.Not(chosen)))
                continue
            result.append(((k, s, d), chosen))
        return result

    def _canonical(self, node: Node) -> None:
        """Kernel 1 -> the smallest dilation; dropped -> the smallest options (one design, one model)."""
        z3 = self.z3
        add = self.solver.add
        kept = self.keeps(node.name)
        for attr in ("kernel", "stride", "dilation"):
            for axis in range(self.dims):
                options = self.options(node, attr, axis)
                if len(options) > 1 and node.name in self.kept:
                    add(z3.Implies(z3.Not(kept), options[min(options)]))
        for axis in range(self.dims):
            kernels = self.options(node, "kernel", axis)
            dilations = self.options(node, "dilation", axis)
            if len(dilations) > 1 and 1 in kernels:
                shared = all(self.options(node, "kernel", a).get(1) is not None for a in range(self.dims))
                if "dilation" in node.attrs.tied and not shared:
                    continue
                if "dilation" in node.attrs.tied:
                    condition = z3.And([self.options(node, "kernel", a)[1] for a in range(self.dims)])
                else:
                    condition = kernels[1]
                add(z3.Implies(condition, dilations[min(dilations)]))

    # -- target, rules, objective ------------------------------------------------------------------

    def _targets(self) -> None:
        z3 = self.z3
        output = self.graph.output
        targets = self.problem.targets
        parts: dict[str, list[Any]] = {}
        for axis in range(self.dims):
            key = (output, axis)
            rf = self.hi[key] - self.lo[key] + 1
            if targets.receptive_field is not None:
                low, high = targets.receptive_field[axis]
                if low is not None:
                    parts.setdefault("receptive_field.min", []).append(rf >= low)
                if high is not None:
                    parts.setdefault("receptive_field.max", []).append(rf <= high)
            for label, bounds, attr in (
                ("output_size", targets.output_size, "size"),
                ("effective_stride", targets.effective_stride, "stride"),
            ):
                if bounds is None:
                    continue
                low, high = bounds[axis]
                allowed = [
                    boolean
                    for shape, boolean in zip(self.shapes[key], self.state[key])
                    if (low is None or getattr(shape, attr) >= low) and (high is None or getattr(shape, attr) <= high)
                ]
                parts.setdefault(label, []).append(z3.Or(allowed) if allowed else z3.BoolVal(False))
        for label, conditions in parts.items():
            flag = z3.Bool(f"target:{label}")
            self.tracked[label] = flag
            self.solver.add(z3.Implies(flag, z3.And(conditions)))

    def _gridding(self) -> None:
        """Stacks of stride-1 convolutions must read contiguous offsets (see the module docstring)."""
        z3 = self.z3
        flag = z3.Bool("constraint:no_gridding")
        self.tracked["no_gridding"] = flag
        for path in chain_paths(self.graph, self.problem.design):
            convs = [self.graph.nodes[n] for n in path if self.graph.nodes[n].op == ops.CONV]
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
        for i, node in enumerate(convs):
            dilations = self.options(node, "dilation", axis)
            for rate, chosen in dilations.items():
                if rate == 1:
                    continue
                terms = []
                for j, other in enumerate(convs):
                    if j == i:
                        continue
                    low, high = sorted((i, j))
                    same_run = z3.Not(z3.Or([breaker[n] for n in names[low : high + 1]]))
                    for (k, kb), (d, db) in product(
                        self.options(other, "kernel", axis).items(), self.options(other, "dilation", axis).items()
                    ):
                        if k > 1 and d < rate:
                            terms.append(z3.If(z3.And(member[other.name], same_run, kb, db), (k - 1) * d, 0))
                reach = z3.Sum(terms) if terms else z3.IntVal(0)
                self.solver.add(z3.Implies(z3.And(flag, member[node.name], chosen), rate <= 1 + reach))

    def _objective(self) -> Any:
        z3 = self.z3
        terms: list[Any] = []
        for name in self.problem.design:
            node = self.graph.nodes[name]
            kept = self.keeps(name)
            if node.op == ops.NORM and node.attrs.affine and self.problem.objective == "params":
                terms.append(z3.If(kept, 2 * self.channels[node.inputs[0]], 0))
            if node.op != ops.CONV:
                continue
            in_channels = self.channels[node.inputs[0]]
            out_channels = node.attrs.out if node.attrs.out is not None else in_channels
            groups = in_channels if node.attrs.groups == "depthwise" else int(node.attrs.groups)
            per_tap = out_channels * (in_channels // groups)
            kernel_sets = [self.options(node, "kernel", axis) for axis in range(self.dims)]
            if "kernel" in node.attrs.tied:
                combos = [((k,) * self.dims, b) for k, b in kernel_sets[0].items()]
            else:
                combos = [
                    (tuple(k for k, _ in choice), z3.And([b for _, b in choice]))
                    for choice in product(*(s.items() for s in kernel_sets))
                ]
            if self.problem.objective == "flops":
                terms.extend(self._flops_terms(node, combos, per_tap, kept))
                continue
            bias = out_channels if node.attrs.bias else 0
            for kernel, chosen in combos:
                taps = 1
                for k in kernel:
                    taps *= k
                terms.append(z3.If(z3.And(kept, chosen), per_tap * taps + bias, 0))
        return z3.Sum(terms) if terms else z3.IntVal(0)

    def _flops_terms(self, node: Node, combos: list[tuple[tuple[int, ...], Any]], per_tap: int, kept: Any) -> list[Any]:
        z3 = self.z3
        per_axis = [list(zip(self.shapes[(node.name, axis)], self.state[(node.name, axis)])) for axis in range(self.dims)]
        total = len(combos)
        for states in per_axis:
            total *= len(states)
        if total > MAX_SHAPES:
            raise SpecError(
                f"the flops objective needs the output sizes of `{node.name}`, which can take too many values",
                node.location,
                "use `objective: params`, or fewer stride and padding choices",
            )
        terms = []
        for kernel, chosen in combos:
            taps = 1
            for k in kernel:
                taps *= k
            for states in product(*per_axis):
                area = 1
                for shape, _ in states:
                    area *= shape.size
                condition = z3.And([boolean for _, boolean in states])
                terms.append(z3.If(z3.And(kept, chosen, condition), per_tap * taps * area, 0))
        return terms

    # -- reading models --------------------------------------------------------------------------

    def assignment(self, model: Any) -> Assignment:
        z3 = self.z3
        values = {}
        for key, booleans in self.choice.items():
            for value, boolean in booleans.items():
                if z3.is_true(model.eval(boolean, model_completion=True)):
                    values[key] = value
        kept = {name: z3.is_true(model.eval(b, model_completion=True)) for name, b in self.kept.items()}
        return self.problem.canonical(values, kept)

    def block(self, assignment: Assignment) -> Any:
        """A clause excluding exactly this design."""
        z3 = self.z3
        literals = []
        for key, value in assignment.values.items():
            literals.append(z3.Not(self.choice[key][value]))
        for name, kept in assignment.kept.items():
            literals.append(z3.Not(self.kept[name]) if kept else self.kept[name])
        return z3.Or(literals) if literals else z3.BoolVal(False)
