"""`rfdesign solve` and `rfdesign propose`: the problem from the command's options, and the result as a table,
JSON or YAML.

The CLI and the service's solve jobs both call these, so a job's result is what the command prints.
"""

from __future__ import annotations

from typing import Any

from rfdesign.commands.args import parse_ints, parse_range
from rfdesign.commands.render import aligned_table, axes_text, json_text
from rfdesign.errors import SpecError
from rfdesign.rf.report import number
from rfdesign.solve.fill import proposal_text
from rfdesign.solve.problem import Problem
from rfdesign.solve.search import SolveResult

FORMATS = ("table", "json", "yaml")
EXIT_SOLVED, EXIT_UNSOLVED = 0, 1
#: the template file name in messages when `propose` does not write it
PROPOSED_TEMPLATE = "<proposed template>"


def rule_codes(values: str | list[str] | tuple[str, ...] | None, what: str) -> list[str]:
    """Rule codes from repeatable, comma-separated option values (``all``: every rule)."""
    from rfdesign.review.rule import all_rules
    from rfdesign.solve.rules import rule_codes as known_codes

    if isinstance(values, str):
        values = [values]
    parts = [part.strip() for value in values or () for part in value.split(",") if part.strip()]
    if "all" in parts:
        return ["all"]
    return known_codes(parts, what, None, list(all_rules()))


def overrides(objective: str | None = None, top_k: int | None = None, no_unseen_pixels: bool = False,
              no_gridding: bool = False, forbid: Any = (), allow: Any = ()) -> dict[str, Any]:
    """The options of `solve` that override the spec's `target:` (for :func:`rfdesign.solve.problem.build_problem`).

    ``forbid`` and ``allow`` are rule codes as the command line takes them (``--allow all`` lifts every
    default rule).
    """
    allowed = rule_codes(allow, "--allow")
    result: dict[str, Any] = {"objective": objective, "top_k": top_k, "forbid": rule_codes(forbid, "--forbid"),
                              "no_unseen_pixels": no_unseen_pixels, "no_gridding": no_gridding}
    if allowed == ["all"]:
        result["defaults"] = False
    else:
        result["allow"] = allowed
    return result


def propose_template(
    input_size: str,
    rf: str,
    dims: int = 2,
    input_channels: int = 3,
    output_size: str | None = None,
    family: str = "plain",
    depth: str = "4:16",
    kernels: str = "1,3,5,7",
    strides: str = "1,2",
    dilations: str = "1,2,4",
    channels: str = "32:512",
    norm: str = "batchnorm",
    objective: str | None = None,
    top_k: int | None = None,
) -> str:
    """The template spec YAML that `rfdesign propose` solves, from its options written as on the command line."""
    from rfdesign.solve.propose import ProposeRequest, template
    from rfdesign.spec.writer import dump

    size = parse_ints(input_size, "--input", 1)
    assert size is not None
    if len(size) == 1:
        size = size * dims
    out = parse_ints(output_size, "--output-size", 1)
    if out is not None and len(out) == 1 and len(size) > 1:
        out = out * len(size)
    low_depth, high_depth = parse_range(depth, "--depth")
    low_ch, high_ch = parse_range(channels, "--channels")
    request = ProposeRequest(
        input_size=size,
        input_channels=input_channels,
        receptive_field=parse_range(rf, "--rf"),
        output_size=out,
        depth=(low_depth or 1, high_depth or low_depth or 1),
        kernels=parse_ints(kernels, "--kernels", 1) or (),
        strides=parse_ints(strides, "--strides", 1) or (),
        dilations=parse_ints(dilations, "--dilations", 1) or (),
        channels=(low_ch or 1, high_ch or low_ch or 1),
        objective=objective or "params",
        top_k=top_k or 1,
        family=family,
        norm=norm,
    )
    return dump(template(request), f"{family} template made by `rfdesign propose`")


def run(problem: Problem, timeout: float, method: str = "auto", progress: Any = None,
        explain: bool = False) -> tuple[Problem, SolveResult]:
    """Solve as `rfdesign solve` does: the problem the proposals solve (rules the target forces out are relaxed
    in it) and the result, with ``--explain``'s explanation when asked."""
    from rfdesign.solve.search import solve

    result = solve(problem, timeout=timeout, progress=progress, method=method)
    solved = result.problem or problem
    if explain:
        from rfdesign.solve.explain import explain_result

        result.explanation = explain_result(solved, result, deadline_seconds=timeout)
    return solved, result


def problem_from_text(text: str, file: str, options: dict[str, Any] | None = None) -> Problem:
    """The solve problem of spec ``text`` (``file`` names it in messages) with `solve`'s overrides."""
    from rfdesign.solve.problem import build_problem
    from rfdesign.spec.load import parse_spec

    return build_problem(parse_spec(text, file), options)


def exit_status(result: SolveResult | str) -> int:
    """0 when a design was found (optimal or feasible), else 1."""
    status = result if isinstance(result, str) else result.status
    return EXIT_SOLVED if status in ("optimal", "feasible") else EXIT_UNSOLVED


def solve_output(problem: Problem, result: SolveResult, fmt: str) -> str:
    """What `rfdesign solve` prints for ``result`` in format ``fmt`` (without the final newline of table and JSON)."""
    if fmt == "json":
        return json_output(problem, result)
    if fmt == "yaml":
        return yaml_output(problem, result)
    if fmt == "table":
        return table(problem, result)
    raise SpecError(f"unknown solve format {fmt!r}", hint=f"formats: {', '.join(FORMATS)}")

STATUS_TEXT = {
    "optimal": "optimal (proven)",
    "feasible": "feasible (the time ran out before the proof)",
    "infeasible": "infeasible",
    "unknown": "unknown (the time ran out before any design was found or refuted)",
}


def layer_choices(problem: Problem, proposal: Any) -> list[dict[str, Any]]:
    """For every layer with a choice (and every optional unit without one), what was chosen."""
    rows = []
    chosen = {hole.node for hole in problem.holes}
    for unit in problem.optional:
        members = problem.units[unit].members
        if not chosen & set(members):
            chosen.add(problem.units[unit].output)
    graph = problem.graph
    for name in graph.nodes:
        if name not in chosen:
            continue
        node = graph.nodes[name]
        row: dict[str, Any] = {"name": name}
        present = node.attrs.choices()
        for attr in ("kernel", "stride", "dilation"):
            if attr not in present:
                row[attr] = None
                continue
            values = [problem.value(node, attr, axis, proposal.assignment.values) for axis in range(problem.dims)]
            row[attr] = values[0] if len(set(values)) == 1 else values
        row["kept"] = problem.kept(proposal.assignment, name)
        rows.append(row)
    return rows


def result_data(problem: Problem, result: SolveResult) -> dict[str, Any]:
    proposals = []
    for rank, proposal in enumerate(result.proposals, 1):
        evaluation = proposal.evaluation
        proposals.append(
            {
                "rank": rank,
                "objective": evaluation.objective,
                "params": evaluation.params,
                "flops": evaluation.flops,
                "depth": evaluation.depth,
                "receptive_field": list(evaluation.receptive_field),
                "effective_stride": [number(s) for s in evaluation.effective_stride],
                "output_size": list(evaluation.output_size),
                "layers": layer_choices(problem, proposal),
                "findings": [
                    {"code": f.code, "severity": f.severity, "layer": f.layer, "message": f.message}
                    for f in proposal.reported
                ],
                "spec": proposal_text(problem, proposal.assignment, evaluation, rank),
            }
        )
    return {
        "status": result.status,
        "objective": problem.objective,
        "method": result.method,
        "elapsed": round(result.elapsed, 3),
        "lower_bound": result.lower_bound,
        "reasons": result.reasons,
        "rules": list(problem.rules.forbid),
        "relaxed": [{"code": code, "reason": reason} for code, reason in result.relaxed],
        "explanation": result.explanation,
        "proposals": proposals,
        "stats": result.stats,
    }


def table(problem: Problem, result: SolveResult) -> str:
    lines = [f"status: {STATUS_TEXT[result.status]} in {result.elapsed:.2f} s ({_method(result)})"]
    for reason in result.reasons:
        lines.append(f"  - {reason}")
    if problem.rules.forbid:
        lines.append(f"rules: every proposal passes {', '.join(problem.rules.forbid)} (rfdesign check)")
    for code, reason in result.relaxed:
        lines.append(f"not checked: {code}, because {reason}")
    for line in result.explanation:
        lines.append(f"explain: {line}")
    if result.lower_bound is not None and result.status == "feasible":
        lines.append(f"proven lower bound on {problem.objective}: {result.lower_bound:,}")
    if "note" in result.stats:
        lines.append(f"note: {result.stats['note']}")
    if not result.proposals:
        return "\n".join(lines)
    rows = []
    for rank, proposal in enumerate(result.proposals, 1):
        e = proposal.evaluation
        rows.append([str(rank), f"{e.params:,}", f"{e.flops:,}", str(e.depth), axes_text(e.receptive_field),
                     axes_text([number(s) for s in e.effective_stride]), axes_text(e.output_size)])
    lines += ["", aligned_table(["#", "params", "flops", "depth", "rf", "stride", "output"], rows,
                                [True, True, True, True, True, True, True])]
    for rank, proposal in enumerate(result.proposals, 1):
        choices = layer_choices(problem, proposal)
        body = [
            [c["name"], _text(c["kernel"]), _text(c["stride"]), _text(c["dilation"]), "yes"]
            if c["kept"]
            else [c["name"], "-", "-", "-", "dropped"]
            for c in choices
        ]
        lines += ["", f"proposal {rank}:", aligned_table(["layer", "kernel", "stride", "dilation", "kept"], body,
                                                         [False, True, True, True, False])]
        for finding in proposal.reported:
            lines.append(f"check also reports {finding.code} [{finding.severity}]: {finding.message}")
    return "\n".join(lines)


def _text(value: Any) -> str:
    if value is None:
        return "-"
    return "x".join(map(str, value)) if isinstance(value, list) else str(value)


def _method(result: SolveResult) -> str:
    if result.method == "dp":
        return "exhaustive dynamic program over the chain of stages"
    return f"z3, {result.stats.get('z3_calls', 0)} solver calls"


def json_output(problem: Problem, result: SolveResult) -> str:
    return json_text(result_data(problem, result))


def yaml_output(problem: Problem, result: SolveResult) -> str:
    return yaml_from_data(result_data(problem, result))


def yaml_from_data(data: dict[str, Any]) -> str:
    """The YAML rendering of :func:`result_data` (the proposal specs as block scalars)."""
    import copy

    import yaml

    class Literal(str):
        """A string dumped as a YAML block scalar (the proposal specs stay readable)."""

    def literal(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")

    data = copy.deepcopy(data)
    for proposal in data["proposals"]:
        proposal["spec"] = Literal(proposal["spec"])
    dumper = type("SolveDumper", (yaml.SafeDumper,), {})
    dumper.add_representer(Literal, literal)
    return yaml.dump(data, Dumper=dumper, sort_keys=False, width=120)
