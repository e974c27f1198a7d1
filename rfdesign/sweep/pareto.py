"""Non-dominated designs: the Pareto front over two or three objectives.

A design *dominates* another when it is at least as good in every objective
and better in one. ``params``, ``flops`` and ``depth`` are minimised;
``rf_margin`` (receptive field past the target's minimum) is maximised, so it
is negated before comparing. Designs with equal objective vectors do not
dominate each other: all of them are on the front.

:func:`non_dominated` sorts once and sweeps (O(n log n) for two objectives,
O(n * front) for three); :class:`Front` keeps a front up to date as results
arrive, for the progress line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import groupby
from typing import Any

#: objective -> +1 (minimised) or -1 (maximised)
SENSES: dict[str, int] = {"params": 1, "flops": 1, "depth": 1, "rf_margin": -1}

Vector = tuple[float, ...]


def parse_objectives(text: str) -> tuple[str, ...]:
    """``"params,flops"`` as a tuple of 2 or 3 known objectives; ValueError says what is wrong."""
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [name for name in names if name not in SENSES]
    if unknown:
        raise ValueError(f"unknown objective {unknown[0]!r} (objectives: {', '.join(SENSES)})")
    if not 2 <= len(names) <= 3 or len(set(names)) != len(names):
        raise ValueError(
            f"give 2 or 3 different objectives, such as params,flops or params,flops,rf_margin; got {text!r}"
        )
    return names


def oriented(row: Mapping[str, Any], objectives: Sequence[str]) -> Vector:
    """The row's objectives, each turned so that smaller is better."""
    return tuple(SENSES[name] * row[name] for name in objectives)


def dominates(a: Vector, b: Vector) -> bool:
    """Whether ``a`` is no worse than ``b`` everywhere and better somewhere (smaller is better)."""
    return all(x <= y for x, y in zip(a, b)) and a != b


def non_dominated(vectors: Sequence[Vector]) -> list[int]:
    """Indices (ascending) of the vectors that no other vector dominates; smaller is better everywhere."""
    if not vectors:
        return []
    order = sorted(range(len(vectors)), key=lambda i: vectors[i])
    kept: list[int] = []
    if len(vectors[0]) == 2:
        # in lexicographic order, only an earlier vector can dominate a later one, and it does exactly
        # when its second objective is no larger: track the smallest second objective seen so far
        best: float | None = None
        for vector, group in groupby(order, key=lambda i: vectors[i]):
            members = list(group)
            if best is None or vector[1] < best:
                kept.extend(members)
                best = vector[1]
        return sorted(kept)
    front: list[Vector] = []
    for vector, group in groupby(order, key=lambda i: vectors[i]):
        members = list(group)
        # a dominated vector is dominated by some front member (dominance is transitive)
        if not any(dominates(other, vector) for other in front):
            front.append(vector)
            kept.extend(members)
    return sorted(kept)


class Front:
    """A Pareto front that grows one design at a time (duplicates count, as in :func:`non_dominated`)."""

    def __init__(self) -> None:
        self.members: list[Vector] = []

    def add(self, vector: Vector) -> None:
        if any(dominates(other, vector) for other in self.members):
            return
        self.members = [other for other in self.members if not dominates(vector, other)]
        self.members.append(vector)

    def __len__(self) -> int:
        return len(self.members)
