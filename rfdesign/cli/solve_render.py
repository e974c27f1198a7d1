"""Rendering of `rfdesign solve` results: table, JSON, YAML."""

from __future__ import annotations

from typing import Any

from rfdesign.cli.render import aligned_table, axes_text, json_text
from rfdesign.rf.report import number
from rfdesign.solve.fill import proposal_text
from rfdesign.solve.problem import Problem
from rfdesign.solve.search import SolveResult

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
    import yaml

    class Literal(str):
        """A string dumped as a YAML block scalar (the proposal specs stay readable)."""

    def literal(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")

    data = result_data(problem, result)
    for proposal in data["proposals"]:
        proposal["spec"] = Literal(proposal["spec"])
    dumper = type("SolveDumper", (yaml.SafeDumper,), {})
    dumper.add_representer(Literal, literal)
    return yaml.dump(data, Dumper=dumper, sort_keys=False, width=120)
