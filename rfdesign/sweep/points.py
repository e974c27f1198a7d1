"""From a sweep file to its points: templates, axes, grid or seeded random sampling, content keys.

A point is a template and the options it is solved with. Its key is a
content hash of the template (the spec file's text, or "propose"), the point's
options, the solve settings (timeout, method) and the rfdesign version, so a
point solved once is never solved again unless something it depends on
changes (:mod:`rfdesign.sweep.store`).

Order is deterministic: templates in the order written, then every
combination of the axes with the last axis varying fastest (grid), or the
draws of a generator seeded by ``seed`` (random).
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import math
import os
import random
from dataclasses import dataclass, field
from typing import Any

from rfdesign import __version__
from rfdesign.errors import Location, SpecError
from rfdesign.spec.load import parse_spec
from rfdesign.spec.suggest import did_you_mean
from rfdesign.spec.yamlload import Positions, read_text
from rfdesign.sweep import model as models
from rfdesign.sweep.options import OPTION_NAMES, PROPOSE_ONLY, Options, PointOptions, canonical

MAX_POINTS = 1_000_000
Path = tuple[Any, ...]


@dataclass(frozen=True)
class Template:
    """A template as the workers need it: self-contained (the spec's text travels with it)."""

    name: str
    kind: str  # "spec" or "propose"
    path: str | None = None  # the spec file as written in the sweep file
    file: str | None = None  # the spec file as opened (for error messages)
    text: str | None = None
    options: Options = field(default_factory=dict)  # a propose template's own options
    source: Path = ()  # where the template is written in the sweep file (for error messages)

    def fingerprint(self) -> dict[str, Any]:
        """What a result depends on (the name and where the file lives do not count)."""
        if self.kind == "spec":
            return {"spec": self.text}
        return {"propose": True}

    def applies(self, option: str) -> bool:
        return self.kind == "propose" or option not in PROPOSE_ONLY


@dataclass(frozen=True)
class Point:
    index: int
    template: int
    values: Options  # the axis values of this point (axes that apply to its template)
    options: Options  # every option set for this point, canonical
    key: str


@dataclass
class Sweep:
    name: str
    file: str
    templates: list[Template]
    axes: list[str]
    points: list[Point]
    timeout: float
    method: str
    sample: str  # "grid" or "random N, seed S"


@dataclass
class _Axis:
    name: str
    values: list[Any] | None  # None: a continuous range (random sampling only)
    continuous: models.AxisRange | None
    path: Path


def point_key(template: Template, options: Options, timeout: float, method: str) -> str:
    """The content hash that names a point's result in the store."""
    payload = {
        "template": template.fingerprint(),
        "options": canonical(options),
        "timeout": float(timeout),
        "method": method,
        "version": __version__,
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def load_sweep(path: str, timeout: float | None = None) -> Sweep:
    """Read and validate a sweep file and list its points (``timeout`` overrides the file's)."""
    text = read_text(path)
    data, positions = models.load_sweep_data(text, path)
    models.check_mapping(data, positions)
    sweep_file = models.validate(models.SweepFile, data, (), positions)
    base_options = _options(sweep_file.options, ("options",), positions)
    templates = _templates(sweep_file, positions, path)
    axes = [_axis(name, raw, positions) for name, raw in sweep_file.axes.items()]
    if isinstance(sweep_file.sample, str):
        if sweep_file.sample != "grid":
            raise SpecError(
                f"`sample` must be `grid` or {{random: N, seed: S}}, got {sweep_file.sample!r}",
                positions.locate(("sample",)),
            )
        sample = None
    else:
        sample = models.validate(models.RandomSample, sweep_file.sample, ("sample",), positions)
    if sample is None:
        for axis in axes:
            if axis.values is None:
                raise SpecError(
                    f"axis `{axis.name}` is a range without `step` or `count`, "
                    "which only random sampling can draw from",
                    positions.locate(axis.path),
                    "add `step:` or `count:`, or use `sample: {random: N, seed: S}`",
                )
    chosen_timeout = float(timeout if timeout is not None else sweep_file.timeout)
    points = _grid(templates, axes, base_options) if sample is None else _random(templates, axes, base_options, sample)
    keyed = []
    for index, (template_index, values, options) in enumerate(points):
        template = templates[template_index]
        _check_point(template, options, positions, values)
        keyed.append(Point(index, template_index, values, options,
                           point_key(template, options, chosen_timeout, sweep_file.method)))
    name = sweep_file.name or os.path.splitext(os.path.basename(path))[0]
    sample_text = "grid" if sample is None else f"random {sample.random}, seed {sample.seed}"
    return Sweep(name, path, templates, [axis.name for axis in axes], keyed, chosen_timeout, sweep_file.method,
                 sample_text)


def _options(raw: Any, base: Path, positions: Positions) -> Options:
    """Validate options (unknown names get a "did you mean"), keep those that were written."""
    parsed = models.validate(PointOptions, raw, base, positions)
    return {name: getattr(parsed, name) for name in raw}


def _templates(sweep_file: models.SweepFile, positions: Positions, path: str) -> list[Template]:
    if sweep_file.templates is not None:
        entries = [(entry, ("templates", index)) for index, entry in enumerate(sweep_file.templates)]
        if not entries:
            raise SpecError("`templates:` is empty", positions.locate(("templates",)))
    else:
        entries = [(sweep_file.template, ("template",))]
    folder = os.path.dirname(path)
    result: list[Template] = []
    seen: dict[str, Path] = {}
    for raw, where in entries:
        entry = models.validate(models.TemplateEntry, raw, where, positions)
        if (entry.spec is None) == (entry.propose is None):
            raise SpecError(
                "a template has either `spec:` (a spec file with holes) or `propose:` (options), exactly one",
                positions.locate(where),
                "e.g. {spec: head.yaml} or {propose: {depth: 4:16, kernels: [1, 3, 5]}}",
            )
        if entry.spec is not None:
            file = os.path.join(folder, entry.spec)
            if not os.path.isfile(file):
                raise SpecError(f"no spec file {entry.spec!r} (looked for {file})", positions.locate(where + ("spec",)),
                                "spec paths are relative to the sweep file")
            text = read_text(file)
            parse_spec(text, file)  # a broken template is one located error now, not an error in every row
            name = entry.name or os.path.splitext(os.path.basename(entry.spec))[0]
            template = Template(name, "spec", entry.spec, file, text, source=where)
        else:
            options = _options(entry.propose, where + ("propose",), positions)
            name = entry.name or "propose"
            template = Template(name, "propose", options=options, source=where)
        if template.name in seen:
            if entry.name is not None:
                raise SpecError(f"two templates are named `{template.name}`", positions.locate(where + ("name",)))
            template = dataclasses.replace(template, name=_unique(template.name, seen))
        seen[template.name] = where
        result.append(template)
    return result


def _unique(name: str, seen: dict[str, Path]) -> str:
    number = 2
    while f"{name}_{number}" in seen:
        number += 1
    return f"{name}_{number}"


def _axis(name: str, raw: Any, positions: Positions) -> _Axis:
    path: Path = ("axes", name)
    if name not in OPTION_NAMES:
        raise SpecError(f"unknown axis `{name}`", positions.locate_key(path),
                        did_you_mean(name, OPTION_NAMES) or f"axes: {', '.join(OPTION_NAMES)}")
    if isinstance(raw, dict) and ("from" in raw or "to" in raw):
        spread = models.validate(models.AxisRange, raw, path, positions)
        if spread.from_ > spread.to:
            raise SpecError(f"axis `{name}`: `from` {spread.from_} is above `to` {spread.to}", positions.locate(path))
        if spread.scale == "log" and spread.from_ <= 0:
            raise SpecError(f"axis `{name}`: a log scale needs `from` > 0", positions.locate(path))
        if spread.step is not None and spread.count is not None:
            raise SpecError(f"axis `{name}`: give `step` or `count`, not both", positions.locate(path))
        if spread.step is None and spread.count is None:
            _value(name, spread.from_, path + ("from",), positions)
            _value(name, spread.to, path + ("to",), positions)
            return _Axis(name, None, spread, path)
        values = [_value(name, v, path, positions) for v in _spread(spread)]
        return _Axis(name, _distinct(values), None, path)
    items = raw if isinstance(raw, list) else [raw]
    if not items:
        raise SpecError(f"axis `{name}` has no values", positions.locate(path))
    values = [_value(name, item, path + (index,) if isinstance(raw, list) else path, positions)
              for index, item in enumerate(items)]
    return _Axis(name, _distinct(values), None, path)


def _value(name: str, raw: Any, path: Path, positions: Positions) -> Any:
    """One axis value, canonical; an error points at ``path`` (the loader locates the nearest recorded part)."""
    return getattr(models.validate(PointOptions, {name: raw}, path, positions), name)


def _parsed(name: str, value: Any) -> Any:
    return getattr(PointOptions.model_validate({name: value}), name)


def _distinct(values: list[Any]) -> list[Any]:
    seen: list[Any] = []
    for value in values:
        if value not in seen:
            seen.append(value)
    return seen


def _round(value: float, integers: bool) -> int | float:
    return int(round(value)) if integers else float(f"{value:.6g}")


def _spread(spread: models.AxisRange) -> list[int | float]:
    """The values of a range with ``step`` or ``count`` (inclusive of both ends)."""
    low, high = spread.from_, spread.to
    integers = all(isinstance(v, int) for v in (low, high, spread.step if spread.step is not None else 1))
    if spread.step is not None:
        steps = int(math.floor((high - low) / spread.step + 1e-9))
        if steps + 1 > MAX_POINTS:
            raise SpecError(f"a range of more than {MAX_POINTS:,} values")
        return [_round(low + i * spread.step, integers) for i in range(steps + 1)]
    count = spread.count or 1
    if count == 1:
        return [low]
    if spread.scale == "log":
        ratio = (high / low) ** (1 / (count - 1))
        return [_round(low * ratio**i, integers) for i in range(count)]
    return [_round(low + (high - low) * i / (count - 1), integers) for i in range(count)]


def _draw(axis: _Axis, generator: random.Random) -> Any:
    if axis.values is not None:
        return generator.choice(axis.values)
    spread = axis.continuous
    assert spread is not None
    low, high = spread.from_, spread.to
    integers = isinstance(low, int) and isinstance(high, int)
    if spread.scale == "log":
        return _parsed(axis.name, _round(math.exp(generator.uniform(math.log(low), math.log(high))), integers))
    if integers:
        return _parsed(axis.name, generator.randint(low, high))
    return _parsed(axis.name, _round(generator.uniform(low, high), False))


def _merged(template: Template, base: Options, values: Options) -> Options:
    options = {name: value for name, value in base.items() if template.applies(name)}
    options.update(template.options)
    options.update(values)
    return options


def _grid(templates: list[Template], axes: list[_Axis], base: Options) -> list[tuple[int, Options, Options]]:
    points = []
    for index, template in enumerate(templates):
        mine = [axis for axis in axes if template.applies(axis.name)]
        size = math.prod(len(axis.values or ()) for axis in mine)
        if len(points) + size > MAX_POINTS:
            raise SpecError(f"the grid has more than {MAX_POINTS:,} points",
                            hint="use fewer axis values, or `sample: {random: N, seed: S}`")
        for combination in itertools.product(*(axis.values or () for axis in mine)):
            values = {axis.name: value for axis, value in zip(mine, combination)}
            points.append((index, values, _merged(template, base, values)))
    return points


def _random(templates: list[Template], axes: list[_Axis], base: Options,
            sample: models.RandomSample) -> list[tuple[int, Options, Options]]:
    generator = random.Random(sample.seed)
    points = []
    for _ in range(sample.random):
        index = generator.randrange(len(templates))
        template = templates[index]
        values = {axis.name: _draw(axis, generator) for axis in axes if template.applies(axis.name)}
        points.append((index, values, _merged(template, base, values)))
    return points


def _check_point(template: Template, options: Options, positions: Positions, values: Options) -> None:
    """Checks across options, located at the axis or option that broke them."""

    def where(name: str) -> Location:
        if name in values:
            return positions.locate(("axes", name))
        if name in template.options:
            return positions.locate(template.source + ("propose", name))
        return positions.locate(("options", name))

    window = options.get("receptive_field")
    if window is not None and not options.get("rf_relative"):
        for bound in (window["min"], window["max"]):
            if bound is not None and not isinstance(bound, int):
                raise SpecError(
                    f"receptive field {bound} is not a whole number of pixels",
                    where("receptive_field"),
                    "set `rf_relative: true` to give receptive fields as fractions of the input size",
                )
    if template.kind == "propose":
        if options.get("input_size") is None:
            raise SpecError(f"propose template `{template.name}` needs `input_size` (in `options:`, `propose:` "
                            "or an axis)", positions.locate(template.source))
        if not any(options.get(name) is not None for name in ("receptive_field", "output_size", "effective_stride")):
            raise SpecError(
                f"propose template `{template.name}` needs a target: `receptive_field`, `output_size` or "
                "`effective_stride` (in `options:`, `propose:` or an axis)",
                positions.locate(template.source),
            )
        sizes, dims = options["input_size"], options.get("dims")
        if dims is not None and len(sizes) > 1 and len(sizes) != dims:
            raise SpecError(f"input_size {sizes} has {len(sizes)} axes but dims is {dims}", where("dims"))
