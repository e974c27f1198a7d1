"""The options of one sweep point: what a template is solved with, in canonical form.

Every option can be set for the whole sweep (``options:``), for one propose
template (``propose:``), or varied along an axis (``axes:``). Each value is
parsed once into a canonical, JSON-able form, so that two spellings of the
same point (``depth: 4:16`` and ``depth: {min: 4, max: 16}``) hash alike:

* sizes (``input_size``, ``output_size``, ``effective_stride``): a list of ints,
  one per axis or one for every axis;
* ranges (``depth``, ``channels``): ``{"min": a, "max": b}``;
* ``receptive_field``: a window ``{"min": a, "max": b}`` (either may be None) of
  pixels, or of fractions of the input size when ``rf_relative`` is true;
* choice sets (``kernels``, ``strides``, ``dilations``): a sorted list of ints;
* ``constraints``: a sorted list of constraint names.

``None`` means "not set": a propose template then uses the defaults of
`rfdesign propose`, a spec template keeps what its file says.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NoReturn

from pydantic import BaseModel, BeforeValidator, ConfigDict, StrictBool
from pydantic_core import PydanticCustomError

from rfdesign.solve.problem import CONSTRAINTS

Options = dict[str, Any]

#: options that shape a propose template; a spec template has its own layers and {choose: ...} holes
PROPOSE_ONLY = frozenset({"dims", "depth", "kernels", "strides", "dilations", "channels"})

#: what a propose template uses when an option is not set (the defaults of `rfdesign propose`)
PROPOSE_DEFAULTS: Options = {
    "dims": 2,
    "input_channels": 3,
    "depth": {"min": 4, "max": 16},
    "kernels": [1, 3, 5, 7],
    "strides": [1, 2],
    "dilations": [1, 2, 4],
    "channels": {"min": 32, "max": 512},
    "objective": "params",
    "top_k": 1,
    "constraints": [],
}


def _fail(message: str) -> NoReturn:
    raise PydanticCustomError("rfdesign_option", message)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _number(text: str) -> int | float:
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        return float(text)


def _positive_int(value: Any) -> int:
    if not _is_int(value) or value < 1:
        _fail("must be an integer >= 1")
    return int(value)


def _sizes(value: Any) -> list[int]:
    """An int, a list of 1 to 3 ints, or text such as ``320x240`` / ``320,240``."""
    if isinstance(value, str):
        try:
            value = [int(part) for part in value.replace("x", ",").split(",")]
        except ValueError:
            _fail("must be an integer, a list of 1 to 3 integers, or text such as 320x240")
    items = [value] if _is_int(value) else value
    if not isinstance(items, list) or not 1 <= len(items) <= 3 or not all(_is_int(v) and v >= 1 for v in items):
        _fail("must be an integer >= 1, a list of 1 to 3 of them (one per axis), or text such as 320x240")
    return [int(v) for v in items]


def _bounds(value: Any, integers: bool) -> dict[str, Any]:
    """``N``, ``"MIN:MAX"`` (either side may be empty) or ``{min: a, max: b}`` as ``{"min": a, "max": b}``."""
    what = "integers" if integers else "numbers"
    shape = f"must be N, MIN:MAX or {{min: a, max: b}} with {what}"
    if isinstance(value, str):
        parts = value.split(":")
        if len(parts) > 2:
            _fail(shape)
        try:
            numbers = [_number(part) if part.strip() else None for part in parts]
        except ValueError:
            _fail(shape)
        low, high = (numbers[0], numbers[0]) if len(numbers) == 1 else numbers
    elif isinstance(value, dict):
        if set(value) - {"min", "max"}:
            _fail(f"{shape} (unknown key {sorted(set(value) - {'min', 'max'})[0]!r})")
        low, high = value.get("min"), value.get("max")
    elif _is_number(value):
        low, high = value, value
    else:
        _fail(shape)
    for bound in (low, high):
        if bound is not None and (not (_is_int(bound) if integers else _is_number(bound)) or bound <= 0):
            _fail(f"{shape} > 0")
    if low is None and high is None:
        _fail(f"{shape}: at least one bound")
    if low is not None and high is not None and low > high:
        _fail(f"{shape}: MIN {low} is above MAX {high}")
    return {"min": low, "max": high}


def _int_range(value: Any) -> dict[str, int]:
    bounds = _bounds(value, integers=True)
    if bounds["min"] is None or bounds["max"] is None:
        _fail("must be N or MIN:MAX with both bounds")
    return bounds


def _window(value: Any) -> dict[str, Any]:
    return _bounds(value, integers=False)


def _int_set(value: Any) -> list[int]:
    """A list of ints (or text ``1,3,5``), as a sorted list without repeats."""
    if isinstance(value, str):
        try:
            value = [int(part) for part in value.split(",") if part.strip()]
        except ValueError:
            _fail("must be a list of integers such as [1, 3, 5], or text 1,3,5")
    items = [value] if _is_int(value) else value
    if not isinstance(items, list) or not items or not all(_is_int(v) and v >= 1 for v in items):
        _fail("must be a non-empty list of integers >= 1, such as [1, 3, 5]")
    return sorted(set(items))


def _tolerance(value: Any) -> float:
    if not _is_number(value) or not 0 <= value < 1:
        _fail("must be a fraction in [0, 1), such as 0.1 for +-10%")
    return float(value)


def _dims(value: Any) -> int:
    if not _is_int(value) or not 1 <= value <= 3:
        _fail("must be 1, 2 or 3 (spatial axes)")
    return int(value)


def _constraints(value: Any) -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
        _fail(f"must be a list of constraint names ({', '.join(CONSTRAINTS)})")
    for item in items:
        if item not in CONSTRAINTS:
            _fail(f"has an unknown constraint {item!r} (known: {', '.join(CONSTRAINTS)})")
    return sorted(set(items))


def _typed(parser: Any) -> Any:
    return Annotated[Any, BeforeValidator(lambda value: None if value is None else parser(value))]


class PointOptions(BaseModel):
    """The options a point may set; each field is documented in docs/sweep.md."""

    model_config = ConfigDict(extra="forbid")

    input_size: _typed(_sizes) = None
    input_channels: _typed(_positive_int) = None
    dims: _typed(_dims) = None
    receptive_field: _typed(_window) = None
    rf_relative: StrictBool = False
    rf_tolerance: _typed(_tolerance) = 0.0
    output_size: _typed(_sizes) = None
    effective_stride: _typed(_sizes) = None
    depth: _typed(_int_range) = None
    kernels: _typed(_int_set) = None
    strides: _typed(_int_set) = None
    dilations: _typed(_int_set) = None
    channels: _typed(_int_range) = None
    objective: Literal["params", "flops"] | None = None
    top_k: _typed(_positive_int) = None
    constraints: _typed(_constraints) = None


OPTION_NAMES: tuple[str, ...] = tuple(PointOptions.model_fields)
DEFAULTS: Options = {name: info.default for name, info in PointOptions.model_fields.items()}


def canonical(options: Options) -> Options:
    """``options`` without the values that equal a field's default (so new options never change old hashes)."""
    return {name: value for name, value in options.items() if value != DEFAULTS[name]}


def value_text(name: str, value: Any) -> str:
    """A canonical value as a person writes it: ``320x240``, ``4:16``, ``1,3,5``, ``0.33:0.5``."""
    if value is None:
        return ""
    if name in ("input_size", "output_size", "effective_stride"):
        return "x".join(map(str, value))
    if isinstance(value, dict):
        low, high = value["min"], value["max"]
        if low == high:
            return str(low)
        return f"{'' if low is None else low}:{'' if high is None else high}"
    if isinstance(value, list):
        return ",".join(map(str, value))
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def value_cell(name: str, value: Any) -> Any:
    """A canonical value for a table: a number where it is one number, else its text."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list) and len(value) == 1 and name not in ("kernels", "strides", "dilations", "constraints"):
        return value[0]
    if isinstance(value, dict) and value["min"] == value["max"]:
        return value["min"]
    return value_text(name, value)
