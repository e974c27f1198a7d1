"""The CLI's JSON layout, written in one pass: objects indented, lists of plain values on one line.

The layout is a contract (docs/json-format.md): an object puts each member on
its own line, indented; a list that holds an object puts each item on its own
line; any other value (a scalar, a list of scalars, a list of such lists) is
written as ``json.dumps`` writes it, on one line. :func:`json_text` returns
the text; :func:`write_json` writes it in pieces, so a large report never
exists as one string. An iterator is written like a list of objects (one item
per line) without being materialised, which lets the CLI stream the layers of
a large analysis.

Both give exactly the bytes of the straightforward recursive formulation that
calls ``json.dumps`` on every leaf (tests/test_json_output.py keeps it as the
reference). Speed comes from doing the same thing in bulk: a run of objects
(the layers of a report) is transposed into columns, each column is encoded
by one ``json.dumps`` call (or ``map`` over the very function ``json.dumps``
uses for a str or an int) and split back into one text per object, and each
object's text is one ``%`` of a template made from its keys. Whatever the
bulk path cannot prove it renders exactly (a string holding ``", "``, nested
objects, keys that are not plain strings) takes the per-value path.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from itertools import chain, compress, islice
from typing import Any

_encode_str: Callable[[str], str] = json.encoder.encode_basestring_ascii  # json.dumps's own, ensure_ascii=True
_int_text = int.__repr__  # what json.dumps writes for an int
_LITERALS = {True: "true", False: "false"}
_BATCH = 2048  # objects rendered together in bulk


def _inline(value: Any) -> str:
    """``json.dumps(value)``, with the set-up skipped for the commonest leaves."""
    kind = type(value)
    if kind is str:
        return _encode_str(value)
    if kind is int:
        return _int_text(value)
    if value is None:
        return "null"
    if kind is bool:
        return _LITERALS[value]
    return json.dumps(value)


def _multiline(value: Any) -> bool:
    """Whether ``value`` is written over several lines: a non-empty object, or a list holding an object."""
    if isinstance(value, dict):
        return bool(value)
    if isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                return True
    return False


def _int_leaves(values: list[Any]) -> bool:
    """Whether ``values``, lists, hold (through lists only) nothing but ints: then ``repr`` is their JSON."""
    flat = list(chain.from_iterable(values))
    kinds = set(map(type, flat))
    if kinds == {int} or not kinds:
        return True
    return kinds == {list} and _int_leaves(flat)


def _column(values: list[Any]) -> list[str] | None:
    """``[json.dumps(v) for v in values]`` in bulk, or None when the bulk path cannot vouch for the result."""
    if not values:
        return []
    kinds = set(map(type, values))
    if kinds == {str}:
        return list(map(_encode_str, values))
    if kinds == {int}:
        return list(map(_int_text, values))
    if kinds == {list} and _int_leaves(values):
        return list(map(repr, values))  # a list's repr of ints is exactly its JSON
    if kinds <= {list, tuple}:
        lengths = list(map(len, values))
        flat = _column(list(chain.from_iterable(values)))
        if flat is None:
            return None
        if len(set(lengths)) == 1:
            length = lengths[0]
            if length == 0:
                return ["[]"] * len(values)
            template = "[" + ", ".join(["%s"] * length) + "]"
            return list(map(template.__mod__, zip(*[iter(flat)] * length)))
        texts = []
        start = 0
        for length in lengths:
            texts.append("[" + ", ".join(flat[start : start + length]) + "]")
            start += length
        return texts
    if kinds <= {int, str, bool, float, type(None)}:
        parts = json.dumps(values)[1:-1].split(", ")
        if len(parts) == len(values):  # no text holds the separator, so each part is one value's text
            return parts
    return None


class _Writer:
    """Renders values at a given depth; caches each depth's padding and key prefixes."""

    def __init__(self, indent: int):
        self.indent = indent
        self.pads: list[str] = []
        self.templates: dict[tuple[tuple[str, ...], int], str] = {}

    def pad(self, level: int) -> str:
        while len(self.pads) <= level:
            self.pads.append(" " * (self.indent * len(self.pads)))
        return self.pads[level]

    def member(self, level: int, key: Any) -> str:
        """The padded, encoded key of a member of an object at depth ``level``, and its separator."""
        return self.pad(level + 1) + _encode_str(str(key)) + ": "

    def text(self, value: Any, level: int) -> str:
        """The whole text of ``value`` written at depth ``level``."""
        if isinstance(value, dict):
            if not value:
                return "{}"
            items = []
            for k, v in value.items():
                items.append(self.member(level, k) + (self.text(v, level + 1) if _multiline(v) else _inline(v)))
            return "{\n" + ",\n".join(items) + "\n" + self.pad(level) + "}"
        if _multiline(value):
            pad = self.pad(level + 1)
            items = [pad + self.text(item, level + 1) for item in value]
            return "[\n" + ",\n".join(items) + "\n" + self.pad(level) + "]"
        return _inline(value)

    def texts(self, items: list[Any], level: int) -> list[str]:
        """``[self.text(item, level) for item in items]``, in bulk for objects that share their keys."""
        if set(map(type, items)) != {dict}:
            return [self.text(item, level) for item in items]
        keys = list(map(tuple, items))
        if set(map(type, chain.from_iterable(keys))) != {str}:
            return [self.text(item, level) for item in items]
        shapes = dict.fromkeys(keys)
        if len(shapes) == 1:
            return self._objects(keys[0], items, level)
        result: list[str] = [""] * len(items)
        for shape in shapes:
            where = list(compress(range(len(items)), map(shape.__eq__, keys)))
            group = [items[i] for i in where]
            for i, text in zip(where, self._objects(shape, group, level)):
                result[i] = text
        return result

    def _objects(self, shape: tuple[str, ...], group: list[dict[str, Any]], level: int) -> list[str]:
        """The texts of objects that all have the keys ``shape``, in this order."""
        if not shape:
            return ["{}"] * len(group)
        columns = []
        for values in zip(*map(dict.values, group)):
            column = list(values)
            texts = _column(column)
            if texts is None:
                texts = [self.text(v, level + 1) for v in column]
            columns.append(texts)
        template = self.templates.get((shape, level))
        if template is None:
            members = [self.member(level, key).replace("%", "%%") + "%s" for key in shape]
            template = "{\n" + ",\n".join(members) + "\n" + self.pad(level) + "}"
            self.templates[(shape, level)] = template
        return list(map(template.__mod__, zip(*columns)))

    def chunks(self, value: Any, level: int) -> Iterator[str]:
        """The text of ``value`` in pieces: one per member of an object, a batch of items of a list of objects."""
        if isinstance(value, Iterator):
            yield from self._items(value, level)
        elif isinstance(value, dict) and value:
            yield "{"
            separator = "\n"
            for k, v in value.items():
                yield separator + self.member(level, k)
                separator = ",\n"
                if isinstance(v, Iterator) or _multiline(v):
                    yield from self.chunks(v, level + 1)
                else:
                    yield _inline(v)
            yield "\n" + self.pad(level) + "}"
        elif _multiline(value):
            yield from self._items(iter(value), level)
        else:
            yield self.text(value, level)

    def _items(self, items: Iterator[Any], level: int) -> Iterator[str]:
        pad = self.pad(level + 1)
        first = True
        while True:
            batch = list(islice(items, _BATCH))
            if not batch:
                break
            texts = self.texts(batch, level + 1)
            yield ("[\n" if first else ",\n") + pad + (",\n" + pad).join(texts)
            first = False
        yield "[]" if first else "\n" + self.pad(level) + "]"


def json_text(data: Any, indent: int = 2) -> str:
    """``data`` in the CLI's JSON layout (see the module docstring)."""
    return "".join(_Writer(indent).chunks(data, 0))


def write_json(data: Any, write: Callable[[str], Any], indent: int = 2) -> None:
    """Write ``data`` in the CLI's JSON layout through ``write``, a batch of objects at a time."""
    for chunk in _Writer(indent).chunks(data, 0):
        write(chunk)
