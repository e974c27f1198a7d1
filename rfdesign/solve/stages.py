"""A design as a chain of stages: single layers, and blocks between the nodes every path passes through.

A node is a *separator* when every path from the input to the output goes
through it (no edge jumps over it in topological order): each layer of a
chain, the add that ends a residual block, the concat that ends an
inception block. Between two consecutive separators lies a *stage*: one
layer, or a block (a sub-DAG with one entry and one exit).

For the dynamic program a stage is a set of *moves* (assignments of its own
holes and optional layers), each taking the feature map's shape (size and
effective stride) to another and moving the first and last pixel of unit
0's region by constants times the incoming stride. A layer's moves come from
:func:`rfdesign.solve.shapes.step` (the engine's window arithmetic); a
block's from analysing the block alone with the RF engine, for every move
and input size, so every op the engine reads works inside a block.

The dynamic program applies when every stage keeps integer strides (no
upsampling), the template is isotropic (every axis alike), and no block has
more than :data:`MAX_BLOCK_MOVES` moves; otherwise the z3 model is used.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from itertools import product
from math import prod
from typing import Any

from rfdesign import ops
from rfdesign.errors import SpecError
from rfdesign.rf.analysis import Analysis, analyze
from rfdesign.solve.problem import Key, Problem, channel_counts
from rfdesign.spec.graph import INPUT, Choice, Graph, Node

#: a block with more moves than this (per input size) is left to the z3 model
MAX_BLOCK_MOVES = 4096
#: single-layer stages the fast window arithmetic handles
LAYER_OPS = frozenset({ops.CONV, ops.MAXPOOL, ops.AVGPOOL, ops.PAD, ops.IDENTITY, ops.NORM})


@dataclass(frozen=True)
class Move:
    """One way to realise one stage: values of its holes, and which of its optional layers are kept."""

    values: tuple[tuple[Key, int], ...]
    dropped: tuple[str, ...] = ()

    def value_map(self) -> dict[Key, int]:
        return dict(self.values)


@dataclass(frozen=True)
class Effect:
    """What a move does to a shape along one axis (in the stage input's units, see the module docstring)."""

    size: int
    stride: int  # multiplies the incoming effective stride
    dlo: int  # change of unit 0's first input pixel, in stage-input units
    dhi: int  # change of its last input pixel
    params: int
    flops: int
    activations: int
    aligned: bool = True  # False when a merge inside is certainly misaligned (RF105)


@dataclass
class Stage:
    """Nodes between two separators (the last one is the exit); ``optional`` names the units inside."""

    nodes: list[str]
    entry: str
    holes: list[Any] = field(default_factory=list)  # rfdesign.solve.problem.Hole
    optional: list[str] = field(default_factory=list)

    @property
    def exit(self) -> str:
        return self.nodes[-1]

    @property
    def single(self) -> bool:
        return len(self.nodes) == 1


def separators(graph: Graph, design: list[str]) -> list[str]:
    """The design's nodes that every path from the input to the output passes through, in order."""
    position = {INPUT: 0}
    for index, name in enumerate(design, 1):
        position[name] = index
    reach = [0] * (len(design) + 2)  # reach[i]: the furthest position read by a node before position i
    furthest = 0
    for name in design:
        for source in graph.nodes[name].dependencies():
            start = position[source]
            if position[name] > reach[start]:
                reach[start] = position[name]
    found = []
    for index, name in enumerate(design, 1):
        furthest = max(furthest, reach[index - 1])
        if furthest <= index:
            found.append(name)
    return found


def stages(problem: Problem) -> list[Stage]:
    """The design cut at its separators (see the module docstring)."""
    graph = problem.graph
    inside = {name for unit in problem.units.values() for name in unit.members if name != unit.output}
    cuts = set(separators(graph, problem.design)) - inside  # a unit is kept or dropped whole: never cut it
    result = []
    current: list[str] = []
    entry = INPUT
    for name in problem.design:
        current.append(name)
        if name in cuts:
            holes = [hole for hole in problem.holes if hole.node in current]
            optional = [u for u in problem.optional if problem.units[u].output in current]
            result.append(Stage(current, entry, holes, optional))
            entry = name
            current = []
    return result


def why_not_stages(problem: Problem, chain: list[Stage]) -> str | None:
    """None when the stage dynamic program applies to this problem, else the reason it does not."""
    graph = problem.graph
    if graph.dims > 1:
        if len(set(graph.input_size)) != 1:
            return "the input is not square"
        for bounds in (problem.targets.receptive_field, problem.targets.output_size, problem.targets.effective_stride):
            if bounds is not None and len(set(bounds)) != 1:
                return "the target differs per axis"
    for stage in chain:
        for name in stage.nodes:
            node = graph.nodes[name]
            if node.op in (ops.UPSAMPLE, ops.CONV_TRANSPOSE, ops.DEPTH_TO_SPACE):
                return f"`{name}` is a `{node.op}` (fractional strides)"
            if graph.dims > 1 and not _isotropic(node):
                return f"`{name}` is not the same along every axis"
        if not stage.single or graph.nodes[stage.exit].op not in LAYER_OPS:
            count = 1
            for hole in stage.holes:
                count *= len(hole.options)
            count *= 2 ** len(stage.optional)
            if count > MAX_BLOCK_MOVES:
                return f"the block ending at `{stage.exit}` has {count} combinations of choices"
    return None


def _isotropic(node: Node) -> bool:
    attrs = node.attrs
    for attr, values in attrs.choices().items():
        if not (attr in getattr(attrs, "tied", ()) or len(set(values)) == 1):
            return False
    for attr in ("padding", "crop", "factor", "size", "output_padding"):
        value = getattr(attrs, attr, None)
        if isinstance(value, tuple) and len(set(value)) > 1:
            return False
    return True


# -- moves of one stage --------------------------------------------------------------------------------


def stage_moves(problem: Problem, stage: Stage) -> list[Move]:
    """Every canonical move of a stage: its holes' options crossed, and each optional layer kept or dropped."""
    hole_choices = [[(hole, value) for value in hole.options] for hole in stage.holes]
    moves: dict[Any, Move] = {}
    for dropped_mask in product((False, True), repeat=len(stage.optional)):
        dropped = tuple(name for name, gone in zip(stage.optional, dropped_mask) if gone)
        kept = {name: name not in dropped for name in stage.optional}
        for combination in product(*hole_choices):
            values: dict[Key, int] = {}
            for hole, value in combination:
                for axis in hole.axes:
                    values[(hole.node, hole.attr, axis)] = value
            canonical = problem.canonical(values, kept)
            key = canonical.key()
            if key not in moves:
                moves[key] = Move(tuple(sorted(canonical.values.items())), dropped)
    return list(moves.values())


class BlockEvaluator:
    """A block analysed alone by the RF engine, for each move and input size (memoised)."""

    def __init__(self, problem: Problem, stage: Stage):
        self.problem = problem
        self.stage = stage
        graph = problem.graph
        channels = channel_counts(graph)
        self.channels = channels[stage.entry]
        rename = {stage.entry: INPUT}
        nodes = {}
        for name in stage.nodes:
            node = graph.nodes[name]
            inputs = tuple(rename.get(source, source) for source in node.inputs)
            attrs = node.attrs.renamed(lambda ref: rename.get(ref, ref))
            nodes[name] = replace(node, inputs=inputs, attrs=attrs)
        self.template = Graph(f"{graph.name}:{stage.exit}", graph.input_size, self.channels, nodes, (stage.exit,),
                              graph.file, graph.input_location)
        units = {
            name: replace(unit, entry=rename.get(unit.entry, unit.entry))
            for name, unit in problem.units.items()
            if unit.output in stage.nodes
        }
        self.sub = replace(problem, graph=self.template, units=units)
        self.cache: dict[tuple[int, Move], tuple[Effect | None, Analysis | None]] = {}

    def concrete(self, move: Move) -> Graph:
        from rfdesign.solve.problem import Assignment

        kept = {name: name not in move.dropped for name in self.stage.optional}
        return self.sub.concrete(Assignment(move.value_map(), kept))

    def effect(self, size: int, move: Move) -> tuple[Effect | None, Analysis | None]:
        """The move's effect on an input of ``size`` per axis (None when impossible or not integer-strided)."""
        key = (size, move)
        if key not in self.cache:
            self.cache[key] = self._effect(size, move)
        return self.cache[key]

    def _effect(self, size: int, move: Move) -> tuple[Effect | None, Analysis | None]:
        graph = self.concrete(move)
        dims = graph.dims
        try:
            analysis = analyze(graph, (size,) * dims)
        except SpecError:
            return None, None
        exit_layer = analysis.layers[self.stage.exit]
        figures = None
        for axis in range(dims):
            region = exit_layer.regions[axis]
            if len(region) != 1 or region[0].period != 1 or region[0].has_empty:
                return None, analysis
            group = region[0]
            axis_figures = (exit_layer.output_size[axis], group.shift, group.lo[0], group.hi[0])
            if figures is not None and axis_figures != figures:
                return None, analysis  # the block is not isotropic at this size
            figures = axis_figures
        assert figures is not None
        out, stride, lo, hi = figures
        names = self.stage.nodes
        layers = analysis.layers
        params = sum(layers[name].params for name in names)
        flops = sum(layers[name].flops for name in names)
        activations = max(layers[name].channels * prod(layers[name].output_size) for name in names)
        return Effect(out, stride, lo, hi, params, flops, activations, _maybe_aligned(analysis, names)), analysis


def _maybe_aligned(analysis: Analysis, names: list[str]) -> bool:
    """False when some merge of the block is misaligned in a way no prefix can excuse (RF105).

    Analysed alone, a block's merges compare branch centres in its own units,
    which the whole network only scales. The one thing a prefix can change is
    RF105's exemption of causal branches (every branch's region ending, or
    starting, at the unit's own position), which needs the branches to end
    (or start) at the same place: a misaligned merge whose branches do
    neither is misaligned in every network.
    """
    from rfdesign.rf.coords import _hi, _lo

    for name in names:
        layer = analysis.layers[name]
        if not layer.misalignment:
            continue
        sources = [s for i, s in enumerate(layer.node.inputs) if i not in layer.geometry.gate_inputs]
        for problem in layer.misalignment:
            if problem.centre_offset is None:
                return False  # strides differ
            axis = problem.axis
            units = min(layer.output_size[axis], max(layer.axes[axis].period, 2))
            ends, starts = set(), set()
            for source in sources:
                if source == INPUT:
                    boxes = tuple((v, v) for v in range(units))
                else:
                    region = analysis.layers[source].regions[axis]
                    boxes = tuple((_lo(region, v), _hi(region, v)) for v in range(units))
                starts.add(tuple(b[0] for b in boxes))
                ends.add(tuple(b[1] for b in boxes))
            if len(ends) > 1 and len(starts) > 1:
                return False
    return True


def hole_value(node: Node, attr: str, axis: int, values: dict[Key, int]) -> int:
    current = node.attrs.choices()[attr][axis]
    return values[(node.name, attr, axis)] if isinstance(current, Choice) else int(current)
