"""What every importer needs to make nodes: unique names and typed attributes."""

from __future__ import annotations

from typing import Any

from rfdesign.spec.graph import Attrs


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


def imported_attrs(op: str, dims: int, values: dict[str, Any]) -> Attrs:
    """An op's typed attributes from an importer's keyword values (``pool_mode`` is the op's for pools).

    Unknown keys are a TypeError: a misspelt attribute fails loudly instead of being dropped.
    """
    from rfdesign import ops

    values = dict(values)
    mode = values.pop("pool_mode", None)
    if op == ops.GLOBAL_POOL and mode is not None:
        values["mode"] = mode
    return ops.op_for(op).make(dims, **values)
