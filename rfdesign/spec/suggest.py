"""Nearest-name suggestions for typos ("did you mean ...?")."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def nearest(word: str, candidates: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The candidate closest to ``word``, or None if nothing is close enough."""
    pool = [c for c in candidates if isinstance(c, str)]
    matches = difflib.get_close_matches(str(word), pool, n=1, cutoff=cutoff)
    if matches:
        return matches[0]
    lowered = {c.lower(): c for c in pool}
    return lowered.get(str(word).lower())


def did_you_mean(word: str, candidates: Iterable[str], cutoff: float = 0.6) -> str | None:
    """A hint string ``did you mean `x`?`` or None."""
    match = nearest(word, candidates, cutoff)
    return f"did you mean `{match}`?" if match is not None else None
