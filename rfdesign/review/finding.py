"""What a design check reports: a located finding with a code, numbers and a fix."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rfdesign.errors import Location

SEVERITIES = ("error", "warning", "info")


@dataclass(frozen=True)
class Finding:
    """One problem found in one spec.

    ``location`` is the YAML line:col of the layer concerned (or of the
    spec's input/target for whole-network findings); ``data`` carries the
    numbers of the message for machines.
    """

    code: str
    name: str
    severity: str
    message: str
    location: Location
    layer: str | None = None
    fix: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def sort_key(self) -> tuple[Any, ...]:
        return (self.location.file, self.location.line or 0, self.location.column or 0, self.code)
