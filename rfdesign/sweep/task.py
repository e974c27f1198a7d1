"""One point, solved: the pure, idempotent task that a local pool or a Dask worker runs.

:func:`solve_point` takes a :class:`PointTask` (everything the point needs,
the spec template's text included, so a worker needs no shared files) and
returns a JSON-able result dict:

``key``, ``status`` (``optimal``, ``feasible``, ``infeasible``, ``unknown`` or
``error``), ``method``, ``time`` (seconds for the whole point), ``lower_bound``,
``message`` (the reasons of an infeasible point, the error of a bad one),
``target_rf`` (the window solved for, per axis), ``objective``, and
``proposals``: for each rank, ``params``, ``flops``, ``depth``,
``receptive_field``, ``effective_stride`` (text, exact), ``output_size``,
``rf_margin`` and ``spec`` (the filled-in spec's YAML).

A bad point (a :class:`~rfdesign.errors.SpecError`, e.g. a size the template
cannot take) is a result with status ``error``; anything else that goes wrong
is a bug and propagates, so it is retried and reported, never stored.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

from rfdesign.errors import SpecError
from rfdesign.sweep.options import Options
from rfdesign.sweep.points import Template

Result = dict[str, Any]

# one solve at a time per process: z3's default context is shared by every thread and is not thread-safe
_SOLVING = threading.Lock()


@dataclass(frozen=True)
class PointTask:
    key: str
    template: Template
    options: Options
    timeout: float
    method: str


def rf_margin(receptive_field: tuple[int, ...], bounds: Any) -> int:
    """How far the receptive field is past the window's minimum, in pixels, on the worst axis.

    Without a lower bound (or without a receptive-field target) the margin is the receptive field itself.
    """
    margins = []
    for axis, value in enumerate(receptive_field):
        low = bounds[axis][0] if bounds is not None else None
        margins.append(value - (low or 0))
    return min(margins)


def _fresh_z3_context() -> None:
    """Start the next z3 solve from a new default context.

    Among designs of equal cost, the one z3 returns depends on the terms its context already holds,
    so without this a point's answer would depend on which points its worker solved before. z3 keeps
    the default context in a module global with no public way to renew it; if that changes, points
    are still solved exactly, only ties may be broken differently from run to run.
    """
    module = sys.modules.get("z3.z3")
    if module is not None and hasattr(module, "_main_ctx"):
        module._main_ctx = None


def solve_point(task: PointTask) -> Result:
    """Solve one point (see the module docstring). Pure: the same task always gives the same result."""
    with _SOLVING:
        _fresh_z3_context()
        return _solve_point(task)


def _solve_point(task: PointTask) -> Result:
    from rfdesign.rf.report import number
    from rfdesign.solve.fill import proposal_text
    from rfdesign.solve.search import solve
    from rfdesign.sweep.request import EmptyWindow, point_problem

    start = time.monotonic()
    result: Result = {"key": task.key, "status": "error", "method": "", "time": 0.0, "lower_bound": None,
                      "message": "", "target_rf": None, "objective": None, "proposals": []}
    try:
        problem = point_problem(task.template, task.options)
    except EmptyWindow as exc:
        result.update(status="infeasible", message=exc.message + (f" ({exc.hint})" if exc.hint else ""))
        result["time"] = time.monotonic() - start
        return result
    except SpecError as exc:
        result["message"] = exc.render()
        result["time"] = time.monotonic() - start
        return result
    solved = solve(problem, timeout=task.timeout, method=task.method)
    bounds = problem.targets.receptive_field
    proposals = []
    for rank, proposal in enumerate(solved.proposals, 1):
        evaluation = proposal.evaluation
        proposals.append({
            "rank": rank,
            "params": evaluation.params,
            "flops": evaluation.flops,
            "depth": evaluation.depth,
            "receptive_field": list(evaluation.receptive_field),
            "effective_stride": [str(number(s)) for s in evaluation.effective_stride],
            "output_size": list(evaluation.output_size),
            "rf_margin": rf_margin(evaluation.receptive_field, bounds),
            "spec": proposal_text(problem, proposal.assignment, evaluation, rank),
        })
    result.update(
        status=solved.status,
        method=solved.method,
        lower_bound=solved.lower_bound,
        message="; ".join(solved.reasons) or str(solved.stats.get("note", "")),
        target_rf=[list(pair) for pair in bounds] if bounds is not None else None,
        objective=problem.objective,
        proposals=proposals,
    )
    result["time"] = time.monotonic() - start
    return result
