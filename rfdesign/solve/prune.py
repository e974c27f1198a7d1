"""Prefix checks for the chain search: refuse a prefix only when every design extending it breaks a rule.

The search of :mod:`rfdesign.solve.chain` asks :class:`PrefixChecker` about
each prefix it reaches (the stages from the input to a separator). The
reasons a prefix settles a rule are in :mod:`rfdesign.solve.rules`. Prefixes
that end with a single layer are checked here in one dimension, through the
layer's exact index map (the engine's own); prefixes that end with a block
are checked by analysing the prefix network with the RF engine and asking
the review. Every design is still checked by the review at the end; these
checks only keep the search from walking into designs that cannot pass.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from rfdesign import ops
from rfdesign.rf.dilation import holes
from rfdesign.rf.analysis import analyze
from rfdesign.rf.coverage import coverage, gaps, read_back
from rfdesign.solve.problem import Assignment, Problem
from rfdesign.solve.rules import prefix_violations
from rfdesign.solve.stages import hole_value
from rfdesign.spec.graph import INPUT, Graph, ancestors

Item = tuple[int, int, Any, int]  # (stage index, shape index before, move, shape index after)


def unwind(path: tuple[Any, ...]) -> list[Item]:
    """A linked prefix ``(parent, item)`` as the list of its items, first stage first."""
    items = []
    while path:
        path, item = path
        items.append(item)
    items.reverse()
    return items


def prefix_graph(problem: Problem, values: dict[Any, int], kept: dict[str, bool], end: str) -> Graph:
    """The concrete sub-network from the input to ``end`` (holes filled, dropped layers as identities)."""
    graph = problem.graph
    inside = ancestors(graph.nodes, [end])
    nodes = {name: node for name, node in graph.nodes.items() if name in inside}
    holes_inside = [hole for hole in problem.holes if hole.node in inside]
    sub = replace(problem, graph=replace(graph, nodes=nodes, outputs=(end,)), holes=holes_inside)
    return sub.concrete(Assignment(values, kept))


class PrefixChecker:
    """The ``accept`` callback of :meth:`rfdesign.solve.chain.ChainModel.best` (memoised per prefix)."""

    def __init__(self, model: Any):  # a ChainModel
        self.model = model
        self.problem: Problem = model.problem
        rules = self.problem.rules
        self.coverage = "RF103" in rules or "RF107" in rules
        self.gridding = "RF104" in rules
        self.engine_rules = any(code in rules for code in ("RF102", "RF103", "RF104", "RF105", "RF107"))
        self.cache: dict[tuple[Any, ...], bool] = {}
        self.checked = 0

    def __call__(self, path: tuple[Any, ...]) -> bool:
        items = unwind(path)
        key = tuple(item[2] for item in items)
        if key not in self.cache:
            self.checked += 1
            last = items[-1][0]
            if self.model.fast(last):
                self.cache[key] = self._layers_ok(items)
            else:
                self.cache[key] = self._engine_ok(items)
        return self.cache[key]

    # -- a prefix ending with one layer ----------------------------------------------------------------

    def _layers_ok(self, items: list[Item]) -> bool:
        if self.gridding and not self._stack_ok(items):
            return False
        return not self.coverage or self._coverage_ok(items)

    def _coverage_ok(self, items: list[Item]) -> bool:
        """Walk the last stage's units back to the input; stop where an accepted prefix is fully read."""
        model = self.model
        shapes = model.shapes
        stage, _, _, after = items[-1]
        needed = set(range(shapes[stage + 1][after].size))
        for position in range(len(items) - 1, -1, -1):
            stage, before, move, after = items[position]
            size = shapes[stage][before].size
            if model.fast(stage):
                effect = model.layer_effect(stage, shapes[stage][before], move)
                for op_map, in_size in reversed(effect.maps):
                    needed = read_back(op_map, needed, in_size)
            else:
                _, analysis = model.blocks[stage].effect(size, move)
                exit_name = model.stages[stage].exit
                start = {exit_name: [set(needed) for _ in range(model.dims)]}
                needed = coverage(analysis, start=start).needed[INPUT][0]
            if position and len(needed) == size:
                return True  # what is left is an accepted prefix with every unit of its end read
        leading, interior, trailing = gaps(needed, model.input_size)
        rules = self.problem.rules
        if "RF107" in rules and trailing:
            return False
        return not ("RF103" in rules and "RF107" in rules and (leading or interior))

    def _stack_ok(self, items: list[Item]) -> bool:
        """Whether no stack of stride-1 convolutions that the last stage ends grids (RF104).

        A stack is as RF104 defines it: stride-1 convolutions of kernel > 1 along
        a chain of conv / pass-through layers; 1x1 and pass-through layers
        inside it do not end it; a strided convolution, a pool, a pad, a merge
        or the end of the network does. A stack that meets a block may go on
        inside it, and one after a block whose exit could continue a stack
        from inside has an unknown start: both are left to the review.
        """
        model = self.model
        graph = self.problem.graph
        run: list[tuple[int, int]] = []
        known = True
        closed: list[list[tuple[int, int]]] = []  # the stacks the current stage ends, when known
        for stage, _, move, _ in items:
            closed = []
            if not model.fast(stage):
                exit_node = graph.nodes[model.stages[stage].exit]
                continues = exit_node.op in (ops.CONV, ops.IDENTITY, ops.NORM) and len(exit_node.inputs) == 1
                run, known = [], not continues
                continue
            values = move.value_map()
            for name in model.stages[stage].nodes:
                node = graph.nodes[name]
                if self.problem.unit_of(name) in move.dropped or node.op in (ops.IDENTITY, ops.NORM):
                    continue
                stride = kernel = dilation = 1
                if node.op == ops.CONV:
                    kernel, stride, dilation = (hole_value(node, a, 0, values) for a in ("kernel", "stride", "dilation"))
                if node.op != ops.CONV or stride != 1:
                    if known:
                        closed.append(run)
                    run, known = [], True
                elif kernel > 1:
                    run.append((kernel, dilation))
        for members in closed:
            if len(members) >= 2 and max(d for _, d in members) > 1:
                if holes([k for k, _ in members], [d for _, d in members])[0]:
                    return False
        return True

    # -- a prefix ending with a block ------------------------------------------------------------------

    def _engine_ok(self, items: list[Item]) -> bool:
        if not self.engine_rules:
            return True
        model = self.model
        values: dict[Any, int] = {}
        kept: dict[str, bool] = {}
        for stage, _, move, _ in items:
            values.update(move.values)
            for name in model.stages[stage].optional:
                kept[name] = name not in move.dropped
        end = model.stages[items[-1][0]].exit
        graph = prefix_graph(self.problem, values, kept, end)
        return not prefix_violations(self.problem.rules, analyze(graph), end)
