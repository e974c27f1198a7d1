"""The solver against exhaustive enumeration, on hundreds of small random problems.

The oracle keeps its own description of each random template, writes every
filled-in network as spec text, lets the RF engine say whether it meets
the target and what it costs, and `rfdesign check`'s review whether it
passes the rules the template forbids; it shares no code with the solvers.
The solver's optimum must equal the enumerated one, and its top k must be k
distinct designs whose costs are the k smallest of the enumeration. Chains
and residual DAGs are solved both by the dynamic program and by the z3 model.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rfdesign.errors import SpecError
from rfdesign.review.config import ReviewConfig
from rfdesign.review.runner import review
from rfdesign.rf import analyze
from rfdesign.solve.problem import build_problem
from rfdesign.solve.search import solve
from rfdesign.spec import parse_spec

#: the rules a template may forbid (the warning-level rules a design can break)
RULES = ("RF102", "RF103", "RF104", "RF105", "RF107", "RF108", "RF109")
SETTINGS = settings(
    max_examples=120, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)


@dataclass(frozen=True)
class Slot:
    """One oracle layer: fixed or free kernel, stride and dilation options."""

    op: str
    kernels: tuple[int, ...]
    strides: tuple[int, ...]
    dilations: tuple[int, ...]
    padding: str  # "same" or an int
    optional: bool


@dataclass(frozen=True)
class Template:
    size: int
    dims: int
    slots: tuple[Slot, ...]
    skip: int | None  # index of the slot whose input also feeds an add after the last slot (a residual)
    rf: tuple[int | None, int | None]
    out_size: int | None
    objective: str
    top_k: int
    forbid: tuple[str, ...]  # rule codes the designs must pass (the defaults are off)


def _value(options: tuple[int, ...]) -> str:
    return str(options[0]) if len(options) == 1 else "{choose: [" + ", ".join(map(str, options)) + "]}"


def _target(t: Template) -> str:
    parts = []
    low, high = t.rf
    if low is not None or high is not None:
        bounds = ", ".join(f"{k}: {v}" for k, v in (("min", low), ("max", high)) if v is not None)
        parts.append(f"receptive_field: {{{bounds}}}")
    if t.out_size is not None:
        parts.append(f"output_size: {t.out_size}")
    parts.append(f"objective: {t.objective}")
    parts.append(f"top_k: {t.top_k}")
    parts.append(f"constraints: {{defaults: false, forbid: [{', '.join(t.forbid)}]}}")
    return "target: {" + ", ".join(parts) + "}\n"


def _layers(t: Template, values: list[tuple[int, int, int, bool]] | None) -> str:
    lines = []
    for index, slot in enumerate(t.slots):
        if values is not None and not values[index][3]:
            lines.append(f"  - {{name: l{index}, op: identity}}")
            continue
        if values is None:
            k, s, d = _value(slot.kernels), _value(slot.strides), _value(slot.dilations)
        else:
            k, s, d = values[index][:3]
        extra = ", optional: true" if values is None and slot.optional else ""
        out = ", out: 4" if slot.op == "conv" else ""
        lines.append(
            f"  - {{name: l{index}, op: {slot.op}{out}, kernel: {k}, stride: {s}, dilation: {d}, "
            f"padding: {slot.padding}{extra}}}"
        )
    if t.skip is not None:
        source = "input" if t.skip == 0 else f"l{t.skip - 1}"
        lines.append(f"  - {{name: merge, op: add, from: [l{len(t.slots) - 1}, {source}]}}")
    return "\n".join(lines) + "\n"


def spec_text(t: Template, values=None) -> str:  # noqa: ANN001
    size = ", ".join([str(t.size)] * t.dims)
    head = f"name: t\ninput: {{size: [{size}], channels: 4}}\n"
    return head + (_target(t) if values is None else "") + "layers:\n" + _layers(t, values)


def enumerate_designs(t: Template) -> list[tuple[int, tuple]]:
    """(cost, canonical key) of every distinct design that meets the target, cheapest first."""
    per_slot = []
    for slot in t.slots:
        options = []
        for k, s, d in itertools.product(slot.kernels, slot.strides, slot.dilations):
            if k == 1 and d != slot.dilations[0]:
                continue  # a kernel-1 layer is the same whatever its dilation
            options.append((k, s, d, True))
        if slot.optional:
            options.append((slot.kernels[0], slot.strides[0], slot.dilations[0], False))
        per_slot.append(options)
    found = {}
    for values in itertools.product(*per_slot):
        try:
            graph = parse_spec(spec_text(t, list(values)))
            result = analyze(graph)
        except SpecError:
            continue  # this design does not fit the input
        out = result.output
        low, high = t.rf
        ok = True
        for axis in out.axes:
            rf = axis.receptive_field
            ok &= (low is None or rf >= low) and (high is None or rf <= high)
        if t.out_size is not None:
            ok &= all(n == t.out_size for n in out.output_size)
        if not ok:
            continue
        if any(m.centre_offset is None for layer in result.layers.values() for m in layer.misalignment):
            continue  # a merge of branches that step at different strides: never proposed (docs/solver.md)
        if t.forbid and review(graph, ReviewConfig(select=t.forbid), result).findings:
            continue  # `rfdesign check` reports a forbidden rule
        cost = result.params if t.objective == "params" else result.flops
        key = tuple(v if v[3] else (0, 0, 0, False) for v in values)
        found[key] = cost
    return sorted((cost, key) for key, cost in found.items())


def slots(draw, n: int, chain: bool) -> tuple[Slot, ...]:  # noqa: ANN001
    result = []
    for index in range(n):
        op = draw(st.sampled_from(["conv", "conv", "conv", "maxpool"]))
        kernels = tuple(sorted(draw(st.sets(st.sampled_from([1, 2, 3, 5]), min_size=1, max_size=3))))
        strides = tuple(sorted(draw(st.sets(st.sampled_from([1, 2, 3]), min_size=1, max_size=2))))
        dilations = tuple(sorted(draw(st.sets(st.sampled_from([1, 2]), min_size=1, max_size=2))))
        padding = draw(st.sampled_from(["same", "same", "0", "1"])) if chain else "same"
        optional = draw(st.booleans()) and op == "conv" and index > 0
        result.append(Slot(op, kernels, strides, dilations, padding, optional))
    return tuple(result)


@st.composite
def templates(draw, chain: bool = True) -> Template:  # noqa: ANN001
    n = draw(st.integers(1, 4))
    template_slots = slots(draw, n, chain)
    skip = None if chain else draw(st.integers(0, n - 1))
    rf_low = draw(st.one_of(st.none(), st.integers(2, 30)))
    rf_high = draw(st.one_of(st.none(), st.integers(rf_low or 2, (rf_low or 2) + 15)))
    if rf_low is None and rf_high is None:
        rf_low = 3
    return Template(
        size=draw(st.integers(8, 40)),
        dims=draw(st.sampled_from([1, 1, 2])),
        slots=template_slots,
        skip=skip,
        rf=(rf_low, rf_high),
        out_size=draw(st.one_of(st.none(), st.integers(2, 20))),
        objective=draw(st.sampled_from(["params", "params", "flops"])),
        top_k=draw(st.integers(1, 3)),
        forbid=tuple(sorted(draw(st.sets(st.sampled_from(RULES), max_size=4)))),
    )


def _holes(t: Template) -> bool:
    return any(
        len(s.kernels) > 1 or len(s.strides) > 1 or len(s.dilations) > 1 or s.optional for s in t.slots
    )


def check_against_oracle(t: Template, method: str) -> None:
    if not _holes(t):
        return
    problem = build_problem(parse_spec(spec_text(t)))
    result = solve(problem, timeout=60, method=method)
    expected = enumerate_designs(t)
    if not expected:
        assert result.status == "infeasible", (result.status, spec_text(t))
        assert result.reasons
        return
    assert result.status == "optimal", (result.status, spec_text(t))
    costs = [p.evaluation.objective for p in result.proposals]
    want = [cost for cost, _ in expected[: t.top_k]]
    assert costs == want, (method, costs, want, spec_text(t))
    keys = {p.assignment.key() for p in result.proposals}
    assert len(keys) == len(result.proposals), "proposals are distinct designs"
    for proposal in result.proposals:
        assert proposal.evaluation.meets_target


@SETTINGS
@given(templates(chain=True))
def test_chains_dynamic_program_matches_enumeration(t):
    check_against_oracle(t, "auto")


@SETTINGS
@given(templates(chain=True))
def test_chains_z3_matches_enumeration(t):
    check_against_oracle(t, "z3")


@SETTINGS
@given(templates(chain=False))
def test_residual_dags_dynamic_program_matches_enumeration(t):
    check_against_oracle(t, "auto")


@SETTINGS
@given(templates(chain=False))
def test_residual_dags_z3_matches_enumeration(t):
    check_against_oracle(t, "z3")


@settings(max_examples=40, deadline=None, derandomize=True)
@given(templates(chain=True))
def test_pure_python_and_numpy_dynamic_programs_agree(t):
    from rfdesign.solve.chain import ChainModel, why_not_chain

    if not _holes(t):
        return
    problem = build_problem(parse_spec(spec_text(t)))
    if why_not_chain(problem) is not None:
        return
    model = ChainModel(problem)
    fast, slow = model.togo(True), model.togo(False)
    assert [[list(map(int, row)) for row in layer] for layer in fast] == slow
