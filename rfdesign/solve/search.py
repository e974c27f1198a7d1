"""Finding the best designs: the stage dynamic program where it applies, z3 everywhere else.

:func:`solve` returns a :class:`SolveResult` whose ``status`` is

* ``optimal``: the proposals are the best designs that meet the target and
  pass the forbidden rules, proven (by the exhaustive dynamic program, or by
  z3 finding no cheaper design);
* ``feasible``: such designs were found, but the time ran out before the
  proof; ``lower_bound`` is the best proven bound;
* ``infeasible``: no design meets the target and the rules; ``reasons`` say
  why, with numbers;
* ``unknown``: the time ran out before anything was found or refuted.

Every proposal is re-analysed by the RF engine and reviewed before it is
returned; if the engine disagrees with a model about the target or the
objective, that is a bug and raises :class:`SolverModelError`. A rule the
review reports is not a bug: the models know the rules only as pruning, and
such a design is set aside (z3 learns a clause that excludes it, and every
design sharing the prefix that breaks the rule).

When the target itself makes a default rule impossible, :func:`solve` says
so in ``relaxed`` and solves without it; rules the user forbade by name are
never relaxed. The deadline covers everything, model building included.

Progress goes to an optional callback (the library never prints).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from rfdesign.errors import RfDesignError
from rfdesign.solve.chain import INF, ChainModel, why_not_chain
from rfdesign.solve.problem import Assignment, Evaluation, Problem
from rfdesign.solve.rules import DEFAULT_FORBID


class SolverModelError(RfDesignError):
    """The solver's model and the RF engine disagree about a design (a bug)."""


class Cancelled(RfDesignError):
    """The caller asked the solve to stop (see ``should_stop``)."""


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
    #: what `rfdesign check` still reports on the design (warnings and errors of rules not forbidden)
    reported: tuple[Any, ...] = ()


@dataclass
class SolveResult:
    status: str
    proposals: list[Proposal] = field(default_factory=list)
    lower_bound: int | None = None
    reasons: list[str] = field(default_factory=list)
    method: str = ""
    elapsed: float = 0.0
    stats: dict[str, Any] = field(default_factory=dict)
    #: default rules the target makes impossible, each with the reason (the proposals may break them)
    relaxed: list[tuple[str, str]] = field(default_factory=list)
    #: the problem the proposals solve (with the relaxed rules taken out)
    problem: Problem | None = None
    #: what ``--explain`` adds: what each rule and each choice costs, or the smallest relaxation
    explanation: list[str] = field(default_factory=list)


ProgressCallback = Callable[[Progress], None]


def _check(problem: Problem, assignment: Assignment, expected: int | None) -> Evaluation:
    """The engine's evaluation of a model's design: the target must hold and the cost agree."""
    evaluation = problem.evaluate(assignment)
    if evaluation.misses_target:
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
    """Find the ``problem.top_k`` cheapest designs that meet the target and the rules (see the module docstring).

    ``method`` is ``auto`` (the dynamic program where it applies, else z3), ``dp`` or ``z3``.
    """
    start = time.monotonic()
    deadline = start + timeout
    reason = why_not_chain(problem)
    if method == "dp" and reason is not None:
        raise RfDesignError(f"the chain model does not apply: {reason}")
    use_dp = reason is None and method in ("auto", "dp")
    relaxed: list[tuple[str, str]] = []
    current = problem
    for code, why in _forced_by_target(problem):
        current = current.with_rules(current.rules.without(code, why))
        relaxed.append((code, why))
    result = _run(current, deadline, progress, accelerate, use_dp, start)
    while result.status == "infeasible" and time.monotonic() < deadline:
        candidates = [code for code in reversed(DEFAULT_FORBID) if code in current.rules
                      and code not in current.rules.explicit]  # fmt: skip
        if not candidates:
            break
        found = None
        for code in candidates:  # a rule that alone makes the target impossible is forced by it
            alone = current.with_rules(_only(current, code))
            trial = _run(alone, deadline, None, accelerate, use_dp, start)
            if trial.status == "infeasible":
                found = (code, f"no design that meets the target passes {code}")
                break
        if found is None:  # only together: give up the least important rule first
            code = candidates[0]
            others = ", ".join(c for c in current.rules.forbid if c != code)
            found = (code, f"no design that meets the target passes {code} together with {others}")
        current = current.with_rules(current.rules.without(*found))
        relaxed.append(found)
        result = _run(current, deadline, progress, accelerate, use_dp, start)
    if reason is not None and not use_dp:
        result.stats["why_not_dp"] = reason
    result.proposals = [replace(p, reported=_reported(current, p)) for p in result.proposals]
    result.relaxed = relaxed
    result.problem = current
    result.elapsed = time.monotonic() - start
    return result


def _reported(problem: Problem, proposal: Proposal) -> tuple[Any, ...]:
    """The review's warnings and errors on a proposal for the rules it was not held to (e.g. RF109)."""
    from rfdesign.review.rule import all_rules
    from rfdesign.review.runner import review

    analysis = proposal.evaluation.analysis
    config = problem.rules.config
    skipped = set(problem.rules.forbid) | {code for code, _ in problem.rules.relaxed}
    chosen = tuple(code for code in all_rules() if config.enabled(code) and code not in skipped)
    if not chosen:
        return ()
    result = review(analysis.graph, replace(config, select=chosen), analysis)
    return tuple(f for f in result.findings if f.severity in ("warning", "error"))


def _only(problem: Problem, code: str) -> Any:
    from rfdesign.solve.rules import RuleSet

    rules = problem.rules
    return RuleSet((code,), rules.explicit & {code}, rules.config, rules.relaxed)


def _forced_by_target(problem: Problem) -> list[tuple[str, str]]:
    """Default rules the target alone breaks, found without search (each with the reason, in numbers)."""
    rules = problem.rules
    found = []
    bounds = problem.targets.receptive_field
    if "RF108" in rules and "RF108" not in rules.explicit and bounds is not None:
        factor = rules.config.options["rf_beyond_factor"]
        for (low, _), n in zip(bounds, problem.graph.input_size):
            if low is not None and low > factor * n:
                found.append(("RF108", f"the target's receptive field (at least {low}) is more than {factor:g}x "
                                       f"the input ({n})"))  # fmt: skip
                break
    return found


def _run(
    problem: Problem, deadline: float, progress: ProgressCallback | None, accelerate: bool, use_dp: bool, start: float
) -> SolveResult:
    if use_dp:
        return _solve_chain(problem, deadline, progress, accelerate, start)
    return _solve_z3(problem, deadline, progress, start)


# -- the chain path ---------------------------------------------------------------------------------


def _solve_chain(
    problem: Problem, deadline: float, progress: ProgressCallback | None, accelerate: bool, start: float
) -> SolveResult:
    from rfdesign.solve.explain import explain_chain
    from rfdesign.solve.prune import PrefixChecker

    model = ChainModel(problem)
    togo = model.togo(accelerate)
    bound = int(togo[0][0][0])
    stats: dict[str, Any] = {"states": sum(len(s) for s in model.shapes), "stages": len(model.stages)}
    if bound >= INF:
        return SolveResult("infeasible", reasons=explain_chain(model), method="dp", stats=stats)
    checker = PrefixChecker(model) if problem.rules.forbid else None
    proposals: list[Proposal] = []
    examined = rejected = 0
    broken: dict[str, int] = {}
    for cost, moves in model.best(togo, deadline, checker):
        examined += 1
        assignment = model.assignment(moves)
        evaluation = _check(problem, assignment, cost)
        if evaluation.findings:
            rejected += 1
            for finding in evaluation.findings:
                broken[finding.code] = broken.get(finding.code, 0) + 1
            continue
        proposals.append(Proposal(assignment, evaluation))
        if progress is not None:
            best = proposals[0].evaluation.objective
            progress(Progress(time.monotonic() - start, len(proposals), best, bound, f"design {len(proposals)}"))
        if len(proposals) >= problem.top_k:
            break
    timed_out = len(proposals) < problem.top_k and time.monotonic() > deadline
    stats.update(designs_examined=examined, designs_rejected=rejected,
                 prefixes_checked=checker.checked if checker else 0)  # fmt: skip
    if not proposals:
        if timed_out:
            return SolveResult("unknown", lower_bound=bound, method="dp", stats=stats)
        rules = ", ".join(problem.rules.forbid)
        reasons = [f"designs meet the target (the cheapest costs {bound:,}), but none passes the rules {rules}"]
        if broken:
            reasons.append("broken by the designs reviewed last: " + ", ".join(f"{c} ({n})" for c, n in broken.items()))
        return SolveResult("infeasible", reasons=reasons, method="dp", stats=stats)
    if timed_out:
        stats["note"] = f"the time ran out after {len(proposals)} of {problem.top_k} designs"
    # designs come out in cost order from an exhaustive search: the first is proven optimal
    return SolveResult("optimal", proposals, proposals[0].evaluation.objective, method="dp", stats=stats)


# -- the z3 path -------------------------------------------------------------------------------------


def _solve_z3(problem: Problem, deadline: float, progress: ProgressCallback | None, start: float) -> SolveResult:
    import z3

    from rfdesign.solve.explain import explain_z3
    from rfdesign.solve.z3model import NoDesign, Timeout, Z3Model

    try:
        model = Z3Model(problem, deadline)
    except NoDesign as reason:
        return SolveResult("infeasible", reasons=[str(reason)], method="z3")
    except Timeout:
        return SolveResult("unknown", method="z3", stats={"note": "the time ran out while building the model"})
    solver = model.solver
    assumptions = list(model.tracked.values())
    lower = model.trivial_bound()
    proposals: list[Proposal] = []
    stats: dict[str, Any] = {"z3_calls": 0, "clauses_learnt": 0}

    def check(*extra: Any, budget: float | None = None) -> Any:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return z3.unknown
        if budget is not None:
            remaining = min(remaining, budget)
        solver.set("timeout", max(1, int(remaining * 1000)))
        stats["z3_calls"] += 1
        return solver.check(*assumptions, *extra)

    def report(message: str, low: int) -> None:
        if progress is not None:
            best = proposals[0].evaluation.objective if proposals else None
            progress(Progress(time.monotonic() - start, len(proposals), best, low, message))

    def find(*extra: Any, budget: float | None = None) -> tuple[Any, Assignment | None, Evaluation | None]:
        """A design under ``extra`` that passes the rules: (answer, assignment, evaluation)."""
        while True:
            answer = check(*extra, budget=budget)
            if answer != z3.sat:
                return answer, None, None
            current = solver.model()
            assignment = model.assignment(current)
            cost = int(current.eval(model.cost, model_completion=True).as_long())
            evaluation = _check(problem, assignment, cost)
            if not evaluation.findings:
                return answer, assignment, evaluation
            solver.add(model.nogood(assignment, evaluation))
            stats["clauses_learnt"] += 1

    def descend(found: Assignment, evaluation: Evaluation, low: int) -> tuple[Assignment, Evaluation, int, bool]:
        """The cheapest design from a known one and a lower bound: bisect with short probes, else step down."""
        best = evaluation.objective
        while best > low:
            report(f"best {best}, bound {low}", low)
            probe = (low + best - 1) // 2
            answer, assignment, result = find(model.cost <= probe, budget=max(0.25, 0.1 * (deadline - time.monotonic())))
            if assignment is not None:
                found, evaluation, best = assignment, result, result.objective  # type: ignore[union-attr]
                continue
            if answer == z3.unsat:
                low = probe + 1
                continue
            answer, assignment, result = find(model.cost < best)  # the probe was too hard: one step down
            if assignment is not None:
                found, evaluation, best = assignment, result, result.objective  # type: ignore[union-attr]
            elif answer == z3.unsat:
                low = best
            else:
                return found, evaluation, low, False
        return found, evaluation, low, True

    answer, found, evaluation = find()
    if found is None:
        if answer == z3.unsat:
            reasons = explain_z3(model) if not stats["clauses_learnt"] else [
                f"designs meet the target, but none passes the rules {', '.join(problem.rules.forbid)} "
                f"({stats['clauses_learnt']} excluded)"
            ]
            return SolveResult("infeasible", reasons=reasons, method="z3", stats=stats)
        return SolveResult("unknown", lower_bound=lower, method="z3", stats=stats)
    assert evaluation is not None
    proven = first_proven = False
    while len(proposals) < problem.top_k:
        found, evaluation, lower, proven = descend(found, evaluation, lower)
        proposals.append(Proposal(found, evaluation))
        first_proven = first_proven or (proven and len(proposals) == 1)
        if not proven:
            if len(proposals) > 1:
                stats["note"] = f"the time ran out before design {len(proposals)} was proven next best"
            break
        solver.add(model.block(found))
        if len(proposals) >= problem.top_k:
            break
        answer, following, result = find()
        if following is None:
            proven = answer == z3.unsat  # no other design at all
            break
        found, evaluation = following, result  # type: ignore[assignment]
    best = proposals[0].evaluation.objective
    if first_proven:
        return SolveResult("optimal", proposals, best, method="z3", stats=stats)
    return SolveResult("feasible", proposals, min(lower, best), method="z3", stats=stats)
