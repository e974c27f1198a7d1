"""Run the enabled rules on one spec and collect their findings."""

from __future__ import annotations

from dataclasses import dataclass

from rfdesign.review.config import ReviewConfig, config_from_spec
from rfdesign.review.context import ReviewContext
from rfdesign.review.finding import Finding
from rfdesign.review.rule import all_rules
from rfdesign.rf.analysis import Analysis, analyze
from rfdesign.spec.graph import Graph


@dataclass(frozen=True)
class ReviewResult:
    """The findings for one spec, sorted by position in the file."""

    graph: Graph
    analysis: Analysis
    findings: tuple[Finding, ...]

    def count(self, severity: str) -> int:
        return sum(1 for finding in self.findings if finding.severity == severity)


def spec_config(graph: Graph) -> ReviewConfig:
    """The review settings a spec carries in its ``review:`` block."""
    return config_from_spec(graph.review, list(all_rules()), graph.locate)


def review(graph: Graph, config: ReviewConfig | None = None, analysis: Analysis | None = None) -> ReviewResult:
    """Analyze ``graph`` and apply every enabled rule."""
    config = config if config is not None else spec_config(graph)
    analysis = analysis if analysis is not None else analyze(graph)
    context = ReviewContext(graph, analysis, config)
    findings: list[Finding] = []
    for code, rule in all_rules().items():
        if not config.enabled(code):
            continue
        context.current = rule
        findings.extend(rule.check(context))
    findings.sort(key=Finding.sort_key)
    return ReviewResult(graph, analysis, tuple(findings))
