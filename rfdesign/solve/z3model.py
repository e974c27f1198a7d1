"""The general z3 model: any DAG of convolutions, pooling and merges, per-axis holes.

Each hole is a one-hot set of Booleans over its options; each node and axis
has integer variables for its output size, effective stride, and the first
and last input pixel seen by its unit 0 (``lo``, ``hi``). A layer's options
fix these linearly from its input's (the products are of a variable with a
constant, so the model stays in linear integer arithmetic):

* stride: ``S_out = s * S_in``;
* box: ``lo_out = lo_in - p_before * S_in``, ``hi_out = hi_in + (k' - 1 - p_before) * S_in``;
* size: PyTorch's floor (or ceil_mode) rule, or TensorFlow's ``same`` with
  its padding split decided by the input size modulo the stride;
* merges: equal sizes and strides, ``lo = min``, ``hi = max`` (the extent of
  the union, as in the RF engine).

The receptive field of the output is ``hi - lo + 1``. The objective is a
linear sum over the kernels chosen (parameters), or over kernels and the
finite set of output sizes each layer can have (multiply-adds).

Canonical forms are constraints (a kernel-1 axis uses the smallest
dilation; a dropped layer uses the smallest options), so blocking one
design never blocks an equivalent one. Design rules are constraints too:
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
from rfdesign.rf.layer import window_size
from rfdesign.solve.problem import Assignment, Problem, channel_counts
from rfdesign.spec import ops
from rfdesign.spec.graph import INPUT, Choice, Node

MAX_SIZE_STATES = 4096


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
        self.size: dict[tuple[str, int], Any] = {}
        self.stride: dict[tuple[str, int], Any] = {}
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
        value = getattr(node, attr)[axis]
        if isinstance(value, Choice):
            return self.choice[(node.name, attr, axis)]
        return {int(value): True}

    def keeps(self, name: str) -> Any:
        return self.kept.get(name, True)

    def _vars(self, name: str) -> None:
        z3 = self.z3
        for axis in range(self.dims):
            self.size[(name, axis)] = z3.Int(f"{name}.size{axis}")
            self.stride[(name, axis)] = z3.Int(f"{name}.stride{axis}")
            self.lo[(name, axis)] = z3.Int(f"{name}.lo{axis}")
            self.hi[(name, axis)] = z3.Int(f"{name}.hi{axis}")
            self.solver.add(self.size[(name, axis)] >= 1, self.stride[(name, axis)] >= 1)

    def _input(self) -> None:
        self._vars(INPUT)
        for axis, n in enumerate(self.graph.input_size):
            key = (INPUT, axis)
            self.solver.add(self.size[key] == n, self.stride[key] == 1, self.lo[key] == 0, self.hi[key] == 0)

    # -- layers ----------------------------------------------------------------------------------

    def _same(self, name: str, source: str, axis: int) -> Any:
        z3 = self.z3
        a, b = (name, axis), (source, axis)
        return z3.And(
            self.size[a] == self.size[b], self.stride[a] == self.stride[b], self.lo[a] == self.lo[b],
            self.hi[a] == self.hi[b],
        )  # fmt: skip

    def _node(self, node: Node) -> None:
        z3 = self.z3
        self._vars(node.name)
        add = self.solver.add
        if node.op in ops.MERGE_OPS:
            for axis in range(self.dims):
                key = (node.name, axis)
                sources = [(s, axis) for s in node.inputs]
                for source in sources:
                    add(self.size[key] == self.size[source], self.stride[key] == self.stride[source])
                    add(self.lo[key] <= self.lo[source], self.hi[key] >= self.hi[source])
                add(z3.Or([self.lo[key] == self.lo[s] for s in sources]))
                add(z3.Or([self.hi[key] == self.hi[s] for s in sources]))
            return
        source = node.inputs[0]
        kept = self.keeps(node.name)
        for axis in range(self.dims):
            if node.name in self.kept:
                add(z3.Implies(z3.Not(kept), self._same(node.name, source, axis)))
            out, inp = (node.name, axis), (source, axis)
            if node.op in (ops.IDENTITY, ops.NORM):
                add(self._same(node.name, source, axis))
            elif node.op == ops.PAD:
                before, after = node.padding[axis]  # type: ignore[index]
                add(z3.Implies(kept, z3.And(
                    self.size[out] == self.size[inp] + before + after, self.stride[out] == self.stride[inp],
                    self.lo[out] == self.lo[inp] - before * self.stride[inp],
                    self.hi[out] == self.hi[inp] - before * self.stride[inp],
                )))  # fmt: skip
            else:
                self._window(node, axis, out, inp, kept)
        self._canonical(node)

    def _window(self, node: Node, axis: int, out: Any, inp: Any, kept: Any) -> None:
        z3 = self.z3
        add = self.solver.add
        kernels, strides, dilations = (self.options(node, attr, axis) for attr in ("kernel", "stride", "dilation"))
        size_in, stride_in, lo_in, hi_in = self.size[inp], self.stride[inp], self.lo[inp], self.hi[inp]
        for (k, kb), (s, sb), (d, db) in product(kernels.items(), strides.items(), dilations.items()):
            chosen = z3.And(kb, sb, db)
            if self.problem.constraints.get("no_unseen_pixels") and window_has_gaps(k, s, d):
                add(z3.Implies(kept, z3.Not(chosen)))
                continue
            when = z3.And(chosen, kept)
            effective = d * (k - 1) + 1
            add(z3.Implies(when, self.stride[out] == s * stride_in))
            if node.padding == "same":
                add(z3.Implies(when, self.size[out] == (size_in + s - 1) / s))
                for residue in range(s):
                    before = max(effective - s + residue, 0) // 2
                    add(z3.Implies(z3.And(when, (size_in + residue) % s == 0), z3.And(
                        self.lo[out] == lo_in - before * stride_in,
                        self.hi[out] == hi_in + (effective - 1 - before) * stride_in,
                    )))  # fmt: skip
                continue
            before, after = node.padding[axis]  # type: ignore[index]
            span = size_in + before + after - effective
            if node.ceil_mode:
                first = (span + s - 1) / s + 1
                size_rule = self.size[out] == z3.If((first - 1) * s >= size_in + before, first - 1, first)
            else:
                size_rule = self.size[out] == span / s + 1
            add(z3.Implies(when, z3.And(
                span >= 0, size_rule,
                self.lo[out] == lo_in - before * stride_in,
                self.hi[out] == hi_in + (effective - 1 - before) * stride_in,
            )))  # fmt: skip

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
                if "dilation" in node.tied and not shared:
                    continue
                if "dilation" in node.tied:
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
            for label, bounds, value in (
                ("receptive_field", targets.receptive_field, rf),
                ("output_size", targets.output_size, self.size[key]),
                ("effective_stride", targets.effective_stride, self.stride[key]),
            ):
                if bounds is None:
                    continue
                low, high = bounds[axis]
                if low is not None:
                    parts.setdefault(f"{label}.min" if label == "receptive_field" else label, []).append(value >= low)
                if high is not None:
                    parts.setdefault(f"{label}.max" if label == "receptive_field" else label, []).append(value <= high)
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
            if node.op == ops.NORM and node.affine and self.problem.objective == "params":
                terms.append(z3.If(kept, 2 * self.channels[node.inputs[0]], 0))
            if node.op != ops.CONV:
                continue
            in_channels = self.channels[node.inputs[0]]
            out_channels = node.out if node.out is not None else in_channels
            groups = in_channels if node.groups == "depthwise" else int(node.groups)
            per_tap = out_channels * (in_channels // groups)
            kernel_sets = [self.options(node, "kernel", axis) for axis in range(self.dims)]
            if "kernel" in node.tied:
                combos = [((k,) * self.dims, b) for k, b in kernel_sets[0].items()]
            else:
                combos = [
                    (tuple(k for k, _ in choice), z3.And([b for _, b in choice]))
                    for choice in product(*(s.items() for s in kernel_sets))
                ]
            if self.problem.objective == "flops":
                terms.extend(self._flops_terms(node, combos, per_tap, kept))
                continue
            bias = out_channels if node.bias else 0
            for kernel, chosen in combos:
                taps = 1
                for k in kernel:
                    taps *= k
                terms.append(z3.If(z3.And(kept, chosen), per_tap * taps + bias, 0))
        return z3.Sum(terms) if terms else z3.IntVal(0)

    def _flops_terms(self, node: Node, combos: list[tuple[tuple[int, ...], Any]], per_tap: int, kept: Any) -> list[Any]:
        z3 = self.z3
        sizes = self._size_domains()[node.name]
        total = 1
        for values in sizes:
            total *= len(values)
        if total * len(combos) > MAX_SIZE_STATES:
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
            for shape in product(*sizes):
                condition = z3.And([self.size[(node.name, axis)] == n for axis, n in enumerate(shape)])
                area = 1
                for n in shape:
                    area *= n
                terms.append(z3.If(z3.And(kept, chosen, condition), per_tap * taps * area, 0))
        return terms

    def _size_domains(self) -> dict[str, list[set[int]]]:
        """Every output size each design node can have, per axis (forward over all options)."""
        if hasattr(self, "_domains"):
            return self._domains
        domains: dict[str, list[set[int]]] = {INPUT: [{n} for n in self.graph.input_size]}
        for name in self.problem.design:
            node = self.graph.nodes[name]
            sources = domains[node.inputs[0]]
            if node.op in ops.MERGE_OPS:
                domains[name] = [set.intersection(*(domains[s][axis] for s in node.inputs)) for axis in range(self.dims)]
                continue
            result = []
            for axis in range(self.dims):
                values: set[int] = set()
                for n in sources[axis]:
                    values |= _sizes_after(node, axis, n, self)
                if name in self.kept:
                    values |= sources[axis]
                result.append(values)
            domains[name] = result
        self._domains = domains
        return domains

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


def _sizes_after(node: Node, axis: int, n: int, model: Z3Model) -> set[int]:
    if node.op in (ops.IDENTITY, ops.NORM):
        return {n}
    if node.op == ops.PAD:
        before, after = node.padding[axis]  # type: ignore[index]
        return {n + before + after}
    result = set()
    for k in model.options(node, "kernel", axis):
        for s in model.options(node, "stride", axis):
            for d in model.options(node, "dilation", axis):
                if node.padding == "same":
                    result.add(-(-n // s))
                    continue
                out = window_size(n, d * (k - 1) + 1, s, node.padding[axis], node.ceil_mode)  # type: ignore[index]
                if out >= 1:
                    result.add(out)
    return result
