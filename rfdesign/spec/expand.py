"""Expansion of a validated spec into a flat :class:`~rfdesign.spec.graph.Graph`.

Blocks are instantiated with their parameters, ``repeat`` is unrolled, every
layer gets its unique global name, ``from`` references are resolved in their
scope, and the nodes are sorted topologically (cycles are errors).

Naming rules (docs/spec-format.md):

* an unnamed layer is ``<op>_<k>``: the k-th layer of that op (or use of that
  block) in its scope, counted from 1;
* ``repeat: n`` makes copies ``<name>_1`` … ``<name>_n``; the bare name then
  refers to the last copy;
* a layer inside a use of a block is ``<use>/<layer>``; the block's output
  layer takes the use's own name, so ``Mixed_5c`` is the concat that ends the
  ``Mixed_5c`` block.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from rfdesign import ops
from rfdesign.errors import Location, SpecError
from rfdesign.spec import model as models
from rfdesign.spec import normalize
from rfdesign.spec.graph import INPUT, Graph, Node
from rfdesign.spec.params import ExpressionError, substitute
from rfdesign.spec.suggest import did_you_mean
from rfdesign.spec.yamlload import Positions

Path = tuple[Any, ...]
MAX_NODES = 1_000_000
MAX_BLOCK_DEPTH = 32


def validation_error(exc: ValidationError, base: Path, positions: Positions, model: type[BaseModel]) -> SpecError:
    """Turn pydantic's most telling error into one located, human message.

    An unknown key is reported before a missing one: ``kernal: 3`` is a typo
    of ``kernel``, not a layer without a kernel.
    """
    errors = exc.errors()
    error = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc = tuple(error["loc"])
    path = base + loc
    kind = error["type"]
    key = loc[-1] if loc else ""
    where = ".".join(str(part) for part in loc)
    fields = [info.alias or name for name, info in model.model_fields.items()]
    if kind == "extra_forbidden":
        return SpecError(f"unknown key `{key}`", positions.locate_key(path), did_you_mean(str(key), fields))
    if kind == "missing":
        return SpecError(f"missing required key `{where}`", positions.locate(base + loc[:-1]))
    if kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        value = error.get("input")
        choices = [part.strip().strip("'") for part in str(expected).replace(" or ", ", ").split(",")]
        return SpecError(
            f"`{where}` must be one of {expected}, got {value!r}",
            positions.locate(path),
            did_you_mean(str(value), choices),
        )
    message = error["msg"]
    message = message[:1].lower() + message[1:]
    value = error.get("input")
    return SpecError(f"`{where}`: {message}, got {value!r}", positions.locate(path))


@dataclass
class _Layer:
    """One entry of a layers list after substitution and validation."""

    index: int
    path: Path
    model: Any
    base_name: str
    kind: str  # canonical op, or "block"
    repeat: int


@dataclass
class _Scope:
    """Names visible inside one layers list."""

    prefix: str
    inputs: dict[str, str]
    local: dict[str, str] = field(default_factory=dict)
    is_top: bool = False


class Expander:
    """Expands one spec; holds the growing node table."""

    def __init__(self, spec: models.Spec, positions: Positions, dims: int):
        self.spec = spec
        self.positions = positions
        self.dims = dims
        self.nodes: dict[str, Node] = {}
        self.pending: list[tuple[Node, list[tuple[str, Path | None]], _Scope]] = []
        self.references: list[tuple[Node, Path, _Scope]] = []

    def locate(self, path: Path) -> Location:
        return self.positions.locate(path)

    # -- layers lists --------------------------------------------------------------------

    def _prepare(self, raw_layers: list[Any], base: Path, values: dict[str, Any] | None, block: str | None) -> list[_Layer]:
        counts: Counter[str] = Counter()
        prepared = []
        for index, raw in enumerate(raw_layers):
            path = base + (index,)
            if not isinstance(raw, dict):
                raise SpecError(
                    f"each layer must be a mapping such as {{op: conv, kernel: 3}}, got {raw!r}",
                    self.locate(path),
                )
            if values is not None:
                raw = self._substitute(raw, values, path, block)
            layer_model, kind = self._validate(raw, path)
            repeat = layer_model.repeat
            if repeat < 1:
                raise SpecError(f"`repeat` must be >= 1, got {repeat}", self.locate(path + ("repeat",)))
            op_word = layer_model.block if kind == "block" else raw["op"]
            counts[op_word] += 1
            base_name = layer_model.name if layer_model.name is not None else f"{op_word}_{counts[op_word]}"
            if repeat > 1 and layer_model.name is None:
                counts[op_word] += repeat - 1
            prepared.append(_Layer(index, path, layer_model, base_name, kind, repeat))
        return prepared

    def _substitute(self, raw: dict[str, Any], values: dict[str, Any], path: Path, block: str | None) -> dict[str, Any]:
        result = {}
        for key, value in raw.items():
            try:
                result[key] = substitute(value, values)
            except ExpressionError as exc:
                raise SpecError(
                    f"in block `{block}`: {exc}", self.locate(path + (key,)), f"parameters here: {sorted(values)}"
                ) from None
        return result

    def _validate(self, raw: dict[str, Any], path: Path) -> tuple[Any, str]:
        if "block" in raw:
            if "op" in raw:
                raise SpecError("a layer has either `op` or `block`, not both", self.locate(path))
            try:
                call = models.BlockCall.model_validate(raw)
            except ValidationError as exc:
                raise validation_error(exc, path, self.positions, models.BlockCall) from None
            if call.block not in self.spec.blocks:
                raise SpecError(
                    f"unknown block `{call.block}`",
                    self.locate(path + ("block",)),
                    did_you_mean(call.block, self.spec.blocks) or f"blocks defined: {sorted(self.spec.blocks) or 'none'}",
                )
            return call, "block"
        if "op" not in raw:
            raise SpecError(
                "a layer needs `op` (what it does) or `block` (which block it uses)",
                self.locate(path),
                did_you_mean("op", [str(k) for k in raw], 0.3) and "is `op` misspelled?",
            )
        op_name = raw["op"]
        canonical = ops.canonical(op_name) if isinstance(op_name, str) else None
        if canonical is None:
            raise SpecError(
                f"unknown op {op_name!r}",
                self.locate(path + ("op",)),
                did_you_mean(str(op_name), ops.ALL_OP_NAMES) or f"ops: {', '.join(ops.CANONICAL_OPS)}",
            )
        model_type = ops.op_for(canonical).layer
        try:
            return model_type.model_validate(raw), canonical
        except ValidationError as exc:
            raise validation_error(exc, path, self.positions, model_type) from None

    def expand(
        self,
        raw_layers: list[Any],
        base: Path,
        scope: _Scope,
        values: dict[str, Any] | None = None,
        block: str | None = None,
        output_index: int | None = None,
        output_name: str | None = None,
        depth: int = 0,
    ) -> str:
        """Expand one layers list; return the global name of its last node."""
        prepared = self._prepare(raw_layers, base, values, block)
        previous = next(iter(scope.inputs.values()))
        for layer in prepared:
            if layer.base_name in scope.inputs:
                raise SpecError(
                    f"`{layer.base_name}` names an input of this scope; pick another name",
                    self.locate(layer.path + ("name",)),
                )
            sources = self._source_refs(layer, previous)
            before = len(self.nodes)
            self._check_room(layer, before, 1)
            for copy in range(1, layer.repeat + 1):
                if copy == 2:  # the first copy says how many nodes each copy adds: refuse before making the rest
                    self._check_room(layer, before, len(self.nodes) - before)
                local = layer.base_name if layer.repeat == 1 else f"{layer.base_name}_{copy}"
                is_output = layer.index == output_index and copy == layer.repeat
                global_name = output_name if is_output else scope.prefix + local
                if copy > 1:
                    sources = [(previous, None)]
                if layer.kind == "block":
                    previous = self._instantiate(layer, copy, global_name, sources, scope, depth)
                else:
                    previous = self._add_node(layer, global_name, sources, scope)
                if local in scope.local:
                    raise SpecError(f"duplicate layer name `{local}`", self.locate(layer.path))
                scope.local[local] = previous
            if layer.repeat > 1:
                if layer.base_name in scope.local:
                    raise SpecError(f"duplicate layer name `{layer.base_name}`", self.locate(layer.path))
                scope.local[layer.base_name] = previous
        return previous

    def _check_room(self, layer: _Layer, before: int, per_copy: int) -> None:
        """Refuse a ``repeat`` whose copies would pass the node limit, before expanding them."""
        if before + max(per_copy, 1) * layer.repeat > MAX_NODES:
            if layer.repeat == 1:
                raise SpecError(f"the spec expands to more than {MAX_NODES} layers", self.locate(layer.path))
            raise SpecError(
                f"`repeat: {layer.repeat}` makes the spec expand to more than {MAX_NODES} layers",
                self.locate(layer.path + ("repeat",)),
                "a network this deep is not analysed layer by layer; lower `repeat`",
            )

    def _source_refs(self, layer: _Layer, previous: str) -> list[tuple[str, Path | None]]:
        value = layer.model.from_
        path = layer.path + ("from",)
        if value is None:
            return [(previous, None)]  # already a global name
        if isinstance(value, str):
            return [(value, path)]
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            return [(name, path + (i,)) for i, name in enumerate(value)]
        raise SpecError(
            f"`from` must be a layer name, `input`, or a non-empty list of names, got {value!r}", self.locate(path)
        )

    def _add_node(self, layer: _Layer, name: str, sources: list[tuple[str, Path | None]], scope: _Scope) -> str:
        if name in self.nodes:
            raise SpecError(f"duplicate layer name `{name}`", self.locate(layer.path))
        if len(self.nodes) >= MAX_NODES:
            raise SpecError(f"the spec expands to more than {MAX_NODES} layers", self.locate(layer.path))
        node = build_node(layer.model, layer.kind, name, layer.path, self.dims, self.locate, scope.prefix.rstrip("/"))
        n_sources = len(sources)
        if layer.kind in ops.MERGE_OPS and n_sources < 2:
            raise SpecError(
                f"`{layer.kind}` joins several inputs; `from` must list at least 2 layers",
                self.locate(layer.path + ("from",) if layer.model.from_ is not None else layer.path),
            )
        if layer.kind not in ops.MERGE_OPS and n_sources != 1:
            raise SpecError(
                f"`{layer.kind}` takes one input but `from` lists {n_sources}",
                self.locate(layer.path + ("from",)),
                "use `concat` or `add` to join branches",
            )
        self.nodes[name] = node
        self.pending.append((node, sources, scope))
        if node.attrs.references():
            self.references.append((node, layer.path + ("like",), scope))
        return name

    def _instantiate(
        self, layer: _Layer, copy: int, name: str, sources: list[tuple[str, Path | None]], scope: _Scope, depth: int
    ) -> str:
        call: models.BlockCall = layer.model
        definition = self.spec.blocks[call.block]
        block_path = ("blocks", call.block)
        if depth >= MAX_BLOCK_DEPTH:
            raise SpecError(
                f"blocks nest deeper than {MAX_BLOCK_DEPTH} levels (does `{call.block}` use itself?)",
                self.locate(layer.path),
            )
        args = dict(call.model_extra or {})
        allowed = set(definition.params) | {"repeat_index", "repeat_count"}
        for key in args:
            if key not in allowed:
                raise SpecError(
                    f"block `{call.block}` has no parameter `{key}`",
                    self.locate(layer.path + (key,)),
                    did_you_mean(key, list(definition.params)) or f"its parameters: {sorted(definition.params) or 'none'}",
                )
        values = {key: default for key, default in definition.params.items()}
        values.update(repeat_index=copy, repeat_count=layer.repeat)
        values.update(args)
        missing = [key for key, value in values.items() if value is None and key not in args]
        if missing:
            raise SpecError(
                f"block `{call.block}` needs parameter `{missing[0]}`", self.locate(layer.path), "pass it as a key here"
            )
        if len(sources) != len(definition.inputs):
            raise SpecError(
                f"block `{call.block}` takes {len(definition.inputs)} input(s) {definition.inputs} "
                f"but `from` gives {len(sources)}",
                self.locate(layer.path + ("from",) if call.from_ is not None else layer.path),
            )
        resolved = [self._resolve(ref, ref_path, scope, layer.path) for ref, ref_path in sources]
        inner = _Scope(prefix=name + "/", inputs=dict(zip(definition.inputs, resolved)))
        inner_layers = definition.layers
        output_index = len(inner_layers) - 1
        if definition.output is not None:
            output_index = self._block_output_index(definition, call.block, values)
        if output_index is None:
            # the block returns one of its inputs: make that visible under the use's name
            source = inner.inputs[definition.output]
            node = Node(name, ops.IDENTITY, (source,), self.locate(layer.path), layer.path, "identity", scope=name)
            self.nodes[name] = node
            return name
        first = len(self.nodes)
        result = self.expand(
            inner_layers,
            block_path + ("layers",),
            inner,
            values=values,
            block=call.block,
            output_index=output_index,
            output_name=name,
            depth=depth + 1,
        )
        if normalize.AttrReader(self.dims, layer.path, self.locate).flag("optional", call.optional):
            self._optional_use(list(self.nodes.values())[first:], name, layer.path, len(resolved))
        return result

    def _optional_use(self, members: list[Node], name: str, path: Path, inputs: int) -> None:
        """Make the nodes of one block use a single optional unit: the solver keeps or drops them together."""
        if inputs != 1:
            raise SpecError(
                f"an optional use of a block must have one input (`{name}` has {inputs})", self.locate(path),
                "dropping it passes that input on",
            )
        for node in members:
            if node.group:
                raise SpecError(
                    f"`{name}` is optional and so is the block use `{node.group}` inside it", self.locate(path),
                    "make only one of them optional",
                )
            node.optional = True
            node.group = name

    def _block_output_index(self, definition: models.BlockDef, block: str, values: dict[str, Any]) -> int | None:
        if definition.output in definition.inputs:
            return None
        prepared = self._prepare(definition.layers, ("blocks", block, "layers"), values, block)
        names = {layer.base_name: layer.index for layer in prepared}
        if definition.output not in names:
            raise SpecError(
                f"block `{block}` says `output: {definition.output}` but has no such layer",
                self.locate(("blocks", block, "output")),
                did_you_mean(definition.output, names),
            )
        return names[definition.output]

    def _resolve(
        self, ref: str, ref_path: Path | None, scope: _Scope, layer_path: Path, what: str = "from"
    ) -> str:
        if ref_path is None:  # resolved when it was recorded
            return ref
        if ref in scope.inputs:
            return scope.inputs[ref]
        if ref in scope.local:
            return scope.local[ref]
        if scope.is_top and ref in self.nodes:
            return ref
        candidates = list(scope.inputs) + list(scope.local) + (list(self.nodes) if scope.is_top else [])
        raise SpecError(
            f"`{what}` refers to `{ref}`, which is not defined" + ("" if scope.is_top else " in this block"),
            self.locate(ref_path or layer_path),
            did_you_mean(ref, candidates),
        )

    def resolve_references(self) -> None:
        """Resolve every pending ``from`` (all scopes are complete now)."""
        for node, refs, scope in self.pending:
            node.inputs = tuple(self._resolve(ref, path, scope, node.path) for ref, path in refs)
        for node, path, scope in self.references:
            node.attrs = node.attrs.renamed(lambda ref: self._resolve(ref, path, scope, node.path, what="like"))


def build_node(layer: Any, op: str, name: str, path: Path, dims: int, locate: Any, scope: str = "") -> Node:
    """Normalise one validated layer model into a :class:`Node` (inputs filled in later)."""
    read = normalize.AttrReader(dims, path, locate)
    optional = read.flag("optional", layer.optional)
    return Node(
        name=name,
        op=op,
        inputs=(),
        location=locate(path),
        path=path,
        source_op=layer.op,
        attrs=ops.op_for(op).normalize(layer, read),
        optional=optional,
        note=layer.note,
        scope=scope,
    )


def topological_order(nodes: dict[str, Node]) -> list[str]:
    """Kahn's algorithm, stable in definition order; a cycle is a located error."""
    indegree = {name: 0 for name in nodes}
    readers: dict[str, list[str]] = {name: [] for name in nodes}
    for node in nodes.values():
        for source in set(node.dependencies()):
            if source != INPUT:
                indegree[node.name] += 1
                readers[source].append(node.name)
    position = {name: i for i, name in enumerate(nodes)}
    import heapq

    ready = [(position[name], name) for name, degree in indegree.items() if degree == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        _, name = heapq.heappop(ready)
        order.append(name)
        for reader in readers[name]:
            indegree[reader] -= 1
            if indegree[reader] == 0:
                heapq.heappush(ready, (position[reader], reader))
    if len(order) < len(nodes):
        stuck = [name for name in nodes if indegree[name] > 0]
        cycle = _find_cycle(nodes, set(stuck))
        first = nodes[cycle[0]]
        raise SpecError(
            "the layers form a cycle: " + " -> ".join(f"`{n}`" for n in cycle + [cycle[0]]),
            first.location,
            "a network is a DAG; one of these `from` entries must point to an earlier layer",
        )
    return order


def _find_cycle(nodes: dict[str, Node], stuck: set[str]) -> list[str]:
    start = min(stuck, key=list(nodes).index)
    seen: dict[str, int] = {}
    walk = []
    current = start
    while current not in seen:
        seen[current] = len(walk)
        walk.append(current)
        current = next(s for s in nodes[current].dependencies() if s in stuck)
    return list(reversed(walk[seen[current] :]))


def build_graph(data: Any, positions: Positions, file: str) -> Graph:
    """Validate loaded YAML data and expand it into a :class:`Graph`."""
    if not isinstance(data, dict):
        raise SpecError(
            "a spec must be a mapping with at least `name`, `input` and `layers`",
            positions.locate(()),
            "see docs/spec-format.md for a minimal example",
        )
    try:
        spec = models.Spec.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        error = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
        loc = tuple(error["loc"])
        model: type[BaseModel] = models.Spec
        if loc[:1] == ("input",):
            model = models.InputSpec
            exc_base: Path = ("input",)
            exc_loc = loc[1:]
        elif loc[:1] == ("target",):
            model, exc_base, exc_loc = models.Target, ("target",), loc[1:]
        elif loc[:1] == ("blocks",) and len(loc) >= 3:
            model, exc_base, exc_loc = models.BlockDef, loc[:2], loc[2:]
        else:
            exc_base, exc_loc = (), loc
        raise _relocated(exc, error, exc_base, exc_loc, positions, model) from None
    input_size = normalize.input_size(spec.input.size, ("input", "size"), positions.locate)
    expander = Expander(spec, positions, len(input_size))
    top = _Scope(prefix="", inputs={INPUT: INPUT}, is_top=True)
    last = expander.expand(spec.layers, ("layers",), top)
    expander.resolve_references()
    nodes = expander.nodes
    order = topological_order(nodes)
    outputs: list[str] = []
    raw_outputs = [spec.output] if isinstance(spec.output, str) else (spec.output or [])
    for index, ref in enumerate(raw_outputs):
        path: Path = ("output",) if isinstance(spec.output, str) else ("output", index)
        outputs.append(expander._resolve(ref, path, top, ("output",), what="output"))
    return Graph(
        name=spec.name,
        input_size=input_size,
        input_channels=spec.input.channels,
        nodes={name: nodes[name] for name in order},
        outputs=tuple(outputs) or (last,),
        file=file,
        input_location=positions.locate(("input",)),
        target=spec.target,
        review=spec.review,
        raw=data,
        positions=positions,
    )


def _relocated(
    exc: ValidationError, error: Any, base: Path, loc: Path, positions: Positions, model: type[BaseModel]
) -> SpecError:
    kind = error["type"]
    key = loc[-1] if loc else ""
    path = base + loc
    fields = [info.alias or name for name, info in model.model_fields.items()]
    where = ".".join(str(p) for p in path)
    if kind == "extra_forbidden":
        return SpecError(f"unknown key `{where}`", positions.locate_key(path), did_you_mean(str(key), fields))
    if kind == "missing":
        return SpecError(f"missing required key `{where}`", positions.locate(path[:-1]))
    return validation_error(exc, (), positions, model)
