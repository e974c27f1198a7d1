"""The exact dynamic program over a chain of stages, and best-first enumeration of the top k.

It applies when the design cuts into a chain of stages (single layers, and
blocks between separators: :mod:`rfdesign.solve.stages`) that keep integer
strides, and the template is isotropic (one axis then stands for all). The
state between two stages is the feature map's *shape* (size, effective
stride) and the receptive field so far; a stage's moves take it from state
to state at a cost (parameters, multiply-adds, or for the ``activations``
objective the size of the largest activation, combined by max instead of
sum).

A backward pass computes, for every stage and state, the cheapest cost to
finish inside the target (``togo``). Enumerating designs best-first with
``togo`` as the heuristic yields designs in cost order, so the first that
passes the design rules is the optimum and the next ones the top k. Rules
that depend on the state alone are part of the transitions: RF108 caps the
receptive field, RF102 forbids a convolution whose input already sees the
whole image. The others are checked on each prefix as the search reaches it
(:mod:`rfdesign.solve.prune`) and, finally, by the review itself on every
design. The search is exhaustive, hence a proof: no cheaper design passes.
numpy, when installed, speeds the backward pass up; the pure Python pass
gives the same numbers.
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from rfdesign import ops
from rfdesign.ops.conv import conv_parameters
from rfdesign.rf.geometry import effective_kernel, window_axis
from rfdesign.rf.maps import OpMap, shift_map, window_map
from rfdesign.solve.problem import Assignment, Problem, channel_counts
from rfdesign.solve.shapes import WINDOW, Shape, step
from rfdesign.solve.stages import LAYER_OPS, BlockEvaluator, Move, Stage, hole_value, stage_moves, stages, why_not_stages

INF = 1 << 62


@dataclass(frozen=True)
class Step:
    """A transition: the move, the shape index it leads to, the RF growth (input pixels) and its cost.

    ``limit``: the move is allowed only from RF indices below it (RF102), else it is the width.
    """

    move: Move
    target: int
    delta: int
    cost: int
    limit: int


@dataclass(frozen=True)
class LayerEffect:
    """A chain stage's move on one shape: the next shape, RF growth, costs, and its layers' index maps.

    ``maps`` holds, for each layer that moves pixels, its map on axis 1 and its input size.
    """

    shape: Shape
    delta: int
    params: int
    flops: int
    activations: int
    maps: tuple[tuple[OpMap, int], ...]
    limit: int
    start: Shape


def why_not_chain(problem: Problem) -> str | None:
    """None when the stage dynamic program applies, else the reason it does not."""
    return why_not_stages(problem, stages(problem))


class ChainModel:
    """The chain of stages as shape states, moves and costs (see the module docstring).

    With ``prune`` false, shapes that cannot meet the target are kept (for explanations).
    """

    def __init__(self, problem: Problem, prune: bool = True):
        self.problem = problem
        self.graph = problem.graph
        self.dims = problem.dims
        self.stages: list[Stage] = stages(problem)
        self.layers = [stage.exit for stage in self.stages]
        self.channels = channel_counts(self.graph)
        self.maximise_activation = problem.objective == "activations"
        self.input_size = self.graph.input_size[0]
        rules = problem.rules
        targets = problem.targets
        low, high = targets.receptive_field[0] if targets.receptive_field else (None, None)
        if "RF108" in rules:
            cap = math.floor(rules.config.options["rf_beyond_factor"] * self.input_size)
            high = cap if high is None else min(high, cap)
        self.rf_bounds = (low, high)
        self.size_bounds = targets.output_size[0] if targets.output_size else (None, None)
        self.stride_bounds = targets.effective_stride[0] if targets.effective_stride else (None, None)
        self.productive_only = "RF102" in rules
        # RF index i = RF - 1; with no maximum, every RF >= the saturation point is the same state
        self.saturate = high is None
        width = high if high is not None else (low if low is not None else 1)
        if self.productive_only and self.saturate:
            width = max(width, self.input_size)
        self.width = max(width, 1)
        self.track_rf = low is not None or high is not None or self.productive_only
        self.prune = prune
        self._fast = [self._is_fast(index) for index in range(len(self.stages))]
        self.blocks = {
            index: BlockEvaluator(problem, stage) for index, stage in enumerate(self.stages) if not self.fast(index)
        }
        self.stage_moves = [stage_moves(problem, stage) for stage in self.stages]
        self._layer_cache: dict[tuple[Any, ...], LayerEffect | None] = {}
        self.shapes: list[list[Shape]] = [[Shape(self.input_size, 1)]]
        self.steps: list[list[list[Step]]] = []
        can_grow = [False] * len(self.stages)
        for index in range(len(self.stages) - 2, -1, -1):
            following = self.stages[index + 1]
            grows = not self.fast(index + 1) or any(self.graph.nodes[n].op == ops.PAD for n in following.nodes)
            can_grow[index] = can_grow[index + 1] or grows
        for index in range(len(self.stages)):
            self._add_stage(index, can_grow[index])

    # -- building ----------------------------------------------------------------------------

    def fast(self, index: int) -> bool:
        """Whether stage ``index`` is a chain of layers sized by the window arithmetic (else the engine sizes it)."""
        return self._fast[index]

    def _is_fast(self, index: int) -> bool:
        stage = self.stages[index]
        previous = stage.entry
        for name in stage.nodes:
            node = self.graph.nodes[name]
            if node.op not in LAYER_OPS or node.inputs != (previous,):
                return False
            previous = name
        return True

    def layer_effect(self, index: int, shape: Shape, move: Move) -> LayerEffect | None:
        """A chain stage's move on ``shape`` (None when some output would be empty); memoised.

        ``limit`` is the RF index below which it may start (RF102: no kept
        convolution may read an input that already sees the whole image).
        """
        key = (index, shape, move)
        if key not in self._layer_cache:
            self._layer_cache[key] = self._layer_effect(index, shape, move)
        return self._layer_cache[key]

    def _layer_effect(self, index: int, shape: Shape, move: Move) -> LayerEffect | None:
        stage = self.stages[index]
        values = move.value_map()
        start = shape
        delta = params = flops = peak = 0
        maps = []
        limit = self.width
        for name in stage.nodes:
            node = self.graph.nodes[name]
            if self.problem.unit_of(name) in move.dropped:
                continue
            if node.op in WINDOW:
                k, s, d = (hole_value(node, attr, 0, values) for attr in ("kernel", "stride", "dilation"))
            else:
                k = s = d = 1
            effect = step(node, 0, shape, k, s, d)
            if effect is None:
                return None
            in_channels = self.channels[node.inputs[0]]
            out_channels = self.channels[name]
            units = effect.shape.size**self.dims
            if node.op == ops.CONV:
                weights = conv_parameters(node.attrs, in_channels, (k,) * self.dims)
                params += weights
                flops += (weights - (out_channels if node.attrs.bias else 0)) * units
                if self.productive_only and effect.shape.size != 1:
                    limit = min(limit, self.input_size - 1 - delta)  # RF102, with the growth before it in the stage
            elif node.op == ops.NORM and node.attrs.affine:
                params += 2 * in_channels
            if node.op in WINDOW:
                _, (before, _) = window_axis(node.attrs.padding, 0, shape.size, k, s, d, node.attrs.ceil_mode)
                maps.append((window_map(s, before, effective_kernel(k, d), d), shape.size))
            elif node.op == ops.PAD:
                maps.append((shift_map(-node.attrs.padding[0][0]), shape.size))
            peak = max(peak, out_channels * units)
            delta += effect.growth
            shape = effect.shape
        return LayerEffect(shape, delta, params, flops, peak, tuple(maps), max(limit, 0), start)

    def _cost(self, params: int, flops: int, activations: int) -> int:
        objective = self.problem.objective
        if objective == "flops":
            return flops
        if objective == "activations":
            return activations
        return params

    def transition(self, index: int, shape: Shape, move: Move) -> tuple[Shape, int, int, int] | None:
        """(next shape, RF growth, cost, RF-index limit) of one move, or None when it is impossible."""
        if self.fast(index):
            effect = self.layer_effect(index, shape, move)
            if effect is None:
                return None
            return effect.shape, effect.delta, self._cost(effect.params, effect.flops, effect.activations), effect.limit
        block, _ = self.blocks[index].effect(shape.size, move)
        if block is None or (not block.aligned and "RF105" in self.problem.rules):
            return None
        new_shape = Shape(block.size, shape.stride * block.stride)
        delta = shape.stride * (block.dhi - block.dlo)
        return new_shape, delta, self._cost(block.params, block.flops, block.activations), self.width

    def _dead(self, shape: Shape, can_grow: bool) -> bool:
        """A shape no design can finish from: strides never shrink, sizes only grow where a later stage can."""
        if not self.prune:
            return False
        stride_max = self.stride_bounds[1]
        if stride_max is not None and shape.stride > stride_max:
            return True
        size_min = self.size_bounds[0]
        return not can_grow and size_min is not None and shape.size < size_min

    def _add_stage(self, index: int, can_grow: bool) -> None:
        following: dict[Shape, int] = {}
        table: list[list[Step]] = []
        for shape in self.shapes[-1]:
            steps = []
            for move in self.stage_moves[index]:
                result = self.transition(index, shape, move)
                if result is None or self._dead(result[0], can_grow):
                    continue
                new_shape, delta, cost, limit = result
                target = following.setdefault(new_shape, len(following))
                steps.append(Step(move, target, delta, cost, limit))
            table.append(steps)
        self.shapes.append(list(following))
        self.steps.append(table)

    def _finish(self, shape: Shape) -> list[int]:
        """The cost to finish at the end: 0 where the shape and RF index meet the target, else INF.

        With RF109 forbidden, an end state whose output no placement of the
        regions could keep from being border-dominated is INF too (exact for
        every RF index below the saturated one).
        """
        width = self.width
        low = (self.rf_bounds[0] - 1) if self.rf_bounds[0] is not None else 0
        if not self.final_ok(shape):
            return [INF] * width
        row = [INF] * low + [0] * (width - low)
        if "RF109" in self.problem.rules and shape.stride and self.prune:
            from rfdesign.solve.rules import border_dominance_possible

            options = self.problem.rules.config.options
            last = width - 1 if self.saturate else width
            for index in range(low, last):
                if not border_dominance_possible(self.input_size, shape.size, shape.stride, index + 1, self.dims, options):
                    row[index] = INF
        return row

    def final_ok(self, shape: Shape) -> bool:
        for value, (low, high) in ((shape.size, self.size_bounds), (shape.stride, self.stride_bounds)):
            if (low is not None and value < low) or (high is not None and value > high):
                return False
        return True

    # -- the backward pass ------------------------------------------------------------------

    def togo(self, accelerate: bool = True) -> list:  # list[list[list[int]]], or numpy arrays indexed alike
        """``togo[l][s][i]``: the cheapest cost to finish from stage ``l``, shape ``s``, RF index ``i``.

        Uses numpy when it is installed and ``accelerate`` is true; the result is the same.
        """
        width = self.width
        last = [self._finish(shape) for shape in self.shapes[-1]]
        numpy = None
        if accelerate:
            try:
                import numpy
            except ImportError:
                numpy = None
        if numpy is not None:
            return self._togo_numpy(numpy, last)
        combine: Callable[[int, int], int] = max if self.maximise_activation else (lambda a, b: a + b)
        result = [last]
        for table in reversed(self._cheapest()):
            following = result[0]
            layer = []
            for steps in table:
                best = [INF] * width
                for target, delta, cost, limit in steps:
                    after = following[target]
                    upto = min(limit, width)
                    direct = max(0, min(upto, width - delta))
                    for i in range(direct):
                        value = combine(cost, after[i + delta])
                        if value < best[i]:
                            best[i] = value
                    if self.saturate:
                        tail = combine(cost, after[-1])
                        for i in range(max(0, width - delta), upto):
                            if tail < best[i]:
                                best[i] = tail
                layer.append([min(value, INF) for value in best])
            result.insert(0, layer)
        return result

    def _cheapest(self) -> list[list[list[tuple[int, int, int, int]]]]:
        """Per stage and shape, the distinct (target, RF increment, limit) transitions at their cheapest cost.

        The backward pass only needs the cheapest way to make each transition;
        best-first enumeration still walks every move, so dominated designs
        still come out in their place.
        """
        tables = []
        for table in self.steps:
            reduced = []
            for steps in table:
                cheapest: dict[tuple[int, int, int], int] = {}
                for item in steps:
                    key = (item.target, item.delta if self.track_rf else 0, item.limit)
                    if key not in cheapest or item.cost < cheapest[key]:
                        cheapest[key] = item.cost
                reduced.append([(target, delta, cost, limit) for (target, delta, limit), cost in cheapest.items()])
            tables.append(reduced)
        return tables

    def _togo_numpy(self, numpy, last):  # noqa: ANN001, ANN202 - numpy is optional
        width = self.width
        following = numpy.array(last, dtype=numpy.int64).reshape(len(last), width)
        result = [following]
        combine = numpy.maximum if self.maximise_activation else numpy.add
        for table in reversed(self._cheapest()):
            layer = numpy.full((len(table), width), INF, dtype=numpy.int64)
            for index, steps in enumerate(table):
                best = layer[index]
                for target, delta, cost, limit in steps:
                    after = following[target]
                    upto = min(limit, width)
                    direct = max(0, min(upto, width - delta))
                    if direct:
                        numpy.minimum(best[:direct], combine(after[delta : delta + direct], cost), out=best[:direct])
                    if self.saturate and upto > width - delta:
                        start = max(0, width - delta)
                        numpy.minimum(best[start:upto], combine(after[-1], cost), out=best[start:upto])
            numpy.minimum(layer, INF, out=layer)
            result.insert(0, layer)
            following = layer
        return result

    # -- enumeration --------------------------------------------------------------------------

    def best(
        self,
        togo: list,
        deadline: float | None = None,
        accept: Callable[[tuple[Any, ...]], bool] | None = None,
    ) -> Iterator[tuple[int, list[Move]]]:
        """Designs in order of cost (best first), each as (cost, one move per stage).

        ``accept(path)`` is asked of every prefix the search reaches (a linked
        tuple ``(parent, (stage, shape_in, move, shape_out))``); a prefix it
        refuses is not extended. It must refuse only prefixes that every
        design extending them fails, so the order stays exact.
        """
        start = int(togo[0][0][0])
        if start >= INF:
            return
        combine: Callable[[int, int], int] = max if self.maximise_activation else (lambda a, b: a + b)
        counter = 0
        # ties are broken towards deeper stages, so equal-cost designs complete one by one
        queue: list[tuple[int, int, int, int, int, int, int, tuple[Any, ...]]] = [(start, 0, counter, 0, 0, 0, 0, ())]
        count = len(self.steps)
        while queue:
            if deadline is not None and time.monotonic() > deadline:
                return
            _, _, _, cost, layer, shape, index, path = heapq.heappop(queue)
            if layer and accept is not None and not accept(path):
                continue
            if layer == count:
                moves: list[Move] = []
                while path:
                    path, item = path
                    moves.append(item[2])
                yield cost, list(reversed(moves))
                continue
            for item in self.steps[layer][shape]:
                if index >= item.limit:
                    continue
                delta = item.delta if self.track_rf else 0
                nxt = index + delta
                if nxt >= self.width:
                    if not self.saturate:
                        continue
                    nxt = self.width - 1
                remaining = int(togo[layer + 1][item.target][nxt])
                if remaining >= INF:
                    continue
                counter += 1
                spent = combine(cost, item.cost)
                heapq.heappush(
                    queue,
                    (combine(spent, remaining), -layer - 1, counter, spent, layer + 1, item.target, nxt,
                     (path, (layer, shape, item.move, item.target))),
                )  # fmt: skip

    def assignment(self, moves: list[Move]) -> Assignment:
        """The template's assignment for one move per stage."""
        values: dict[Any, int] = {}
        kept: dict[str, bool] = {}
        for stage, move in zip(self.stages, moves):
            values.update(move.values)
            for name in stage.optional:
                kept[name] = name not in move.dropped
        return self.problem.canonical(values, kept)

    # -- for explanations -----------------------------------------------------------------------

    def reachable(self) -> dict[Shape, tuple[int, int]]:
        """For every final shape, the smallest and largest receptive field any design reaches."""
        spans: dict[int, tuple[int, int]] = {0: (1, 1)}
        for table in self.steps:
            following: dict[int, tuple[int, int]] = {}
            for shape, (low, high) in spans.items():
                for item in table[shape]:
                    old = following.get(item.target)
                    new = (low + item.delta, high + item.delta)
                    following[item.target] = new if old is None else (min(old[0], new[0]), max(old[1], new[1]))
            spans = following
        return {self.shapes[-1][index]: span for index, span in spans.items()}
