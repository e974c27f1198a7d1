"""Why no design meets the target, with numbers.

For chains, the explanation comes from the reachable sets themselves: which
output sizes and strides any design can have, and which receptive fields
each of those allows. For the z3 model, an unsat core over the labelled
parts of the target names the parts that conflict, and a bounded search
gives the extreme value reachable without the part that fails.
"""

from __future__ import annotations

import time
from typing import Any

from rfdesign.solve.chain import ChainModel
from rfdesign.solve.shapes import Shape
from rfdesign.spec.target import bounds_text

MAX_SHAPES = 20_000


def _all_final_shapes(model: ChainModel) -> dict[Shape, int]:
    """Every final shape any design reaches (ignoring the target), with a bitmask of its receptive fields."""
    current: dict[Shape, int] = {model.shapes[0][0]: 1 << 1}
    for index in range(len(model.stages)):
        following: dict[Shape, int] = {}
        for shape, fields in current.items():
            for move in model.stage_moves[index]:
                result = model.transition(index, shape, move)
                if result is None:
                    continue
                new_shape, delta, _, _ = result
                following[new_shape] = following.get(new_shape, 0) | (fields << delta)
        if len(following) > MAX_SHAPES:
            break
        current = following
    return current


def _values(mask: int) -> list[int]:
    out = []
    index = 0
    while mask:
        if mask & 1:
            out.append(index)
        mask >>= 1
        index += 1
    return out


def _listing(values: list[int], limit: int = 6) -> str:
    shown = ", ".join(str(v) for v in sorted(values)[:limit])
    return shown + (", ..." if len(values) > limit else "")


def explain_chain(model: ChainModel) -> list[str]:
    """Reasons, with numbers, that no chain design meets the target."""
    reasons = []
    finals = _all_final_shapes(model)
    if not finals:
        return ["no design fits the input: some layer's output would be empty for every choice"]
    fitting = {shape: mask for shape, mask in finals.items() if model.final_ok(shape)}
    if not fitting:
        sizes = sorted({shape.size for shape in finals}, reverse=True)
        strides = sorted({shape.stride for shape in finals})
        wanted = []
        if model.size_bounds != (None, None):
            wanted.append(f"output size {bounds_text(model.size_bounds)}")
        if model.stride_bounds != (None, None):
            wanted.append(f"effective stride {bounds_text(model.stride_bounds)}")
        reasons.append(
            f"no design reaches {' and '.join(wanted)}: the reachable output sizes are {_listing(sizes)} "
            f"(effective strides {_listing(strides)}); the largest effective stride reachable is {max(strides)}"
        )
        return reasons
    low, high = model.rf_bounds
    reachable = sorted(set().union(*(_values(mask) for mask in fitting.values())))
    context = _context(model, fitting)
    if low is not None and reachable[-1] < low:
        reasons.append(
            f"the largest receptive field reachable with these choices{context} is {reachable[-1]} < {low}"
        )
    elif high is not None and reachable[0] > high:
        reasons.append(
            f"the smallest receptive field reachable with these choices{context} is {reachable[0]} > {high}"
        )
    else:
        below = [v for v in reachable if low is not None and v < low]
        above = [v for v in reachable if high is not None and v > high]
        nearest = " and ".join(str(v) for v in ([below[-1]] if below else []) + ([above[0]] if above else []))
        reasons.append(
            f"no design's receptive field falls in {bounds_text((low, high))}{context}"
            + (f": the nearest reachable are {nearest}" if nearest else "")
        )
    return reasons


def _context(model: ChainModel, fitting: dict[Shape, int]) -> str:
    if model.size_bounds == (None, None) and model.stride_bounds == (None, None):
        return ""
    sizes = sorted({shape.size for shape in fitting})
    return f" (at output size {_listing(sizes)})"


def explain_z3(model: Any, budget: float = 5.0) -> list[str]:
    """Reasons from the unsat core of the labelled target parts, with extreme reachable values."""
    import z3

    solver = model.solver
    tracked = model.tracked
    solver.set("timeout", int(budget * 1000))
    if solver.check(*tracked.values()) != z3.unsat:
        return ["the solver could not decide in time which part of the target conflicts"]
    core = {str(flag) for flag in solver.unsat_core()}
    labels = [label for label, flag in tracked.items() if str(flag) in core]
    if not labels:
        return ["no design fits the input: some layer's output would be empty for every choice"]
    reasons = [f"the conflicting parts of the target: {', '.join(labels)}"]
    targets = model.problem.targets
    for label in labels:
        if label not in ("receptive_field.min", "receptive_field.max"):
            continue
        others = [flag for name, flag in tracked.items() if name != label and str(flag) in core]
        maximise = label.endswith("min")
        found: dict[tuple[int, int], list[int]] = {}
        for axis in range(model.dims):
            bound = targets.receptive_field[axis][0 if maximise else 1]
            rf = model.receptive_field(axis)
            extreme = _extreme(solver, rf, others, maximise, budget)
            if extreme is not None and bound is not None:
                found.setdefault((extreme, bound), []).append(axis + 1)
        other_parts = [name for name in labels if name != label]
        context = f" with {', '.join(other_parts)}" if other_parts else ""
        for (extreme, bound), axes in found.items():
            where = "" if model.dims == 1 else (" along every axis" if len(axes) == model.dims else
                                                 " along axis " + ", ".join(map(str, axes)))
            if maximise:
                reasons.append(f"the largest receptive field reachable{where}{context} is {extreme} < {bound}")
            else:
                reasons.append(f"the smallest receptive field reachable{where}{context} is {extreme} > {bound}")
    return reasons


def _extreme(solver: Any, value: Any, assumptions: list[Any], maximise: bool, budget: float) -> int | None:
    """The largest (or smallest) ``value`` over designs meeting ``assumptions`` (None if not found in time)."""
    import z3

    deadline = time.monotonic() + budget
    best = None
    solver.push()
    try:
        while time.monotonic() < deadline:
            solver.set("timeout", max(1, int((deadline - time.monotonic()) * 1000)))
            if solver.check(*assumptions) != z3.sat:
                break
            best = solver.model().eval(value, model_completion=True).as_long()
            solver.add(value > best if maximise else value < best)
    finally:
        solver.pop()
    return best
