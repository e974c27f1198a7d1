"""Parsing of per-axis values (kernel, stride, dilation, padding, …).

Each parser turns what the user wrote into a tuple with one entry per spatial
axis, or raises :class:`SpecError` at the value's location saying exactly what
was expected.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rfdesign.errors import Location, SpecError
from rfdesign.spec.graph import Choice, Dim

Locate = Callable[[tuple[Any, ...]], Location]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _describe(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _axes_word(dims: int) -> str:
    return "axis" if dims == 1 else "axes"


def per_axis_int(
    value: Any,
    dims: int,
    field: str,
    path: tuple[Any, ...],
    locate: Locate,
    minimum: int = 1,
    allow_choice: bool = False,
) -> tuple[Dim, ...]:
    """An int (same on every axis) or a list of ``dims`` ints, each >= ``minimum``.

    With ``allow_choice`` an entry may be ``{choose: [..]}``, kept as a :class:`Choice`.
    """
    expected = f"an int >= {minimum} or a list of {dims} such ints (one per spatial axis)"
    if _is_int(value) or isinstance(value, dict):
        return (_one(value, field, path, locate, minimum, allow_choice, expected),) * dims
    if isinstance(value, list):
        if len(value) != dims:
            raise SpecError(
                f"`{field}` has {len(value)} entries but the network has {dims} spatial {_axes_word(dims)}",
                locate(path),
                f"write {expected}",
            )
        return tuple(
            _one(item, field, path + (index,), locate, minimum, allow_choice, expected)
            for index, item in enumerate(value)
        )
    raise SpecError(f"`{field}` must be {expected}, got {_describe(value)}", locate(path))


def _one(
    value: Any,
    field: str,
    path: tuple[Any, ...],
    locate: Locate,
    minimum: int,
    allow_choice: bool,
    expected: str,
) -> Dim:
    if isinstance(value, dict):
        if set(value) != {"choose"}:
            raise SpecError(
                f"`{field}`: a mapping here must be {{choose: [options]}}, got keys {sorted(map(str, value))}",
                locate(path),
            )
        options = value["choose"]
        if not allow_choice:
            raise SpecError(
                f"`{field}` is a free choice ({{choose: ...}}), which only `rfdesign solve` can fill",
                locate(path),
                "run `rfdesign solve` on this spec, or write a fixed value",
            )
        if not isinstance(options, list) or not options or not all(_is_int(o) for o in options):
            raise SpecError(f"`{field}`: `choose` must be a non-empty list of ints", locate(path + ("choose",)))
        for option in options:
            if option < minimum:
                raise SpecError(
                    f"`{field}`: every option must be >= {minimum}, got {option}", locate(path + ("choose",))
                )
        return Choice(tuple(sorted(set(options))))
    if not _is_int(value):
        raise SpecError(f"`{field}` must be {expected}, got {_describe(value)}", locate(path))
    if value < minimum:
        raise SpecError(f"`{field}` must be >= {minimum}, got {value}", locate(path), f"write {expected}")
    return value


#: padding rules resolved against the (effective) kernel and the input size: TensorFlow's `same`,
#: PyTorch's usual `(k' - 1) // 2` on both sides (`centred`, the odd pixel after), and all the
#: padding before (`causal`) or after (`anticausal`) the input
PADDING_RULES = ("same", "centred", "causal", "anticausal")


def padding_pairs(
    value: Any,
    dims: int,
    field: str,
    path: tuple[Any, ...],
    locate: Locate,
    rules: tuple[str, ...] = PADDING_RULES,
) -> str | tuple[tuple[int, int], ...]:
    """Padding as one of ``rules`` (kept by name) or a tuple of (before, after) per axis.

    Accepts an int, ``valid``, a rule name, one int per axis, or ``[before, after]`` per axis.
    """
    named = "".join(f"`{rule}`, " for rule in rules)
    expected = (
        f"an int >= 0, {named}`valid`, a list of {dims} ints (one per axis), "
        f"or a list of {dims} [before, after] pairs"
    )
    if isinstance(value, str):
        if value == "valid":
            return ((0, 0),) * dims
        if value in rules:
            return value
        raise SpecError(f"`{field}` must be {expected}, got {_describe(value)}", locate(path))
    if _is_int(value):
        if value < 0:
            raise SpecError(f"`{field}` must be >= 0, got {value}", locate(path))
        return ((value, value),) * dims
    if isinstance(value, list):
        if len(value) != dims:
            hint = f"write {expected}"
            if dims == 1 and len(value) == 2 and all(_is_int(v) for v in value):
                hint = "for [before, after] on a 1-D network write [[before, after]]"
            raise SpecError(
                f"`{field}` has {len(value)} entries but the network has {dims} spatial {_axes_word(dims)}",
                locate(path),
                hint,
            )
        pairs = []
        for index, item in enumerate(value):
            item_path = path + (index,)
            if _is_int(item):
                before = after = item
            elif isinstance(item, list) and len(item) == 2 and all(_is_int(v) for v in item):
                before, after = item
            else:
                raise SpecError(
                    f"`{field}` entry {index + 1} must be an int or [before, after], got {_describe(item)}",
                    locate(item_path),
                )
            if before < 0 or after < 0:
                raise SpecError(f"`{field}` must be >= 0, got {_describe(item)}", locate(item_path))
            pairs.append((before, after))
        return tuple(pairs)
    raise SpecError(f"`{field}` must be {expected}, got {_describe(value)}", locate(path))


def input_size(value: Any, path: tuple[Any, ...], locate: Locate) -> tuple[int, ...]:
    """The spec's ``input.size``: an int (1-D) or a list of 1 to 3 ints, each >= 1."""
    sizes = [value] if _is_int(value) else value
    if not isinstance(sizes, list) or not 1 <= len(sizes) <= 3 or not all(_is_int(s) for s in sizes):
        raise SpecError(
            f"`input.size` must be a list of 1 to 3 ints (one per spatial axis), got {_describe(value)}",
            locate(path),
            "e.g. size: [224, 224] for an image, [16000] for audio, [16, 112, 112] for video",
        )
    for index, size in enumerate(sizes):
        if size < 1:
            raise SpecError(f"`input.size` entries must be >= 1, got {size}", locate(path + (index,)))
    return tuple(sizes)


class AttrReader:
    """Reads one layer's per-axis values into normalised tuples, with errors located at the key.

    Each op's ``normalize`` receives one, so every op parses and reports alike.
    """

    def __init__(self, dims: int, path: tuple[Any, ...], locate: Locate):
        self.dims = dims
        self.path = path
        self.locate = locate

    def at(self, field: str) -> Location:
        """Where ``field`` of this layer is (the layer itself when the key is absent)."""
        return self.locate(self.path + (field,))

    def here(self) -> Location:
        return self.locate(self.path)

    def ints(self, field: str, value: Any, minimum: int = 1, choice: bool = True) -> tuple[Dim, ...]:
        """A per-axis int (``{choose: [...]}`` holes allowed unless ``choice`` is false)."""
        return per_axis_int(value, self.dims, field, self.path + (field,), self.locate, minimum, choice)

    def fixed_ints(self, field: str, value: Any, minimum: int = 1) -> tuple[int, ...]:
        """A per-axis int that may not be a hole."""
        return tuple(int(v) for v in self.ints(field, value, minimum, choice=False))  # type: ignore[arg-type]

    def padding(self, field: str, value: Any, rules: tuple[str, ...] = ()) -> str | tuple[tuple[int, int], ...]:
        """Padding pairs, or one of the named ``rules`` (``same``, ``causal``, ``anticausal``) kept by name."""
        return padding_pairs(value, self.dims, field, self.path + (field,), self.locate, rules)

    def flag(self, field: str, value: Any) -> bool:
        if not isinstance(value, bool):
            raise SpecError(f"`{field}` must be true or false, got {value!r}", self.at(field))
        return value

    def positive(self, field: str, value: int | None) -> None:
        if value is not None and value < 1:
            raise SpecError(f"`{field}` must be >= 1, got {value}", self.at(field))
