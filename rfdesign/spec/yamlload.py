"""Safe YAML loading that remembers where every value came from.

:func:`load_yaml` returns plain Python data (dicts, lists, scalars) and a
:class:`Positions` table mapping each value's path (a tuple of keys and list
indices) to its 1-based line and column, so later validation errors can point
at the offending node.

Only YAML's safe subset is accepted (no Python tags), and the loader enforces
limits that keep a hostile file from exhausting memory or the stack: file size,
nesting depth, total node count, and the volume that aliases may expand to
("billion laughs"). Duplicate mapping keys are errors, not silent overwrites.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from rfdesign.errors import Location, SpecError

MAX_FILE_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 64
MAX_NODES = 2_000_000
MAX_ALIAS_EXPANSION = 100_000

Path = tuple[Any, ...]
_SAFE_TAGS = frozenset(
    "tag:yaml.org,2002:" + name for name in ("str", "int", "float", "bool", "null", "seq", "map", "merge")
)


@dataclass(frozen=True)
class Limits:
    """Resource limits applied while loading one document."""

    max_bytes: int = MAX_FILE_BYTES
    max_depth: int = MAX_DEPTH
    max_nodes: int = MAX_NODES
    max_alias_expansion: int = MAX_ALIAS_EXPANSION


class Positions:
    """Maps a value's path in the document to its (line, column), both 1-based."""

    def __init__(self, file: str):
        self.file = file
        self._marks: dict[Path, tuple[int, int]] = {}
        self._keys: dict[Path, tuple[int, int]] = {}

    def record(self, path: Path, mark: yaml.Mark) -> None:
        self._marks[path] = (mark.line + 1, mark.column + 1)

    def record_key(self, path: Path, mark: yaml.Mark) -> None:
        self._keys[path] = (mark.line + 1, mark.column + 1)

    def locate_key(self, path: Path) -> Location:
        """Where the key of ``path`` is written (for "unknown key" errors)."""
        if tuple(path) in self._keys:
            line, column = self._keys[tuple(path)]
            return Location(self.file, line, column)
        return self.locate(path)

    def locate(self, path: Path) -> Location:
        """The location of ``path``, or of its nearest recorded ancestor."""
        path = tuple(path)
        while True:
            if path in self._marks:
                line, column = self._marks[path]
                return Location(self.file, line, column)
            if not path:
                return Location(self.file, 1, 1)
            path = path[:-1]


def read_text(path: str, limits: Limits = Limits()) -> str:
    """Read a file as UTF-8 text, enforcing the size limit."""
    import os

    try:
        size = os.path.getsize(path)
    except OSError as exc:
        raise SpecError(f"cannot read '{path}': {exc.strerror or exc}", Location(path)) from None
    if size > limits.max_bytes:
        raise SpecError(
            f"file is {size / 2**20:.1f} MiB, larger than the {limits.max_bytes / 2**20:.0f} MiB limit for a spec",
            Location(path, 1, 1),
            "a spec describes layers, not data; use blocks and `repeat` to keep it short",
        )
    try:
        with open(path, "rb") as handle:
            data = handle.read(limits.max_bytes + 1)
    except OSError as exc:
        raise SpecError(f"cannot read '{path}': {exc.strerror or exc}", Location(path)) from None
    return decode_utf8(data, path)


def decode_utf8(data: bytes, file: str) -> str:
    """Decode ``data`` as UTF-8, reporting the line and column of the first bad byte."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - (before.rfind(b"\n") + 1) + 1
        raise SpecError(
            f"the file is not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})",
            Location(file, line, column),
            "save the spec as UTF-8 text",
        ) from None
    return text.removeprefix("\ufeff")


def load_yaml(text: str, file: str, limits: Limits = Limits()) -> tuple[Any, Positions]:
    """Parse one YAML document safely; return its data and the positions table."""
    if len(text.encode("utf-8", "surrogatepass")) > limits.max_bytes:
        raise SpecError(
            f"document is larger than the {limits.max_bytes / 2**20:.0f} MiB limit for a spec",
            Location(file, 1, 1),
        )
    _check_events(text, file, limits)
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc, file) from None
    except yaml.YAMLError as exc:
        raise SpecError(f"invalid YAML: {exc}", Location(file, 1, 1)) from None
    finally:
        loader.dispose()
    positions = Positions(file)
    if root is None:
        return None, positions
    converter = _Converter(loader, positions, limits, file)
    return converter.convert(root), positions


def _syntax_error(exc: yaml.MarkedYAMLError, file: str) -> SpecError:
    mark = exc.problem_mark or exc.context_mark
    loc = Location(file, mark.line + 1, mark.column + 1) if mark else Location(file)
    problem = exc.problem or "invalid YAML"
    context = f" {exc.context}" if exc.context else ""
    hint = "check indentation and that every `:` in a flow mapping is followed by a space"
    if "\\t" in problem or "tab" in problem.lower():
        hint = "YAML does not allow tabs for indentation; use spaces"
    return SpecError(f"YAML syntax error: {problem}{context}", loc, hint)


def _check_events(text: str, file: str, limits: Limits) -> None:
    """Scan the event stream: nesting depth, node count, and a single document."""
    depth = 0
    nodes = 0
    documents = 0
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                nodes += 1
                if depth > limits.max_depth:
                    mark = event.start_mark
                    raise SpecError(
                        f"nesting deeper than {limits.max_depth} levels",
                        Location(file, mark.line + 1, mark.column + 1),
                        "a spec never needs this much nesting; is the file generated by mistake?",
                    )
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
            elif isinstance(event, (yaml.ScalarEvent, yaml.AliasEvent)):
                nodes += 1
            elif isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    mark = event.start_mark
                    raise SpecError(
                        "the file holds more than one YAML document",
                        Location(file, mark.line + 1, mark.column + 1),
                        "put one spec per file (remove the extra `---`)",
                    )
            if nodes > limits.max_nodes:
                mark = event.start_mark
                raise SpecError(
                    f"more than {limits.max_nodes} YAML nodes",
                    Location(file, mark.line + 1, mark.column + 1),
                )
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc, file) from None
    except yaml.YAMLError as exc:
        raise SpecError(f"invalid YAML: {exc}", Location(file, 1, 1)) from None


class _Converter:
    """Turns a composed YAML node graph into Python data, recording positions."""

    def __init__(self, loader: yaml.SafeLoader, positions: Positions, limits: Limits, file: str):
        self.loader = loader
        self.positions = positions
        self.limits = limits
        self.file = file
        self.seen: set[int] = set()
        self.sizes: dict[int, int] = {}
        self.alias_volume = 0

    def _subtree_size(self, node: yaml.Node) -> int:
        """Number of nodes ``node`` expands to, aliases counted every time (memoised)."""
        key = id(node)
        if key in self.sizes:
            return self.sizes[key]
        if isinstance(node, yaml.MappingNode):
            size = 1 + sum(self._subtree_size(k) + self._subtree_size(v) for k, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            size = 1 + sum(self._subtree_size(v) for v in node.value)
        else:
            size = 1
        size = min(size, 10 * self.limits.max_alias_expansion + 1)
        self.sizes[key] = size
        return size

    def convert(self, node: yaml.Node, path: Path = ()) -> Any:
        self.positions.record(path, node.start_mark)
        if node.tag not in _SAFE_TAGS:
            mark = node.start_mark
            raise SpecError(
                f"YAML tag {node.tag!r} is not allowed",
                Location(self.file, mark.line + 1, mark.column + 1),
                "specs are loaded with safe YAML only; remove the tag",
            )
        if not isinstance(node, yaml.ScalarNode):
            if id(node) in self.seen:
                self.alias_volume += self._subtree_size(node)
                if self.alias_volume > self.limits.max_alias_expansion:
                    mark = node.start_mark
                    raise SpecError(
                        f"aliases expand to more than {self.limits.max_alias_expansion} YAML nodes",
                        Location(self.file, mark.line + 1, mark.column + 1),
                        "this looks like an alias bomb; use blocks and `repeat` instead of deep anchors",
                    )
            self.seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.convert(item, path + (index,)) for index, item in enumerate(node.value)]
        try:
            return self.loader.construct_object(node)
        except yaml.MarkedYAMLError as exc:
            raise _syntax_error(exc, self.file) from None

    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        explicit: set[Any] = set()
        merged: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                mark = key_node.start_mark
                raise SpecError(
                    "mapping keys must be plain names, not lists or mappings",
                    Location(self.file, mark.line + 1, mark.column + 1),
                )
            if key_node.tag == "tag:yaml.org,2002:merge":
                merged.update(self._merge_source(value_node, path))
                continue
            key = self.loader.construct_object(key_node)
            if key in explicit:
                mark = key_node.start_mark
                raise SpecError(
                    f"duplicate key '{key}'",
                    Location(self.file, mark.line + 1, mark.column + 1),
                    "each key may appear once in a mapping; remove or rename one",
                )
            explicit.add(key)
            self.positions.record_key(path + (key,), key_node.start_mark)
            result[key] = self.convert(value_node, path + (key,))
        for key, value in merged.items():
            result.setdefault(key, value)
        return result

    def _merge_source(self, node: yaml.Node, path: Path) -> dict[Any, Any]:
        sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
        merged: dict[Any, Any] = {}
        for source in sources:
            if not isinstance(source, yaml.MappingNode):
                mark = source.start_mark
                raise SpecError(
                    "a YAML merge key (<<) must refer to a mapping",
                    Location(self.file, mark.line + 1, mark.column + 1),
                )
            value = self.convert(source, path)
            for key, item in value.items():
                merged.setdefault(key, item)
        return merged
