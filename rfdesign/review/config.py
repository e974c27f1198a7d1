"""Which rules run, at which severity, with which options.

Settings come from a spec's ``review:`` mapping and from the command line
(which wins), in the manner of ruff: codes may be prefixes (``RF1`` selects
RF100-RF199), ``ignore`` beats ``select``.

```yaml
review:
  select: [RF1]            # default: every rule
  ignore: [RF110]
  severity: {RF106: warning}
  options: {rf_beyond_factor: 3, min_rf: 200}
```
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from rfdesign.errors import Location, SpecError
from rfdesign.review.finding import SEVERITIES
from rfdesign.spec.suggest import did_you_mean

DEFAULT_OPTIONS: dict[str, Any] = {
    "min_rf": None,  # RF101 when the spec has no target
    "rf_beyond_factor": 2,  # RF108
    "border_fraction": 0.5,  # RF109: a unit is border-dominated above this share of padding
    "border_units": 0.5,  # RF109: fire when more than this share of units is border-dominated
    "min_saving": 0.2,  # RF110: report alternatives that save at least this share of parameters
}


@dataclass(frozen=True)
class ReviewConfig:
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    severity: dict[str, str] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_OPTIONS))

    def enabled(self, code: str) -> bool:
        if any(code.startswith(prefix) for prefix in self.ignore):
            return False
        return not self.select or any(code.startswith(prefix) for prefix in self.select)

    def severity_of(self, code: str, default: str) -> str:
        return self.severity.get(code, default)

    def merged(
        self,
        select: tuple[str, ...] = (),
        ignore: tuple[str, ...] = (),
        options: dict[str, Any] | None = None,
    ) -> ReviewConfig:
        """These settings overridden by the command line's."""
        new_options = dict(self.options)
        new_options.update({k: v for k, v in (options or {}).items() if v is not None})
        return replace(
            self,
            select=select or self.select,
            ignore=tuple(self.ignore) + tuple(ignore),
            options=new_options,
        )


def parse_codes(value: Any, what: str, known: list[str], location: Location | None = None) -> tuple[str, ...]:
    """Rule codes or code prefixes; each must match at least one known rule."""
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SpecError(f"{what} must be a list of rule codes such as [RF101, RF2]", location)
    for code in value:
        if not any(k.startswith(code) for k in known):
            raise SpecError(f"{what}: no rule matches {code!r}", location, did_you_mean(code, known))
    return tuple(value)


def config_from_spec(
    settings: dict[str, Any] | None, known_codes: list[str], locate: Callable[[tuple[Any, ...]], Location]
) -> ReviewConfig:
    """Parse a spec's ``review:`` mapping; errors point at the offending key."""
    settings = settings or {}
    allowed = {"select", "ignore", "severity", "options"}
    for key in settings:
        if key not in allowed:
            raise SpecError(
                f"unknown key `review.{key}`", locate(("review", key)), did_you_mean(str(key), sorted(allowed))
            )
    severity = settings.get("severity", {}) or {}
    if not isinstance(severity, dict):
        raise SpecError("`review.severity` must map rule codes to error, warning or info", locate(("review", "severity")))
    for code, level in severity.items():
        here = locate(("review", "severity", code))
        if code not in known_codes:
            raise SpecError(f"`review.severity`: unknown rule {code!r}", here, did_you_mean(str(code), known_codes))
        if level not in SEVERITIES:
            raise SpecError(f"`review.severity.{code}` must be one of {', '.join(SEVERITIES)}, got {level!r}", here)
    options = dict(DEFAULT_OPTIONS)
    raw_options = settings.get("options", {}) or {}
    if not isinstance(raw_options, dict):
        raise SpecError("`review.options` must be a mapping", locate(("review", "options")))
    for key, value in raw_options.items():
        here = locate(("review", "options", key))
        if key not in DEFAULT_OPTIONS:
            raise SpecError(f"unknown option `review.options.{key}`", here, did_you_mean(str(key), list(DEFAULT_OPTIONS)))
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
            raise SpecError(f"`review.options.{key}` must be a number >= 0, got {value!r}", here)
        options[key] = value
    return ReviewConfig(
        select=parse_codes(settings.get("select", []), "`review.select`", known_codes, locate(("review", "select"))),
        ignore=parse_codes(settings.get("ignore", []), "`review.ignore`", known_codes, locate(("review", "ignore"))),
        severity=dict(severity),
        options=options,
    )
