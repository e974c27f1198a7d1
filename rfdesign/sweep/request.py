"""A sweep point as a solver problem: the one place where options become a template and a target.

:func:`point_problem` is the whole conversion. A propose template becomes a
:class:`~rfdesign.solve.propose.ProposeRequest` (built in
:func:`propose_request` only, so a new propose option is one line there); a
spec template is the spec's own data with ``input`` and ``target`` replaced
by what the point sets. Both then go through the same spec loader and
:func:`~rfdesign.solve.problem.build_problem` as `rfdesign propose` and
`rfdesign solve`.

Receptive-field windows are resolved to whole pixels here, exactly (in
rationals): a relative window is multiplied by the input size of each axis;
a single value with ``rf_tolerance`` t becomes ``[v (1 - t), v (1 + t)]``; the
window is then ``[ceil(low), floor(high)]``. A window that holds no whole
pixel count is :class:`EmptyWindow`, which the sweep reports as infeasible.
"""

from __future__ import annotations

import copy
import functools
import math
from fractions import Fraction
from typing import Any

from rfdesign.errors import SpecError
from rfdesign.solve.problem import Problem, build_problem
from rfdesign.solve.propose import ProposeRequest, template
from rfdesign.spec.expand import build_graph
from rfdesign.spec.load import parse_spec
from rfdesign.spec.yamlload import Positions, load_yaml
from rfdesign.sweep.options import PROPOSE_DEFAULTS, Options
from rfdesign.sweep.points import Template

Bounds = tuple[int | None, int | None]


class EmptyWindow(SpecError):
    """The point's receptive-field window holds no whole number of pixels."""


def _exact(value: int | float) -> Fraction:
    return Fraction(repr(value)) if isinstance(value, float) else Fraction(value)


def rf_bounds(options: Options, input_size: tuple[int, ...]) -> tuple[Bounds, ...] | None:
    """The point's receptive-field window in pixels, per axis (see the module docstring)."""
    window = options.get("receptive_field")
    if window is None:
        return None
    low, high = window["min"], window["max"]
    tolerance = _exact(options.get("rf_tolerance") or 0.0)
    low_x = None if low is None else _exact(low)
    high_x = None if high is None else _exact(high)
    if low == high and tolerance:
        assert low_x is not None
        low_x, high_x = low_x * (1 - tolerance), low_x * (1 + tolerance)
    result = []
    for size in input_size:
        scale = Fraction(size) if options.get("rf_relative") else Fraction(1)
        axis_low = None if low_x is None else max(1, math.ceil(low_x * scale))
        axis_high = None if high_x is None else math.floor(high_x * scale)
        if axis_high is not None and (axis_high < 1 or axis_low is not None and axis_low > axis_high):
            text = _window_text(low_x, high_x, scale)
            raise EmptyWindow(
                f"the receptive-field window {text} holds no whole number of pixels",
                hint="widen it, or set rf_tolerance",
            )
        result.append((axis_low, axis_high))
    return tuple(result)


def _window_text(low: Fraction | None, high: Fraction | None, scale: Fraction) -> str:
    def show(value: Fraction | None) -> str:
        return "-" if value is None else f"{float(value * scale):g}"

    return f"[{show(low)}, {show(high)}]"


def _target_value(bounds: tuple[Bounds, ...]) -> Any:
    """Per-axis bounds as a spec's target value (one value when every axis agrees)."""

    def one(pair: Bounds) -> Any:
        low, high = pair
        if low == high:
            return low
        return {key: value for key, value in (("min", low), ("max", high)) if value is not None}

    values = [one(pair) for pair in bounds]
    return values[0] if all(v == values[0] for v in values) else values


def _sizes(value: list[int] | None, dims: int) -> tuple[int, ...] | None:
    if value is None:
        return None
    return tuple(value * dims) if len(value) == 1 else tuple(value)


def propose_request(options: Options) -> ProposeRequest:
    """The `rfdesign propose` request of a propose point (unset options take the command's defaults)."""
    merged = {**PROPOSE_DEFAULTS, **{k: v for k, v in options.items() if v is not None}}
    size = merged["input_size"]
    dims = len(size) if len(size) > 1 else merged["dims"]
    input_size = _sizes(size, dims)
    assert input_size is not None
    bounds = rf_bounds(merged, input_size)
    isotropic = bounds is None or all(pair == bounds[0] for pair in bounds)
    return ProposeRequest(
        input_size=input_size,
        input_channels=merged["input_channels"],
        receptive_field=bounds[0] if bounds is not None and isotropic else (None, None),
        output_size=_sizes(merged.get("output_size"), dims),
        depth=(merged["depth"]["min"], merged["depth"]["max"]),
        kernels=tuple(merged["kernels"]),
        strides=tuple(merged["strides"]),
        dilations=tuple(merged["dilations"]),
        channels=(merged["channels"]["min"], merged["channels"]["max"]),
        objective=merged["objective"],
        top_k=merged["top_k"],
        constraints=tuple(merged["constraints"]),
    )


def point_problem(point_template: Template, options: Options) -> Problem:
    """The solver problem of one point: ``point_template`` with ``options`` applied."""
    if point_template.kind == "propose":
        from rfdesign.io.yaml_export import dump

        request = propose_request(options)
        data = template(request)
        bounds = rf_bounds({**PROPOSE_DEFAULTS, **options}, request.input_size)
        if bounds is not None and request.receptive_field == (None, None):
            data["target"]["receptive_field"] = _target_value(bounds)  # anisotropic: one window per axis
        stride = _sizes(options.get("effective_stride"), len(request.input_size))
        if stride is not None:
            data["target"]["effective_stride"] = list(stride)
        graph = parse_spec(dump(data, f"template of sweep template `{point_template.name}`"),
                           f"<sweep template {point_template.name}>")
        return build_problem(graph)
    assert point_template.text is not None and point_template.file is not None
    raw, positions = _spec_data(point_template.text, point_template.file)
    data = copy.deepcopy(raw)
    _apply(data, options)
    return build_problem(build_graph(data, positions, point_template.file))


@functools.lru_cache(maxsize=16)
def _spec_data(text: str, file: str) -> tuple[Any, Positions]:
    """A spec template's loaded data, read once per process (callers copy it before changing it)."""
    return load_yaml(text, file)


def _apply(data: dict[str, Any], options: Options) -> None:
    """Set a spec template's input and target from a point's options (unset options keep the spec's)."""
    spec_input = data.setdefault("input", {})
    written = spec_input.get("size")
    dims = len(written) if isinstance(written, list) else 1
    size = _sizes(options.get("input_size"), dims)
    if size is not None:
        if len(size) != dims:
            raise SpecError(f"input_size {'x'.join(map(str, size))} has {len(size)} axes; the spec has {dims}")
        spec_input["size"] = list(size)
    if options.get("input_channels") is not None:
        spec_input["channels"] = options["input_channels"]
    current = spec_input.get("size")
    input_size = tuple(current) if isinstance(current, list) else (current,)
    target = data.get("target") or {}
    data["target"] = target
    bounds = rf_bounds(options, input_size)
    if bounds is not None:
        target["receptive_field"] = _target_value(bounds)
    for name in ("output_size", "effective_stride"):
        value = _sizes(options.get(name), dims)
        if value is not None:
            target[name] = list(value)
    if options.get("objective") is not None:
        target["objective"] = options["objective"]
    if options.get("top_k") is not None:
        target["top_k"] = options["top_k"]
    if options.get("constraints") is not None:
        target["constraints"] = {name: True for name in options["constraints"]}
