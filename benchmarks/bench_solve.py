"""Speed of the inverse solver: time to a proven optimum, against baselines in the same run.

The instances are the issue's: a chain of L free conv layers, each choosing
kernel {1,3,5,7}, stride {1,2} and dilation {1,2,4,8}, with fixed channels
per layer (32, 64, 128, 256 over the four quarters of the depth), `same`
padding, input 256, output 16x16 (effective stride 16), minimising
parameters, for several receptive-field windows.

Columns (seconds, best of --repeat runs):

* ``rfdesign``: ``rfdesign.solve.search.solve`` as the CLI runs it (method
  auto: the exhaustive chain dynamic program, numpy when installed);
* ``top5``: the same for the 5 best distinct designs, and its ratio to one;
* ``z3``: the general z3 model alone (``method="z3"``: descent until z3
  proves no cheaper design), capped by --z3-timeout;
* ``dp``: an independent baseline written here: a dynamic program over
  (layer, stride product, RF so far), specific to chains (numpy);
* ``cp-sat``: OR-tools CP-SAT on the same model with multiplication
  constraints for the stride prefix products (only if ortools is installed).

Every method's optimum is compared; a disagreement aborts the run.

    python benchmarks/bench_solve.py [--quick] [--repeat N] [--z3-timeout S]
"""

from __future__ import annotations

import argparse
import sys
import time

from rfdesign.solve.problem import build_problem
from rfdesign.solve.search import solve
from rfdesign.spec.load import parse_spec

KERNELS = (1, 3, 5, 7)
STRIDES = (1, 2)
DILATIONS = (1, 2, 4, 8)
INPUT = 256
OUTPUT = 16
INSTANCES = [
    (8, 180, 200),
    (16, 180, 200),
    (16, 700, 720),
    (32, 180, 200),
    (32, 700, 720),
    (64, 180, 200),
    (64, 700, 720),
    (64, 2000, 2050),
]


def channels(depth: int) -> list[tuple[int, int]]:
    widths = [32, 64, 128, 256]
    outs = [widths[min(3, layer * 4 // depth)] for layer in range(depth)]
    return [(3 if layer == 0 else outs[layer - 1], outs[layer]) for layer in range(depth)]


def template(depth: int, low: int, high: int, top_k: int = 1) -> str:
    lines = [
        f"name: chain{depth}",
        f"input: {{size: [{INPUT}, {INPUT}], channels: 3}}",
        f"target: {{receptive_field: {{min: {low}, max: {high}}}, output_size: [{OUTPUT}, {OUTPUT}], top_k: {top_k}}}",
        "layers:",
    ]
    for _, out in channels(depth):
        lines.append(
            f"  - {{op: conv, out: {out}, kernel: {{choose: {list(KERNELS)}}}, stride: {{choose: {list(STRIDES)}}}, "
            f"dilation: {{choose: {list(DILATIONS)}}}, padding: same, bias: false}}"
        )
    return "\n".join(lines) + "\n"


def baseline_dp(depth: int, low: int, high: int) -> int:
    """Min parameters by a DP over (stride product, RF so far), one layer at a time (numpy)."""
    import numpy as np

    big = np.iinfo(np.int64).max // 4
    strides = [1]
    while strides[-1] < OUTPUT:
        strides.append(strides[-1] * 2)
    cost = np.full((len(strides), high), big, dtype=np.int64)
    cost[0, 0] = 0  # RF index = RF - 1
    for c_in, c_out in channels(depth):
        new = np.full_like(cost, big)
        for index, product in enumerate(strides):
            row = cost[index]
            for kernel in KERNELS:
                weight = kernel * kernel * c_in * c_out
                for dilation in (DILATIONS if kernel > 1 else (1,)):
                    delta = (kernel - 1) * dilation * product
                    if delta >= high:
                        continue
                    for stride in STRIDES:
                        target = strides.index(product * stride) if product * stride in strides else None
                        if target is None:
                            continue
                        moved = row[: high - delta] + weight
                        np.minimum(new[target, delta:], moved, out=new[target, delta:])
        cost = np.minimum(new, big)
    final = strides.index(OUTPUT)
    return int(cost[final, low - 1 : high].min())


def baseline_cpsat(depth: int, low: int, high: int, timeout: float) -> int | None:
    """OR-tools CP-SAT with multiplication constraints (None if ortools is missing)."""
    try:
        from ortools.sat.python import cp_model
    except ImportError:
        return None
    model = cp_model.CpModel()
    objective = []
    product = model.NewConstant(1)
    contributions = []
    for layer, (c_in, c_out) in enumerate(channels(depth)):
        kernel = model.NewIntVarFromDomain(cp_model.Domain.FromValues([k - 1 for k in KERNELS]), f"k{layer}")
        dilation = model.NewIntVarFromDomain(cp_model.Domain.FromValues(list(DILATIONS)), f"d{layer}")
        stride = model.NewIntVarFromDomain(cp_model.Domain.FromValues(list(STRIDES)), f"s{layer}")
        extent = model.NewIntVar(0, 6 * 8, f"e{layer}")
        model.AddMultiplicationEquality(extent, [kernel, dilation])
        contribution = model.NewIntVar(0, high, f"c{layer}")
        model.AddMultiplicationEquality(contribution, [extent, product])
        contributions.append(contribution)
        following = model.NewIntVar(1, OUTPUT, f"p{layer}")
        model.AddMultiplicationEquality(following, [product, stride])
        product = following
        for k in KERNELS:
            chosen = model.NewBoolVar(f"is{layer}_{k}")
            model.Add(kernel == k - 1).OnlyEnforceIf(chosen)
            model.Add(kernel != k - 1).OnlyEnforceIf(chosen.Not())
            objective.append(chosen * (k * k * c_in * c_out))
    model.Add(product == OUTPUT)
    model.Add(sum(contributions) + 1 >= low)
    model.Add(sum(contributions) + 1 <= high)
    model.Minimize(sum(objective))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = timeout
    solver.parameters.num_workers = 2
    status = solver.Solve(model)
    if status != cp_model.OPTIMAL:
        return -1
    return int(solver.ObjectiveValue())


def timed(function, repeat: int):  # noqa: ANN001, ANN201
    best = None
    value = None
    for _ in range(repeat):
        start = time.perf_counter()
        value = function()
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    return value, best


def ours(problem, method: str = "auto", timeout: float = 60.0):  # noqa: ANN001, ANN201
    """One solve of an already parsed template (parsing the YAML is not timed; checking proposals is)."""
    result = solve(problem, timeout=timeout, method=method)
    values = [p.evaluation.objective for p in result.proposals]
    return result.status, values


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only L = 8 and 16")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--z3-timeout", type=float, default=60.0)
    args = parser.parse_args()
    instances = [i for i in INSTANCES if not args.quick or i[0] <= 16]
    header = f"{'L':>3} {'RF window':>12} {'optimum':>10} {'rfdesign':>9} {'top5':>7} {'x':>5} {'z3':>9} {'dp':>8} {'cp-sat':>8}"
    print(header)
    print("-" * len(header))
    solve(build_problem(parse_spec(template(8, 180, 200))), timeout=60)  # warm up: imports (numpy, z3)
    for depth, low, high in instances:
        one = build_problem(parse_spec(template(depth, low, high)))
        five = build_problem(parse_spec(template(depth, low, high, top_k=5)))
        (status, values), single = timed(lambda: ours(one), args.repeat)
        assert status == "optimal", status
        optimum = values[0]
        (status5, values5), top5 = timed(lambda: ours(five), args.repeat)
        assert values5[0] == optimum and len(values5) == 5 and values5 == sorted(values5)
        dp_value, dp_time = timed(lambda: baseline_dp(depth, low, high), args.repeat)
        assert dp_value == optimum, (dp_value, optimum)
        (z3_status, z3_values), z3_time = timed(lambda: ours(one, method="z3", timeout=args.z3_timeout), 1)
        z3_text = f"{z3_time:8.2f}s" if z3_status == "optimal" else f">{args.z3_timeout:.0f}s"
        if z3_status == "optimal":
            assert z3_values[0] == optimum, (z3_values, optimum)
        cp_value, cp_time = timed(lambda: baseline_cpsat(depth, low, high, 120.0), 1)
        cp_text = "n/a" if cp_value is None else (f"{cp_time:7.2f}s" if cp_value >= 0 else ">120s")
        if cp_value is not None and cp_value >= 0:
            assert cp_value == optimum, (cp_value, optimum)
        print(
            f"{depth:>3} {f'[{low}, {high}]':>12} {optimum:>10,} {single:8.3f}s {top5:6.3f}s {top5 / single:5.1f}"
            f" {z3_text:>9} {dp_time:7.3f}s {cp_text:>8}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
