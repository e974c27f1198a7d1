"""A design rule: code, name, default severity, documentation, and its check.

Each rule lives in its own module under :mod:`rfdesign.review.rules` and
registers itself with :func:`rule`. The documentation fields are the single
source for ``rfdesign rule CODE`` and for docs/rules/CODE.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rfdesign.review.context import ReviewContext
    from rfdesign.review.finding import Finding

Check = Callable[["ReviewContext"], "Iterator[Finding]"]


@dataclass(frozen=True)
class Rule:
    """A rule's identity and documentation, and the function that applies it."""

    code: str
    name: str
    severity: str
    summary: str
    why: str
    example: str
    fix: str
    check: Check
    options: tuple[tuple[str, str], ...] = ()  # (option, meaning) read from `review.options`


REGISTRY: dict[str, Rule] = {}


def rule(
    code: str,
    name: str,
    severity: str,
    summary: str,
    why: str,
    example: str,
    fix: str,
    options: tuple[tuple[str, str], ...] = (),
) -> Callable[[Check], Check]:
    """Register the decorated check function as rule ``code``."""

    def register(check: Check) -> Check:
        if code in REGISTRY:
            raise ValueError(f"rule {code} registered twice")
        REGISTRY[code] = Rule(code, name, severity, summary, why.strip(), example.strip(), fix.strip(), check, options)
        return check

    return register


def all_rules() -> dict[str, Rule]:
    """Every rule, by code, in code order (importing the rule modules on first use)."""
    import rfdesign.review.rules  # noqa: F401 - registers the rules

    return dict(sorted(REGISTRY.items()))
