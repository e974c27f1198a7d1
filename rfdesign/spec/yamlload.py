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

import gc
import os
import stat
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


def regular_file_size(path: str) -> int:
    """The size of the regular file at ``path``; a SpecError for anything else.

    A FIFO, a device or a directory is refused before it is opened: opening a
    FIFO with no writer blocks forever, and a device may never end.
    """
    try:
        info = os.stat(path)
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise SpecError(f"cannot read '{path}': {reason}", Location(path)) from None
    if not stat.S_ISREG(info.st_mode):
        raise _not_regular(path, info.st_mode)
    return info.st_size


def _not_regular(path: str, mode: int) -> SpecError:
    kind = (
        "a directory" if stat.S_ISDIR(mode)
        else "a FIFO (named pipe)" if stat.S_ISFIFO(mode)
        else "a socket" if stat.S_ISSOCK(mode)
        else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
        else "not a regular file"
    )
    return SpecError(
        f"cannot read '{path}': it is {kind}, not a regular file",
        Location(path),
        "save the model or spec to a regular file and pass that",
    )


def read_text(path: str, limits: Limits = Limits()) -> str:
    """Read a regular file as UTF-8 text, enforcing the size limit."""
    size = regular_file_size(path)
    if size > limits.max_bytes:
        raise SpecError(
            f"file is {size / 2**20:.1f} MiB, larger than the {limits.max_bytes / 2**20:.0f} MiB limit for a spec",
            Location(path, 1, 1),
            "a spec describes layers, not data; use blocks and `repeat` to keep it short",
        )
    try:
        # non-blocking, and checked again once open: a file swapped for a FIFO in between cannot block
        with open(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)), "rb") as handle:
            mode = os.fstat(handle.fileno()).st_mode
            if not stat.S_ISREG(mode):
                raise _not_regular(path, mode)
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
    if len(text) > limits.max_bytes:
        raise SpecError(
            f"document is larger than the {limits.max_bytes / 2**20:.0f} MiB limit for a spec",
            Location(file, 1, 1),
        )
    builder = _Builder(file, limits)
    was_enabled = gc.isenabled()
    gc.disable()  # many small long-lived objects: collections would only slow the load down
    try:
        feed = builder.feed
        for event in yaml.parse(text, Loader=_LOADER):
            feed(event)
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc, file, text) from None
    except yaml.YAMLError as exc:
        raise SpecError(f"invalid YAML: {exc}", Location(file, 1, 1)) from None
    finally:
        if was_enabled:
            gc.enable()
    return builder.result, builder.positions


def _syntax_error(exc: yaml.MarkedYAMLError, file: str, text: str | None = None) -> SpecError:
    mark = exc.problem_mark or exc.context_mark
    loc = Location(file, mark.line + 1, mark.column + 1) if mark else Location(file)
    problem = exc.problem or "invalid YAML"
    context = f" {exc.context}" if exc.context else ""
    hint = "check indentation and that every `:` in a flow mapping is followed by a space"
    at_tab = mark is not None and text is not None and 0 <= mark.index < len(text) and text[mark.index] == "\t"
    if at_tab or "\\t" in problem:
        problem = "a tab character where YAML expects spaces"
        hint = "YAML does not allow tabs for indentation; use spaces"
    return SpecError(f"YAML syntax error: {problem}{context}", loc, hint)


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Frame:
    """A mapping or sequence being built."""

    __slots__ = ("value", "path", "anchor", "volume", "key", "key_mark", "merges")

    def __init__(self, value: Any, path: Path, anchor: str | None, volume: int):
        self.value = value
        self.path = path
        self.anchor = anchor
        self.volume = volume  # the builder's volume when this node started
        self.key: Any = _NO_KEY
        self.key_mark: Any = None
        self.merges: list[Any] = []


_NO_KEY = object()
_MERGE_TAG = "tag:yaml.org,2002:merge"


class _Builder:
    """Builds Python data from parser events in one pass, enforcing the limits.

    Built from events rather than a composed node tree so that hostile input
    (deep nesting, alias bombs) is refused before any recursion or expansion.
    ``volume`` counts nodes as if every alias were expanded.
    """

    def __init__(self, file: str, limits: Limits):
        self.file = file
        self.limits = limits
        self.positions = Positions(file)
        self.stack: list[_Frame] = []
        self.anchors: dict[str, tuple[Any, int]] = {}
        self.volume = 0
        self.alias_volume = 0
        self.documents = 0
        self.result: Any = None
        self.resolver = yaml.resolver.Resolver()
        self.constructor = yaml.constructor.SafeConstructor()
        self.scalars: dict[tuple[Any, ...], tuple[Any, bool]] = {}

    def _error(self, message: str, mark: Any, hint: str | None = None) -> SpecError:
        return SpecError(message, Location(self.file, mark.line + 1, mark.column + 1), hint)

    def _path(self) -> Path:
        if not self.stack:
            return ()
        frame = self.stack[-1]
        if isinstance(frame.value, list):
            return frame.path + (len(frame.value),)
        return frame.path + (frame.key,)

    def _check_tag(self, tag: str | None, mark: Any) -> None:
        if tag is not None and tag != "!" and tag not in _SAFE_TAGS:
            raise self._error(
                f"YAML tag {tag!r} is not allowed", mark, "specs are loaded with safe YAML only; remove the tag"
            )

    def _count(self, mark: Any) -> None:
        self.volume += 1
        if self.volume > self.limits.max_nodes:
            raise self._error(f"more than {self.limits.max_nodes} YAML nodes", mark)

    def feed(self, event: yaml.Event) -> None:
        if isinstance(event, yaml.ScalarEvent):
            self._count(event.start_mark)
            cache_key = (event.tag, event.value, event.implicit)
            cached = self.scalars.get(cache_key)
            if cached is None:
                self._check_tag(event.tag, event.start_mark)
                if event.tag is None:
                    tag = self.resolver.resolve(yaml.ScalarNode, event.value, event.implicit)
                else:
                    tag = "tag:yaml.org,2002:str" if event.tag == "!" else event.tag
                cached = (self._scalar(tag, event), tag == _MERGE_TAG)
                if isinstance(cached[0], (str, int, float, bool, type(None))):
                    self.scalars[cache_key] = cached
            value, is_merge = cached
            if event.anchor is not None:
                self.anchors[event.anchor] = (value, 1)
            self._add(value, event.start_mark, is_merge_key=is_merge)
        elif isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            self._check_tag(event.tag, event.start_mark)
            self._count(event.start_mark)
            if len(self.stack) >= self.limits.max_depth:
                raise self._error(
                    f"nesting deeper than {self.limits.max_depth} levels",
                    event.start_mark,
                    "a spec never needs this much nesting; is the file generated by mistake?",
                )
            if self.stack and not isinstance(self.stack[-1].value, list) and self.stack[-1].key is _NO_KEY:
                raise self._error("mapping keys must be plain names, not lists or mappings", event.start_mark)
            path = self._path()
            self.positions.record(path, event.start_mark)
            container: Any = {} if isinstance(event, yaml.MappingStartEvent) else []
            self.stack.append(_Frame(container, path, event.anchor, self.volume - 1))
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            frame = self.stack.pop()
            value = frame.value
            for source in frame.merges:
                for key, item in source.items():
                    value.setdefault(key, item)
            if frame.anchor is not None:
                self.anchors[frame.anchor] = (value, self.volume - frame.volume)
            self._attach(value)
        elif isinstance(event, yaml.AliasEvent):
            if event.anchor not in self.anchors:
                raise self._error(f"unknown alias *{event.anchor}", event.start_mark)
            value, size = self.anchors[event.anchor]
            self.alias_volume += size
            self.volume += size
            if self.alias_volume > self.limits.max_alias_expansion:
                raise self._error(
                    f"aliases expand to more than {self.limits.max_alias_expansion} YAML nodes",
                    event.start_mark,
                    "this looks like an alias bomb; use blocks and `repeat` instead of deep anchors",
                )
            if self.volume > self.limits.max_nodes:
                raise self._error(f"more than {self.limits.max_nodes} YAML nodes", event.start_mark)
            self._add(value, event.start_mark)
        elif isinstance(event, yaml.DocumentStartEvent):
            self.documents += 1
            if self.documents > 1:
                raise self._error(
                    "the file holds more than one YAML document",
                    event.start_mark,
                    "put one spec per file (remove the extra `---`)",
                )

    def _scalar(self, tag: str, event: yaml.ScalarEvent) -> Any:
        node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
        try:
            return self.constructor.construct_object(node)
        except yaml.MarkedYAMLError as exc:
            raise _syntax_error(exc, self.file) from None
        except (ValueError, TypeError) as exc:
            raise self._error(f"cannot read the value {event.value!r}: {exc}", event.start_mark) from None

    def _add(self, value: Any, mark: Any, is_merge_key: bool = False) -> None:
        """A scalar or alias arrived: it is a key, a value, or a list item."""
        if self.stack:
            frame = self.stack[-1]
            if not isinstance(frame.value, list) and frame.key is _NO_KEY:
                if is_merge_key:
                    frame.key = _MERGE_TAG
                    return
                if isinstance(value, (dict, list)):
                    raise self._error("mapping keys must be plain names, not lists or mappings", mark)
                if value in frame.value:
                    raise self._error(
                        f"duplicate key '{value}'", mark, "each key may appear once in a mapping; remove or rename one"
                    )
                frame.key = value
                self.positions.record_key(frame.path + (value,), mark)
                return
        self.positions.record(self._path(), mark)
        self._attach(value, mark)

    def _attach(self, value: Any, mark: Any = None) -> None:
        if not self.stack:
            self.result = value
            return
        frame = self.stack[-1]
        if isinstance(frame.value, list):
            frame.value.append(value)
            return
        if frame.key == _MERGE_TAG:
            sources = value if isinstance(value, list) else [value]
            for source in sources:
                if not isinstance(source, dict):
                    raise self._error("a YAML merge key (<<) must refer to a mapping", mark or _NO_MARK)
                frame.merges.append(source)
        else:
            frame.value[frame.key] = value
        frame.key = _NO_KEY


class _Mark:
    line = 0
    column = 0


_NO_MARK = _Mark()
