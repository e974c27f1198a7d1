"""Unique node names for importers."""

from __future__ import annotations


def unique_name(wanted: str, used: set[str]) -> str:
    """``wanted`` (or ``node``), suffixed ``_2``, ``_3`` ... until it is not in ``used``; records it."""
    name = wanted or "node"
    if name not in used:
        used.add(name)
        return name
    k = 2
    while f"{name}_{k}" in used:
        k += 1
    used.add(f"{name}_{k}")
    return f"{name}_{k}"
