"""An independent brute-force receptive-field oracle for 1-D networks.

This module deliberately imports nothing from ``rfdesign``: it has its own
network description, its own reading of the spec keys, and its own op
arithmetic, written from PyTorch's documented semantics (and TensorFlow's for
``padding: same``). It is slow and simple on purpose; the property tests in
``test_oracle_bruteforce.py`` compare the engine against it.

Network
=======

A :class:`Network` is an input size ``n`` (1-D), a channel count and a list of
layers in topological order. A layer is a plain ``dict`` holding the spec keys
exactly as they are written in YAML (``{"name": "l3", "op": "conv", "from":
"l2", "kernel": 3, "padding": [[1, 0]]}``); :meth:`Network.to_yaml` prints the
spec text, and the oracle interprets the same dicts.

Dependencies (the Distill convention: every axis is infinite)
==============================================================

Padding positions count as part of a receptive field, so the dependency set
``deps(node, v)`` is defined for ANY integer unit ``v`` of a node (not only
``0..n-1``) and is a set of integers (input pixels, possibly negative or past
the input). The input node's unit ``v`` depends on pixel ``v``. Every other
node reads, for output unit ``v``, the following units of its input(s), and
``deps`` is the union of the ``deps`` of what it reads (memoised recursion):

* ``conv``, ``maxpool``, ``avgpool`` (kernel k, stride s, dilation d, left
  padding p): ``v*s - p + j*d`` for ``j`` in ``0..k-1``;
* ``conv_transpose`` (left crop p = the padding before): input ``i`` feeds
  output ``v`` iff ``i*s + j*d == v + p`` for some ``j`` in ``0..k-1``; an
  output unit may read nothing (a hole: when the taps ``j*d mod s`` miss a
  residue, e.g. when s exceeds the dilated kernel);
* ``upsample`` nearest, factor f: ``floor(v/f)``; with ``size``:
  ``floor(v*n_in/n_out)``;
* ``upsample`` linear, ``align_corners: false``: the source position is
  ``src = (v + 1/2)*n_in/n_out - 1/2`` (``(v + 1/2)/f - 1/2`` with a factor);
  it reads ``floor(src)`` and, when ``src`` is not an integer (its weight
  ``src - floor(src)`` is non-zero), ``floor(src) + 1``. The border clamp of
  PyTorch is ignored: the axis is infinite;
* ``upsample`` linear, ``align_corners: true``: the same with
  ``src = v*(n_in - 1)/(n_out - 1)`` (``src = 0`` when ``n_out == 1``);
* ``pad`` (before b): ``v - b``; ``crop`` (before c): ``v + c``;
* ``space_to_depth`` f: like a pool with k = s = f, no padding;
  ``depth_to_space`` f: ``floor(v/f)``;
* ``global_pool`` and ``linear`` (flatten + fully connected): a window of the
  whole input, k = s = ``n_in``: unit 0 reads units ``0..n_in-1`` of its
  input (unit v reads ``v*n_in .. v*n_in + n_in - 1``);
* ``add``, ``concat``: unit ``v`` of every input; ``identity``, ``norm`` and
  activations: unit ``v``.

:meth:`Oracle.deps` builds these sets literally. The figures only need their
extents, and min and max distribute over unions, so :meth:`Oracle.extent`
computes ``(min, max)`` by the same recursion without building sets (the
tests check both agree). ``deps(finite=True)`` is the variant of a real
finite tensor (padding depends on nothing), which the tests compare with
PyTorch's gradients to validate the index arithmetic above.

Output sizes (PyTorch's formulas, reimplemented)
================================================

* conv / pool: ``k' = d*(k - 1) + 1``; ``floor((n + pb + pa - k')/s) + 1``;
  empty (an error) when ``n + pb + pa < k'``. Pools with ``ceil_mode`` use
  ``ceil`` and then drop the last window if it starts at or after ``n + pb``
  (inside the right padding). A pool's stride defaults to its kernel.
* ``padding: same`` (TensorFlow): ``out = ceil(n/s)``, total padding
  ``max((out - 1)*s + k' - n, 0)``, ``before = total // 2`` (the odd pixel
  after); the resolved ``before`` is the p used in ``deps``.
* conv_transpose: ``(n - 1)*s - pb - pa + k' + output_padding``, an error
  below 1, and ``output_padding`` must be smaller than the stride or the
  dilation (PyTorch's rule). With ``same``: ``n*s`` and left crop
  ``max(k' - s, 0) // 2``.
* upsample: ``n*f`` or ``size``; pad: ``n + b + a``; crop: ``n - b - a``
  (an error below 1), or ``like: L``: centre crop to L's size (the odd pixel
  dropped at the end; an error when L is larger); space_to_depth: ``n/f``
  (an error unless f divides n), channels times f; depth_to_space: ``n*f``,
  channels divided by f (an error unless f divides them); global_pool and
  linear: 1; merges: all inputs must have one size (``add`` also one channel
  count; ``concat`` sums the channels).

Figures per node (over its actual output units ``v = 0..n_out-1``)
==================================================================

``extent(v)`` is ``[min deps, max deps]`` (None when ``deps`` is empty).

* ``receptive_field``: max over v of ``max - min + 1``;
* ``receptive_field_position_min``: min over v of the same;
* ``receptive_field_min``: min over v and over every path from the input to
  the node (enumerated explicitly) of that single path's extent (``deps``
  computed along that path only);
* ``box`` = ``extent(0)``; ``effective_padding`` = ``-box[0]``;
* a path's ``effective_stride`` is the exact product of each op's scale
  (s for conv/pool/space_to_depth, 1/s for conv_transpose, n_in/n_out for
  upsample, (n_in - 1)/(n_out - 1) for linear upsample with align_corners
  (0 when n_out == 1), 1/f for depth_to_space, n_in for global_pool and
  linear, 1 otherwise); a node's ``effective_stride`` is the largest over its
  paths (they are all equal when it is aligned);
* ``aligned``: no merge at or upstream of the node is misaligned. A merge is
  misaligned when the paths reaching it have different strides, or when, for
  some unit v, its inputs' regions (each input's ``extent(v)``, over all of
  that input's paths) have different centres ``(min + max)/2`` (inputs whose
  region of v is empty are skipped). Every node downstream of a misaligned
  merge is misaligned: it has already mixed differently centred features;
* ``paths_aligned`` (reported, not compared): the per-path reading, every
  path to the node has the same stride and, for every unit v, the same centre
  of its own region. It differs from ``aligned`` downstream of a merge (the
  centres of the paths through a misaligned merge can meet again after a
  pool) and after a window over a merge of regions of unequal sizes (an
  aligned merge's paths then drift apart although no merge is misaligned).

Figures are zero (and the box None) when no unit depends on anything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

INPUT = "input"

Extent = tuple[int, int] | None

#: spelling -> canonical op, for the few aliases the generators use
ALIASES = {
    "conv1d": "conv",
    "deconv": "conv_transpose",
    "relu": "identity",
    "dropout": "identity",
    "bn": "norm",
    "batchnorm": "norm",
    "max_pool": "maxpool",
    "avg_pool": "avgpool",
    "reorg": "space_to_depth",
    "pixel_shuffle": "depth_to_space",
    "cat": "concat",
    "sum": "add",
    "global_avgpool": "global_pool",
    "fc": "linear",
}
WINDOW = ("conv", "maxpool", "avgpool")
MERGES = ("add", "concat")


class GeometryError(ValueError):
    """The network cannot exist at this input size; ``layer`` is the first impossible layer."""

    def __init__(self, layer: str, kind: str, reason: str):
        super().__init__(f"{layer}: {reason}")
        self.layer = layer
        self.kind = kind  # empty | merge_size | merge_channels | output_padding | crop | divisibility
        self.reason = reason


def canonical(op: str) -> str:
    return ALIASES.get(op, op)


def _scalar(value: Any) -> int:
    """A per-axis int as written: ``3`` or ``[3]``."""
    if isinstance(value, list):
        (value,) = value
    return int(value)


def _pair(value: Any) -> tuple[int, int] | str:
    """Padding or crop as written: ``2``, ``[2]``, ``[[1, 2]]``, ``valid`` or ``same``."""
    if value == "same":
        return "same"
    if value == "valid":
        return (0, 0)
    if isinstance(value, int):
        return (value, value)
    (item,) = value
    if isinstance(item, int):
        return (item, item)
    before, after = item
    return (int(before), int(after))


@dataclass
class Network:
    """A 1-D network: input size, input channels, layers (spec dicts) in topological order."""

    input_size: int
    layers: list[dict[str, Any]]
    input_channels: int = 12
    name: str = "oracle"
    output: str | None = None

    def inputs_of(self, layer: dict[str, Any]) -> list[str]:
        source = layer["from"]
        return list(source) if isinstance(source, list) else [source]

    def to_yaml(self) -> str:
        lines = [f"name: {self.name}", f"input: {{size: [{self.input_size}], channels: {self.input_channels}}}"]
        lines.append("layers:")
        for layer in self.layers:
            lines.append(f"  - {_flow(layer)}")
        if self.output is not None:
            lines.append(f"output: {self.output}")
        return "\n".join(lines) + "\n"

    def layer_lines(self) -> dict[str, int]:
        """1-based line of each layer in :meth:`to_yaml`."""
        return {layer["name"]: 4 + index for index, layer in enumerate(self.layers)}


def _flow(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, str)):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in value.items()) + "}"
    raise TypeError(value)


@dataclass(frozen=True)
class Geometry:
    """One layer resolved against its input sizes."""

    size: int
    channels: int
    scale: Fraction  # input units per output unit along this op
    reads: Callable[[int], list[int]]  # output unit v -> the units of each input it reads
    pad_before: int | None = None


def _window_reads(k: int, s: int, d: int, p: int) -> Callable[[int], list[int]]:
    return lambda v: [v * s - p + j * d for j in range(k)]


def _transposed_reads(k: int, s: int, d: int, p: int) -> Callable[[int], list[int]]:
    def reads(v: int) -> list[int]:
        found = []
        for j in range(k):
            t = v + p - j * d
            if t % s == 0:
                found.append(t // s)
        return found

    return reads


def _floor(q: Fraction) -> int:
    return q.numerator // q.denominator


def _linear_reads(src: Callable[[int], Fraction]) -> Callable[[int], list[int]]:
    def reads(v: int) -> list[int]:
        x = src(v)
        base = _floor(x)
        return [base] if x == base else [base, base + 1]

    return reads


def resolve(
    layer: dict[str, Any], sizes: list[int], channels: list[int], like_size: int | None = None
) -> Geometry:
    """Output size, channels and index map of ``layer`` (raises :class:`GeometryError`)."""
    name = layer["name"]
    op = canonical(layer["op"])

    def fail(kind: str, reason: str) -> GeometryError:
        return GeometryError(name, kind, reason)

    if op in MERGES:
        if len(set(sizes)) != 1:
            raise fail("merge_size", f"merge of sizes {sizes}")
        if op == "add":
            if len(set(channels)) != 1:
                raise fail("merge_channels", f"add of channels {channels}")
            out_channels = channels[0]
        else:
            out_channels = sum(channels)
        return Geometry(sizes[0], out_channels, Fraction(1), lambda v: [v])
    (n,) = sizes
    (c,) = channels
    if op in WINDOW:
        k = _scalar(layer["kernel"])
        s = _scalar(layer.get("stride", layer["kernel"] if op != "conv" else 1))
        d = _scalar(layer.get("dilation", 1))
        eff = d * (k - 1) + 1
        pad = _pair(layer.get("padding", 0))
        if pad == "same":
            out = -(-n // s)
            total = max((out - 1) * s + eff - n, 0)
            pb = total // 2
        else:
            pb, pa = pad
            span = n + pb + pa - eff
            if span < 0:
                raise fail("empty", f"empty output: {n} + {pb} + {pa} < {eff}")
            if layer.get("ceil_mode", False):
                out = -(-span // s) + 1
                if (out - 1) * s >= n + pb:
                    out -= 1
            else:
                out = span // s + 1
        out_channels = layer.get("out", c) if op == "conv" else c
        return Geometry(out, out_channels, Fraction(s), _window_reads(k, s, d, pb), pb)
    if op == "conv_transpose":
        k = _scalar(layer["kernel"])
        s = _scalar(layer.get("stride", 1))
        d = _scalar(layer.get("dilation", 1))
        eff = d * (k - 1) + 1
        pad = _pair(layer.get("padding", 0))
        if pad == "same":
            out = n * s
            pb = max(eff - s, 0) // 2
        else:
            pb, pa = pad
            extra = _scalar(layer.get("output_padding", 0))
            if not (extra < s or extra < d):
                raise fail("output_padding", f"output_padding {extra} not smaller than stride {s} or dilation {d}")
            out = (n - 1) * s - pb - pa + eff + extra
            if out < 1:
                raise fail("empty", f"empty output {out}")
        return Geometry(out, layer.get("out", c), Fraction(1, s), _transposed_reads(k, s, d, pb), pb)
    if op == "upsample":
        if "factor" in layer:
            f = _scalar(layer["factor"])
            out = n * f
        else:
            out = _scalar(layer["size"])
        linear = layer.get("mode", "nearest") != "nearest"
        if not linear:
            return Geometry(out, c, Fraction(n, out), lambda v: [(v * n) // out])
        if layer.get("align_corners", False):
            ratio = Fraction(n - 1, out - 1) if out > 1 else Fraction(0)
            return Geometry(out, c, ratio, _linear_reads(lambda v: v * ratio))
        ratio = Fraction(n, out)
        return Geometry(out, c, ratio, _linear_reads(lambda v: (v + Fraction(1, 2)) * ratio - Fraction(1, 2)))
    if op in ("identity", "norm"):
        return Geometry(n, c, Fraction(1), lambda v: [v])
    if op == "pad":
        b, a = _pair(layer["padding"])
        return Geometry(n + b + a, c, Fraction(1), lambda v: [v - b], b)
    if op == "crop":
        if "like" in layer:
            if like_size is None:
                raise fail("crop", "crop like an unknown size")
            if like_size > n:
                raise fail("crop", f"cannot crop {n} to {like_size}")
            b = (n - like_size) // 2
            a = n - like_size - b
        else:
            b, a = _pair(layer["crop"])
        out = n - b - a
        if out < 1:
            raise fail("crop", f"crop leaves {out}")
        return Geometry(out, c, Fraction(1), lambda v: [v + b], b)
    if op == "space_to_depth":
        f = _scalar(layer["factor"])
        if n % f:
            raise fail("divisibility", f"{n} is not a multiple of {f}")
        return Geometry(n // f, c * f, Fraction(f), _window_reads(f, f, 1, 0))
    if op == "depth_to_space":
        f = _scalar(layer["factor"])
        if c % f:
            raise fail("divisibility", f"{c} channels not divisible by {f}")
        return Geometry(n * f, c // f, Fraction(1, f), lambda v: [v // f])
    if op in ("global_pool", "linear"):
        out_channels = layer["out"] if op == "linear" else c
        return Geometry(1, out_channels, Fraction(n), _window_reads(n, n, 1, 0))
    raise ValueError(f"the oracle does not know op {op!r}")


def _join(extents: list[Extent]) -> Extent:
    """Extent of a union of sets given each set's extent (None: empty)."""
    los = [e[0] for e in extents if e is not None]
    if not los:
        return None
    return (min(los), max(e[1] for e in extents if e is not None))


@dataclass
class Figures:
    output_size: int
    receptive_field: int
    receptive_field_position_min: int
    receptive_field_min: int
    effective_stride: Fraction
    effective_padding: int | None
    box: tuple[int, int] | None
    aligned: bool
    paths_aligned: bool
    path_count: int


class Oracle:
    """Brute-force figures of a :class:`Network` (raises :class:`GeometryError` if impossible)."""

    def __init__(self, network: Network, max_paths: int = 10_000):
        self.network = Network(network.input_size, [], network.input_channels, network.name)
        self.size: dict[str, int] = {INPUT: network.input_size}
        self.channels: dict[str, int] = {INPUT: network.input_channels}
        self.geometry: dict[str, Geometry] = {}
        self.inputs: dict[str, list[str]] = {}
        self.order: list[str] = []
        self._extent: dict[str, dict[int, Extent]] = {INPUT: {}}
        self._reads: dict[str, dict[int, list[int]]] = {}
        self._deps: dict[str, dict[int, frozenset[int]]] = {INPUT: {}}
        self._finite: dict[str, dict[int, frozenset[int]]] = {INPUT: {}}
        # paths, as a trie: path id -> (parent id, node); INPUT is path 0
        self._parent: list[int] = [-1]
        self._node: list[str] = [INPUT]
        self._stride: list[Fraction] = [Fraction(1)]
        self._path_extent: list[dict[int, Extent]] = [{}]
        self.paths: dict[str, list[int]] = {INPUT: [0]}
        self.path_counts: dict[str, int] = {INPUT: 1}
        self._max_paths = max_paths
        self._paths_aligned: dict[str, bool] = {}
        self._figures: dict[str, Figures] = {}
        for layer in network.layers:
            self.append(layer)

    def append(self, layer: dict[str, Any]) -> Geometry:
        """Add one layer after the others (raises :class:`GeometryError`, changing nothing)."""
        name = layer["name"]
        sources = self.network.inputs_of(layer)
        like = layer.get("like")
        geometry = resolve(
            layer,
            [self.size[s] for s in sources],
            [self.channels[s] for s in sources],
            self.size.get(like) if like is not None else None,
        )
        self.network.layers.append(layer)
        self.geometry[name] = geometry
        self.inputs[name] = sources
        self.size[name] = geometry.size
        self.channels[name] = geometry.channels
        self.order.append(name)
        self.path_counts[name] = sum(self.path_counts[s] for s in sources)
        self._extent[name] = {}
        self._reads[name] = {}
        self._deps[name] = {}
        self._finite[name] = {}
        return geometry

    def pop(self) -> None:
        """Remove the last layer (its path ids stay allocated, unused)."""
        layer = self.network.layers.pop()
        name = layer["name"]
        self.order.pop()
        for table in (self.geometry, self.inputs, self.size, self.channels, self.path_counts, self._extent):
            del table[name]
        for table in (self._reads, self._deps, self._finite, self.paths, self._paths_aligned, self._figures):
            table.pop(name, None)

    # -- the definition: dependency sets and their extents ------------------------------------

    def deps(self, node: str, v: int, finite: bool = False) -> frozenset[int]:
        """The exact set of input pixels that unit ``v`` (any integer) of ``node`` depends on.

        With ``finite``, units outside ``0..n-1`` of every node (the input included) are
        zeros that depend on nothing, as in a real finite tensor: the result is then what
        a gradient shows (used only to check the oracle against PyTorch).
        """
        memo = self._deps[node] if not finite else self._finite[node]
        if v in memo:
            return memo[v]
        if finite and not 0 <= v < self.size[node]:
            result: frozenset[int] = frozenset()
        elif node == INPUT:
            result = frozenset((v,))
        else:
            reads = self.geometry[node].reads(v)
            parts = [self.deps(source, i, finite) for source in self.inputs[node] for i in reads]
            result = frozenset().union(*parts)
        memo[v] = result
        return result

    def extent(self, node: str, v: int) -> Extent:
        """``(min deps, max deps)`` of unit ``v`` of ``node`` (None if it depends on nothing).

        Min and max distribute over unions, so this equals the extent of :meth:`deps`
        without building the sets (the tests check that on small networks).
        """
        memo = self._extent[node]
        if v in memo:
            return memo[v]
        if node == INPUT:
            result: Extent = (v, v)
        else:
            reads = self.reads(node, v)
            result = _join([self.extent(source, i) for source in self.inputs[node] for i in reads])
        memo[v] = result
        return result

    # -- explicit paths ------------------------------------------------------------------------

    def node_paths(self, node: str) -> list[int]:
        """Ids of every path from the input to ``node`` (enumerated explicitly)."""
        if node in self.paths:
            return self.paths[node]
        if self.path_counts[node] > self._max_paths:
            raise ValueError(f"{node} has {self.path_counts[node]} paths, more than {self._max_paths}")
        ids = []
        geometry = self.geometry[node]
        for source in self.inputs[node]:
            for parent in self.node_paths(source):
                self._parent.append(parent)
                self._node.append(node)
                self._stride.append(self._stride[parent] * geometry.scale)
                self._path_extent.append({})
                ids.append(len(self._node) - 1)
        self.paths[node] = ids
        return ids

    def path_nodes(self, path: int) -> list[str]:
        nodes = []
        while path >= 0:
            nodes.append(self._node[path])
            path = self._parent[path]
        return nodes[::-1]

    def path_stride(self, path: int) -> Fraction:
        return self._stride[path]

    def path_extent(self, path: int, v: int) -> Extent:
        """The extent of unit ``v`` along one path only."""
        memo = self._path_extent[path]
        if v in memo:
            return memo[v]
        node = self._node[path]
        if node == INPUT:
            result: Extent = (v, v)
        else:
            parent = self._parent[path]
            lo = hi = None
            for i in self.reads(node, v):
                e = self.path_extent(parent, i)
                if e is not None:
                    if lo is None or e[0] < lo:
                        lo = e[0]
                    if hi is None or e[1] > hi:
                        hi = e[1]
            result = None if lo is None else (lo, hi)
        memo[v] = result
        return result

    def reads(self, node: str, v: int) -> list[int]:
        """The units of each input of ``node`` that its unit ``v`` reads (memoised)."""
        memo = self._reads[node]
        if v not in memo:
            memo[v] = self.geometry[node].reads(v)
        return memo[v]

    # -- figures -------------------------------------------------------------------------------

    def figures(self, node: str) -> Figures:
        """The figures of ``node`` (see the module docstring; memoised)."""
        if node not in self._figures:
            self._figures[node] = self._compute_figures(node)
        return self._figures[node]

    def _compute_figures(self, node: str) -> Figures:
        n = self.size[node]
        extents = [self.extent(node, v) for v in range(n)]
        sizes = [hi - lo + 1 for e in extents if e is not None for lo, hi in [e]]
        paths = self.node_paths(node)
        shortest = None
        for path in paths:
            for v in range(n):
                e = self.path_extent(path, v)
                if e is not None:
                    size = e[1] - e[0] + 1
                    shortest = size if shortest is None else min(shortest, size)
        strides = {self._stride[path] for path in paths}
        paths_aligned = self.paths_aligned(node)
        aligned = all(self.merge_aligned(merge) for merge in self.upstream(node) if len(self.inputs[merge]) > 1)
        box = self.extent(node, 0)
        return Figures(
            output_size=n,
            receptive_field=max(sizes, default=0),
            receptive_field_position_min=min(sizes, default=0),
            receptive_field_min=shortest or 0,
            effective_stride=max(strides),
            effective_padding=None if box is None else -box[0],
            box=box,
            aligned=aligned,
            paths_aligned=paths_aligned,
            path_count=len(paths),
        )

    def paths_aligned(self, node: str) -> bool:
        """Every path to ``node``: one stride, and one centre per unit ``0..n-1``."""
        memo = self._paths_aligned
        if node in memo:
            return memo[node]
        paths = self.node_paths(node)
        result = len({self._stride[path] for path in paths}) == 1
        if result and len(paths) > 1:
            for v in range(self.size[node]):
                centres = set()
                for path in paths:
                    e = self.path_extent(path, v)
                    if e is not None:
                        centres.add(e[0] + e[1])  # twice the centre
                if len(centres) > 1:
                    result = False
                    break
        memo[node] = result
        return result

    def merge_aligned(self, merge: str) -> bool:
        """One stride over the paths to ``merge``, and one centre of its inputs' regions per unit."""
        if len({self._stride[path] for path in self.node_paths(merge)}) > 1:
            return False
        for v in range(self.size[merge]):
            centres = {e[0] + e[1] for source in self.inputs[merge] if (e := self.extent(source, v)) is not None}
            if len(centres) > 1:
                return False
        return True

    def upstream(self, node: str) -> set[str]:
        """``node`` and every layer it depends on (the input excluded)."""
        seen: set[str] = set()
        stack = [node]
        while stack:
            current = stack.pop()
            if current in seen or current == INPUT:
                continue
            seen.add(current)
            stack.extend(self.inputs[current])
        return seen

    def unit_box(self, node: str, v: int) -> Extent:
        return self.extent(node, v)

    def units_seeing(self, node: str, x: int) -> tuple[int, int] | None:
        """First and last unit of ``node`` whose extent contains input pixel ``x``."""
        hits = [
            v
            for v in range(self.size[node])
            if (e := self.extent(node, v)) is not None and e[0] <= x <= e[1]
        ]
        return (hits[0], hits[-1]) if hits else None


def analyze(network: Network) -> dict[str, Figures]:
    """Figures of every layer (raises :class:`GeometryError` for an impossible network)."""
    oracle = Oracle(network)
    return {name: oracle.figures(name) for name in oracle.order}


__all__ = [
    "INPUT",
    "Figures",
    "GeometryError",
    "Geometry",
    "Network",
    "Oracle",
    "analyze",
    "canonical",
    "resolve",
]
