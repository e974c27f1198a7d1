"""Finding the best designs: the chain DP where it applies, z3 everywhere else.

:func:`solve` returns a :class:`SolveResult` whose ``status`` is

* ``optimal``: the proposals are the best designs, proven (by the exhaustive
  dynamic program, or by z3 finding no cheaper design);
* ``feasible``: designs that meet the target were found, but the time ran out
  before the proof; ``lower_bound`` is the best proven bound;
* ``infeasible``: no design meets the target; ``reasons`` say why, with numbers;
* ``unknown``: the time ran out before anything was found or refuted.

Every proposal is re-analysed by the RF engine before it is returned; if the
engine disagrees with the model, that is a bug and raises
:class:`SolverModelError`.

Progress goes to an optional callback (the library never prints).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rfdesign.errors import RfDesignError
from rfdesign.solve.chain import INF, ChainModel, why_not_chain
from rfdesign.solve.problem import Assignment, Evaluation, Problem


class SolverModelError(RfDesignError):
    """The solver's model and the RF engine disagree about a design (a bug)."""


@dataclass(frozen=True)
class Progress:
    """A progress report during a long solve."""

    elapsed: float
    found: int
    best: int | None
    bound: int | None
    message: str


@dataclass(frozen=True)
class Proposal:
    assignment: Assignment
    evaluation: Evaluation


@dataclass
class SolveResult:
    status: str
    proposals: list[Proposal] = field(default_factory=list)
    lower_bound: int | None = None
    reasons: list[str] = field(default_factory=list)
    method: str = ""
    elapsed: float = 0.0
    stats: dict[str, Any] = field(default_factory=dict)


ProgressCallback = Callable[[Progress], None]


def _check(problem: Problem, assignment: Assignment, expected: int | None) -> Evaluation:
    evaluation = problem.evaluate(assignment)
    if not evaluation.meets_target:
        raise SolverModelError(
            f"the solver proposed a design the RF engine rejects: {'; '.join(evaluation.violations)}"
        )
    if expected is not None and evaluation.objective != expected:
        raise SolverModelError(
            f"the solver's {problem.objective} ({expected}) differs from the engine's ({evaluation.objective})"
        )
    return evaluation


def solve(
    problem: Problem,
    timeout: float = 60.0,
    progress: ProgressCallback | None = None,
    accelerate: bool = True,
    method: str = "auto",
) -> SolveResult:
    """Find the ``problem.top_k`` cheapest designs that meet the target (see the module docstring).

    ``method`` is ``auto`` (the chain DP where it applies, else z3), ``dp`` or ``z3``.
    """
    start = time.monotonic()
    deadline = start + timeout
    reason = why_not_chain(problem)
    if method == "dp" and reason is not None:
        raise RfDesignError(f"the chain model does not apply: {reason}")
    if reason is None and method in ("auto", "dp"):
        result = _solve_chain(problem, deadline, progress, accelerate)
    else:
        result = _solve_z3(problem, deadline, progress, start)
        if reason is not None:
            result.stats["why_not_dp"] = reason
    result.elapsed = time.monotonic() - start
    return result


# -- the chain path ---------------------------------------------------------------------------------


def _solve_chain(problem: Problem, deadline: float, progress: ProgressCallback | None, accelerate: bool) -> SolveResult:
    from rfdesign.solve.explain import explain_chain

    model = ChainModel(problem)
    togo = model.togo(accelerate)
    optimum = int(togo[0][0][0])
    if optimum >= INF:
        return SolveResult("infeasible", reasons=explain_chain(model), method="dp")
    # designs come out in cost order, so filtering by a rule the DP does not model keeps them exact
    filtered = bool(problem.constraints.get("no_gridding"))
    proposals: list[Proposal] = []
    examined = 0
    for cost, moves in model.best(togo, deadline):
        examined += 1
        assignment = model.assignment(moves)
        if filtered:
            evaluation = problem.evaluate(assignment)
            if not evaluation.meets_target:
                continue
            if evaluation.objective != cost:
                raise SolverModelError(f"the chain model's cost {cost} differs from the engine's {evaluation.objective}")
        else:
            evaluation = _check(problem, assignment, cost)
        proposals.append(Proposal(assignment, evaluation))
        if progress is not None:
            progress(Progress(0.0, len(proposals), proposals[0].evaluation.objective, optimum, f"design {len(proposals)}"))
        if len(proposals) >= problem.top_k:
            break
    timed_out = len(proposals) < problem.top_k and time.monotonic() > deadline
    stats: dict[str, Any] = {"designs_examined": examined, "states": sum(len(s) for s in model.shapes)}
    if not proposals:
        if timed_out:
            return SolveResult("unknown", lower_bound=optimum, method="dp", stats=stats)
        reasons = [f"every design that meets the target breaks no_gridding ({examined} examined)"]
        return SolveResult("infeasible", reasons=reasons, method="dp", stats=stats)
    if timed_out:
        stats["note"] = f"the time ran out after {len(proposals)} of {problem.top_k} designs"
    # each design came out in cost order from an exhaustive search: the first is proven optimal
    return SolveResult("optimal", proposals, proposals[0].evaluation.objective, method="dp", stats=stats)


# -- the z3 path -------------------------------------------------------------------------------------


def _solve_z3(problem: Problem, deadline: float, progress: ProgressCallback | None, start: float) -> SolveResult:
    import z3

    from rfdesign.solve.explain import explain_z3
    from rfdesign.solve.z3model import NoDesign, Z3Model

    try:
        model = Z3Model(problem)
    except NoDesign as reason:
        return SolveResult("infeasible", reasons=[str(reason)], method="z3")
    solver = model.solver
    assumptions = list(model.tracked.values())
    lower = _trivial_bound(problem)
    proposals: list[Proposal] = []
    calls = 0
    def check(*extra: Any, budget: float | None = None) -> Any:
        nonlocal calls
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return z3.unknown
        if budget is not None:
            remaining = min(remaining, budget)
        solver.set("timeout", max(1, int(remaining * 1000)))
        calls += 1
        return solver.check(*assumptions, *extra)

    def report(message: str) -> None:
        if progress is not None:
            best = proposals[0].evaluation.objective if proposals else None
            progress(Progress(time.monotonic() - start, len(proposals), best, lower, message))

    def take_model() -> tuple[Assignment, int]:
        current = solver.model()
        return model.assignment(current), int(current.eval(model.cost, model_completion=True).as_long())

    def descend(found: Assignment, best: int, low: int) -> tuple[Assignment, int, bool]:
        """The cheapest design, from a known one and a lower bound: bisect with short probes, else step down."""
        while best > low:
            report(f"best {best}, bound {low}")
            probe = (low + best - 1) // 2
            answer = check(model.cost <= probe, budget=max(0.25, 0.1 * (deadline - time.monotonic())))
            if answer == z3.sat:
                found, best = take_model()
                continue
            if answer == z3.unsat:
                low = probe + 1
                continue
            answer = check(model.cost < best)  # the probe was too hard: one step down, with all the time left
            if answer == z3.sat:
                found, best = take_model()
            elif answer == z3.unsat:
                low = best
            else:
                return found, best, False
        return found, best, True

    answer = check()
    if answer == z3.unsat:
        return SolveResult("infeasible", reasons=explain_z3(model), method="z3", stats={"z3_calls": calls})
    if answer != z3.sat:
        return SolveResult("unknown", method="z3", stats={"z3_calls": calls})
    found, best_cost = take_model()
    proven = False
    while len(proposals) < problem.top_k:
        found, best_cost, proven = descend(found, best_cost, lower)
        proposals.append(Proposal(found, _check(problem, found, best_cost)))
        if not proven:
            break
        lower = best_cost
        solver.add(model.block(found))
        if len(proposals) >= problem.top_k:
            break
        answer = check()
        if answer != z3.sat:
            proven = answer == z3.unsat  # no other design at all
            break
        found, best_cost = take_model()
    status = "optimal" if proven else "feasible"
    stats = {"z3_calls": calls}
    return SolveResult(status, proposals, lower, method="z3", stats=stats)


def _trivial_bound(problem: Problem) -> int:
    """A lower bound on the objective that needs no search: every layer at its cheapest."""
    from rfdesign.solve.problem import channel_counts, weights

    if problem.objective != "params":
        return 0  # multiply-adds depend on sizes; zero is the only bound without search
    channels = channel_counts(problem.graph)
    total = 0
    for name in problem.design:
        node = problem.graph.nodes[name]
        if name in problem.optional:
            continue
        if node.op == "norm" and node.attrs.affine:
            total += 2 * channels[node.inputs[0]]
        if node.op == "conv":
            kernels = [problem.options(name, "kernel", axis) for axis in range(problem.dims)]
            total += weights(node, tuple(min(k) for k in kernels), channels[node.inputs[0]])
    return total
