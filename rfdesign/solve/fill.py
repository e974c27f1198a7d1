"""A proposal as a complete spec: the template with its holes filled and dropped layers removed.

The result is a flat spec (every layer explicit and named) that `rfdesign
analyze` and `rfdesign check` accept unchanged; it keeps the template's
target so `check` can confirm it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from rfdesign.spec.writer import dump, spec_dict
from rfdesign.rf.report import number
from rfdesign.solve.problem import Assignment, Evaluation, Problem
from rfdesign.spec.graph import Graph


def without_dropped(problem: Problem, assignment: Assignment) -> Graph:
    """The concrete graph with dropped layers removed and their readers rewired to their input."""
    graph = problem.concrete(assignment)
    dropped = {name for name, kept in assignment.kept.items() if not kept}

    def source(name: str) -> str:
        while name in dropped:
            name = graph.nodes[name].inputs[0]
        return name

    nodes = {}
    for name, node in graph.nodes.items():
        if name in dropped:
            continue
        nodes[name] = replace(node, inputs=tuple(source(s) for s in node.inputs), attrs=node.attrs.renamed(source))
    outputs = tuple(source(o) for o in graph.outputs)
    return replace(graph, nodes=nodes, outputs=outputs)


def _target(problem: Problem) -> dict[str, Any]:
    """The template's target as written (receptive field, output size, stride), for `check` to confirm."""
    target = problem.graph.target
    if target is None:
        return {}
    written = target.model_dump(include={"receptive_field", "output_size", "effective_stride"}, exclude_unset=True)
    return {key: value for key, value in written.items() if value is not None}


def proposal_text(problem: Problem, assignment: Assignment, evaluation: Evaluation, rank: int) -> str:
    """The proposal as spec YAML with a header saying where it came from and what it reaches."""
    graph = without_dropped(problem, assignment)
    graph = replace(graph, name=f"{problem.graph.name}_{rank}")
    extra: dict[str, Any] = {}
    target = _target(problem)
    if target:
        extra["target"] = target
    review = dict(problem.graph.review or {})
    relaxed = [code for code, _ in problem.rules.relaxed]
    if relaxed:  # the target forces them: `rfdesign check` on the proposal need not report them again
        review["ignore"] = list(dict.fromkeys(list(review.get("ignore", [])) + relaxed))
    if review:
        extra["review"] = review
    rf = "x".join(str(v) for v in evaluation.receptive_field)
    stride = "x".join(str(number(v)) for v in evaluation.effective_stride)
    header = (
        f"Proposal {rank} of `rfdesign solve` for {problem.graph.file}.\n"
        f"params {evaluation.params:,}, multiply-adds {evaluation.flops:,}, depth {evaluation.depth} "
        f"(minimised: {problem.objective})\n"
        f"receptive field {rf}, effective stride {stride}, output size {'x'.join(map(str, evaluation.output_size))}"
    )
    for code, reason in problem.rules.relaxed:
        header += f"\n{code} is not checked: {reason}"
    return dump(spec_dict(graph, extra), header)
