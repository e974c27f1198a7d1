"""The exact dynamic program for chain templates, and best-first enumeration of the top k.

It applies when the design (the output node and its ancestors) is a simple
chain of convolutions, pooling, padding and pass-through layers, and the
template is isotropic (1-D, or every axis written alike): one axis then
stands for all. The state between two layers is the *shape* of the feature
map (its size and the effective stride so far) and the receptive field so
far; a layer's options move it from state to state at a cost (its
parameters, or its multiply-adds, which depend on its output size).

A backward pass computes, for every layer and state, the cheapest cost to
finish inside the target (``togo``). The optimum is ``togo`` at the start;
enumerating paths best-first with ``togo`` as an exact heuristic yields
the k cheapest distinct designs in order, so the top-k costs little more
than the optimum. This is an exhaustive search, hence a proof: no cheaper
design exists. numpy, when installed, speeds the backward pass up; the pure
Python pass gives the same numbers.

Design-rule constraints that depend on several layers (``no_gridding``) are
not in this model; the solver then uses it as a lower bound only.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import repeat
from typing import Any

from rfdesign.ops.conv import conv_parameters
from rfdesign.rf.coverage import window_has_gaps
from rfdesign.solve.problem import Assignment, Problem, channel_counts
from rfdesign.solve.shapes import WINDOW, Shape, step
from rfdesign import ops
from rfdesign.spec.graph import INPUT, Choice, Node

INF = 1 << 62


@dataclass(frozen=True)
class Move:
    """One way to realise one layer: its kernel, stride and dilation, or dropping it."""

    kernel: int
    stride: int
    dilation: int
    kept: bool = True


@dataclass
class Step:
    """A transition: from shape index to shape index, RF increment (in pixels), cost."""

    move: Move
    target: int
    delta: int
    cost: int


def why_not_chain(problem: Problem) -> str | None:
    """None when the chain model applies, else the reason it does not."""
    graph = problem.graph
    previous = INPUT
    for name in problem.design:
        node = graph.nodes[name]
        if len(node.inputs) != 1 or node.inputs[0] != previous:
            return f"the design is not a simple chain (at `{name}`)"
        if node.op not in WINDOW | {ops.IDENTITY, ops.NORM, ops.PAD}:
            return f"`{name}` is a `{node.op}`"
        if graph.dims > 1:
            for attr, values in node.attrs.choices().items():
                if not (attr in node.attrs.tied or len(set(values)) == 1):
                    return f"`{name}` has a different {attr} per axis"
            padding = _padding(node)
            if not isinstance(padding, str) and padding and len(set(padding)) != 1:
                return f"`{name}` pads the axes differently"
        previous = name
    if graph.dims > 1:
        if len(set(graph.input_size)) != 1:
            return "the input is not square"
        for bounds in (problem.targets.receptive_field, problem.targets.output_size, problem.targets.effective_stride):
            if bounds is not None and len(set(bounds)) != 1:
                return "the target differs per axis"
    return None


def _padding(node: Node) -> Any:
    """The padding of a window or pad layer (None for layers without one)."""
    return node.attrs.padding if node.op in WINDOW or node.op == ops.PAD else None


class ChainModel:
    """The chain template as shape states, moves and costs (see the module docstring)."""

    def __init__(self, problem: Problem, use_gridding: bool = False):
        self.problem = problem
        self.graph = problem.graph
        self.dims = problem.dims
        self.layers = list(problem.design)
        self.channels = channel_counts(self.graph)
        targets = problem.targets
        self.rf_bounds = targets.receptive_field[0] if targets.receptive_field else (None, None)
        self.size_bounds = targets.output_size[0] if targets.output_size else (None, None)
        self.stride_bounds = targets.effective_stride[0] if targets.effective_stride else (None, None)
        low, high = self.rf_bounds
        # RF index i = RF - 1; with no maximum, every RF >= the minimum is the same state (saturated)
        self.saturate = high is None
        self.width = high if high is not None else (low if low is not None else 1)
        self.track_rf = low is not None or high is not None
        self._effects: dict[tuple, tuple[Shape, int] | None] = {}
        self.shapes: list[list[Shape]] = [[Shape(self.graph.input_size[0], 1)]]
        self.steps: list[list[list[Step]]] = []
        pads_after = [False] * len(self.layers)
        for index in range(len(self.layers) - 2, -1, -1):
            following = self.graph.nodes[self.layers[index + 1]]
            pads_after[index] = pads_after[index + 1] or following.op == ops.PAD
        for index, name in enumerate(self.layers):
            self._add_layer(self.graph.nodes[name], pads_after[index])

    # -- building ----------------------------------------------------------------------------

    def moves(self, node: Node) -> list[Move]:
        """The canonical options of one layer."""
        if node.op not in WINDOW:
            result = [Move(1, 1, 1, True)]
        else:
            options = {attr: self.problem.options(node.name, attr, 0) for attr in ("kernel", "stride", "dilation")}
            result = []
            for kernel in options["kernel"]:
                dilations = options["dilation"] if kernel > 1 else options["dilation"][:1]
                for stride in options["stride"]:
                    for dilation in dilations:
                        if self.problem.constraints.get("no_unseen_pixels") and window_has_gaps(kernel, stride, dilation):
                            continue
                        result.append(Move(kernel, stride, dilation))
        if node.optional:
            smallest = [min(self.problem.options(node.name, attr, 0)) for attr in ("kernel", "stride", "dilation")]
            result.append(Move(*smallest, kept=False))
        return result

    def _dead(self, shape: Shape, can_grow: bool) -> bool:
        """A shape no design can finish from: strides never shrink, sizes only grow at `pad` layers."""
        stride_max = self.stride_bounds[1]
        if stride_max is not None and shape.stride > stride_max:
            return True
        size_min = self.size_bounds[0]
        return not can_grow and size_min is not None and shape.size < size_min

    def _add_layer(self, node: Node, can_grow: bool) -> None:
        current = self.shapes[-1]
        following: dict[Shape, int] = {}
        table: list[list[Step]] = []
        in_channels = self.channels[node.inputs[0]]
        moves = self.moves(node)
        costs = {move: self._cost(node, move, in_channels) for move in moves}
        flops = self.problem.objective == "flops" and node.op == ops.CONV
        for shape in current:
            steps = []
            for move in moves:
                effect = self._effect(node, shape, move)
                if effect is None or self._dead(effect[0], can_grow):
                    continue
                new_shape, delta = effect
                cost = costs[move] * new_shape.size**self.dims if flops and move.kept else costs[move]
                index = following.setdefault(new_shape, len(following))
                steps.append(Step(move, index, delta, cost))
            table.append(steps)
        self.shapes.append(list(following))
        self.steps.append(table)

    def _effect(self, node: Node, shape: Shape, move: Move) -> tuple[Shape, int] | None:
        """The next shape and RF growth (shared by layers with the same geometry: memoised)."""
        if not move.kept:
            return shape, 0
        key = (node.op, _padding(node), node.attrs.ceil_mode if node.op in WINDOW else False, shape, move)
        if key not in self._effects:
            effect = step(node, 0, shape, move.kernel, move.stride, move.dilation)
            self._effects[key] = None if effect is None else (effect.shape, effect.growth)
        return self._effects[key]

    def _cost(self, node: Node, move: Move, in_channels: int) -> int:
        """Parameters of the layer with this move (for flops: per output unit; the caller scales it)."""
        if not move.kept:
            return 0
        if node.op == ops.NORM and node.attrs.affine and self.problem.objective == "params":
            return 2 * in_channels
        if node.op != ops.CONV:
            return 0
        params = conv_parameters(node.attrs, in_channels, (move.kernel,) * self.dims)
        if self.problem.objective == "flops":
            return params - (node.attrs.out_channels(in_channels) if node.attrs.bias else 0)
        return params

    def _apply(self, node: Node, shape: Shape, move: Move, in_channels: int) -> tuple[Shape, int, int] | None:
        """Next shape, RF growth and cost of one move (as in :meth:`_add_layer`)."""
        effect = self._effect(node, shape, move)
        if effect is None:
            return None
        cost = self._cost(node, move, in_channels)
        if self.problem.objective == "flops" and node.op == ops.CONV and move.kept:
            cost *= effect[0].size**self.dims
        return effect[0], effect[1], cost

    def final_ok(self, shape: Shape) -> bool:
        for value, (low, high) in ((shape.size, self.size_bounds), (shape.stride, self.stride_bounds)):
            if (low is not None and value < low) or (high is not None and value > high):
                return False
        return True

    # -- the backward pass ------------------------------------------------------------------

    def togo(self, accelerate: bool = True) -> list:  # list[list[list[int]]], or numpy arrays indexed alike
        """``togo[l][s][i]``: the cheapest cost to finish from layer ``l``, shape ``s``, RF index ``i``.

        Uses numpy when it is installed and ``accelerate`` is true; the result is the same.
        """
        width = self.width
        low = (self.rf_bounds[0] - 1) if self.rf_bounds[0] is not None else 0
        if not self.track_rf:
            low = 0
        last = [
            [INF] * low + [0] * (width - low) if self.final_ok(shape) else [INF] * width for shape in self.shapes[-1]
        ]
        numpy = None
        if accelerate:
            try:
                import numpy
            except ImportError:
                numpy = None
        if numpy is not None:
            return self._togo_numpy(numpy, last)
        result = [last]
        for table in reversed(self._cheapest()):
            following = result[0]
            layer = []
            for steps in table:
                best = [INF] * width
                for target, delta, cost in steps:
                    after = following[target]
                    if delta < width:
                        best[: width - delta] = map(min, best[: width - delta], map(cost.__add__, after[delta:]))
                        if self.saturate and delta:
                            best[width - delta :] = map(min, best[width - delta :], repeat(cost + after[-1], delta))
                    elif self.saturate:
                        best = list(map(min, best, repeat(cost + after[-1], width)))
                layer.append(best)
            result.insert(0, layer)
        return result

    def _cheapest(self) -> list[list[list[tuple[int, int, int]]]]:
        """Per layer and shape, the distinct (target, RF increment) moves at their cheapest cost.

        The backward pass only needs the cheapest way to make each transition;
        best-first enumeration still walks every move, so dominated designs
        still come out in their place.
        """
        tables = []
        for table in self.steps:
            reduced = []
            for steps in table:
                cheapest: dict[tuple[int, int], int] = {}
                for step in steps:
                    key = (step.target, step.delta if self.track_rf else 0)
                    if key not in cheapest or step.cost < cheapest[key]:
                        cheapest[key] = step.cost
                reduced.append([(target, delta, cost) for (target, delta), cost in cheapest.items()])
            tables.append(reduced)
        return tables

    def _togo_numpy(self, numpy, last):  # noqa: ANN001, ANN202 - numpy is optional
        width = self.width
        following = numpy.array(last, dtype=numpy.int64).reshape(len(last), width)
        result = [following]
        for table in reversed(self._cheapest()):
            layer = numpy.full((len(table), width), INF, dtype=numpy.int64)
            for index, steps in enumerate(table):
                best = layer[index]
                for target, delta, cost in steps:
                    after = following[target]
                    if delta < width:
                        numpy.minimum(best[: width - delta], after[delta:] + cost, out=best[: width - delta])
                        if self.saturate and delta:
                            numpy.minimum(best[width - delta :], after[-1] + cost, out=best[width - delta :])
                    elif self.saturate:
                        numpy.minimum(best, after[-1] + cost, out=best)
            numpy.minimum(layer, INF, out=layer)
            result.insert(0, layer)
            following = layer
        return result

    # -- enumeration --------------------------------------------------------------------------

    def best(self, togo: list, deadline: float | None = None) -> Iterator[tuple[int, list[Move]]]:
        """Designs in order of cost (best first), each as (cost, one move per layer)."""
        start = int(togo[0][0][0])
        if start >= INF:
            return
        counter = 0
        # ties are broken towards deeper layers, so equal-cost designs complete one by one
        queue: list[tuple[int, int, int, int, int, int, int, tuple]] = [(start, 0, counter, 0, 0, 0, 0, ())]
        layers = len(self.steps)
        while queue:
            if deadline is not None and time.monotonic() > deadline:
                return
            _, _, _, cost, layer, shape, index, path = heapq.heappop(queue)
            if layer == layers:
                moves: list[Move] = []
                while path:
                    path, move = path
                    moves.append(move)
                yield cost, list(reversed(moves))
                continue
            for step in self.steps[layer][shape]:
                delta = step.delta if self.track_rf else 0
                nxt = index + delta
                if nxt >= self.width:
                    if not self.saturate:
                        continue
                    nxt = self.width - 1
                remaining = int(togo[layer + 1][step.target][nxt])
                if remaining >= INF:
                    continue
                counter += 1
                spent = cost + step.cost
                heapq.heappush(
                    queue, (spent + remaining, -layer - 1, counter, spent, layer + 1, step.target, nxt, (path, step.move))
                )

    def assignment(self, moves: list[Move]) -> Assignment:
        """The template's assignment for one move per layer."""
        values = {}
        kept = {}
        for name, move in zip(self.layers, moves):
            node = self.graph.nodes[name]
            if node.optional:
                kept[name] = move.kept
            for attr, axis_values in node.attrs.choices().items():
                for axis, value in enumerate(axis_values):
                    if isinstance(value, Choice):
                        values[(name, attr, axis)] = getattr(move, attr)
        return self.problem.canonical(values, kept)

    # -- for explanations -----------------------------------------------------------------------

    def reachable(self) -> dict[Shape, tuple[int, int]]:
        """For every final shape, the smallest and largest receptive field any design reaches."""
        spans: dict[int, tuple[int, int]] = {0: (1, 1)}
        for table in self.steps:
            following: dict[int, tuple[int, int]] = {}
            for shape, (low, high) in spans.items():
                for step in table[shape]:
                    old = following.get(step.target)
                    new = (low + step.delta, high + step.delta)
                    following[step.target] = new if old is None else (min(old[0], new[0]), max(old[1], new[1]))
            spans = following
        return {self.shapes[-1][index]: span for index, span in spans.items()}

