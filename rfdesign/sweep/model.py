"""The sweep file: pydantic models, and loading with located errors.

A sweep file names one or more templates (a spec with holes, or the options
of `rfdesign propose`), options shared by every point, axes to vary, and how
to sample them (every combination, or N seeded random points). docs/sweep.md
describes the format; :func:`load_sweep` turns a file into a validated
:class:`~rfdesign.sweep.points.Sweep`.

Errors are :class:`~rfdesign.errors.SpecError` with file:line:col, made by
the spec loader's own helper (:func:`rfdesign.spec.expand.validation_error`).
"""

from __future__ import annotations

import re
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, ValidationError

from rfdesign.errors import SpecError
from rfdesign.spec.expand import validation_error
from rfdesign.spec.yamlload import Positions, load_yaml

Path = tuple[Any, ...]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class TemplateEntry(_Strict):
    """One template: ``spec:`` a spec file with holes (relative to the sweep file), or ``propose:`` options."""

    name: str | None = Field(None, description="the template's name in the table; default: the spec's file stem")
    spec: str | None = Field(None, description="a spec with {choose: ...} holes, relative to the sweep file")
    propose: dict[str, Any] | None = Field(None, description="options of a `rfdesign propose` template")


class RandomSample(_Strict):
    """``sample: {random: N, seed: S}``: N points drawn with a seeded generator."""

    random: StrictInt = Field(ge=1, le=1_000_000)
    seed: StrictInt = 0


class AxisRange(_Strict):
    """``{from: a, to: b, step: s}`` or ``{from: a, to: b, count: n, scale: log}``."""

    from_: StrictInt | StrictFloat = Field(alias="from")
    to: StrictInt | StrictFloat
    step: StrictInt | StrictFloat | None = Field(None, gt=0)
    count: StrictInt | None = Field(None, ge=1)
    scale: Literal["linear", "log"] = "linear"


class SweepFile(_Strict):
    """The whole sweep file (sub-objects are validated by their own models, for precise messages)."""

    name: str | None = None
    description: str | None = None
    template: Any = None
    templates: list[Any] | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    axes: dict[str, Any] = Field(default_factory=dict)
    sample: Any = "grid"
    timeout: StrictInt | StrictFloat = Field(60, gt=0, description="seconds each point may take")
    method: Literal["auto", "dp", "z3"] = "auto"


def validate(model: type[BaseModel], data: Any, base: Path, positions: Positions) -> Any:
    """``model.model_validate(data)``, with errors located in the sweep file."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, base, positions, model) from None


# YAML 1.1 reads `4:16` as the base-60 integer 256; in a sweep file it can only mean the range 4 to 16
_SEXAGESIMAL = re.compile(r"^[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?$")


def load_sweep_data(text: str, file: str) -> tuple[Any, Positions]:
    """Load a sweep file safely, with positions, reading ``4:16`` as the text it is."""
    data, positions = load_yaml(text, file)
    written: dict[tuple[int, int], str] = {}
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.ScalarEvent) and event.style is None and _SEXAGESIMAL.match(event.value):
            written[(event.start_mark.line + 1, event.start_mark.column + 1)] = event.value
    if not written:
        return data, positions

    def restore(value: Any, path: Path) -> Any:
        if isinstance(value, dict):
            return {key: restore(item, path + (key,)) for key, item in value.items()}
        if isinstance(value, list):
            return [restore(item, path + (index,)) for index, item in enumerate(value)]
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            where = positions.locate(path)
            return written.get((where.line or 0, where.column or 0), value)
        return value

    return restore(data, ()), positions


def check_mapping(data: Any, positions: Positions) -> None:
    """The top level is a mapping naming its template(s) one way."""
    if not isinstance(data, dict):
        raise SpecError(
            "a sweep file must be a mapping with `template:` (or `templates:`) and `axes:`",
            positions.locate(()),
            "see docs/sweep.md for an example",
        )
    if data.get("template") is None and data.get("templates") is None:
        raise SpecError(
            "the sweep file names no template",
            positions.locate(()),
            "add `template: {propose: {...}}` or `template: {spec: head.yaml}` (or a `templates:` list)",
        )
    if data.get("template") is not None and data.get("templates") is not None:
        raise SpecError("give either `template:` or `templates:`, not both", positions.locate_key(("templates",)))
