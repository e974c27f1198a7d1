"""What every rule sees: the graph, its analysis, the settings, and shared derived facts."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from rfdesign.errors import Location
from rfdesign.review.config import ReviewConfig
from rfdesign.review.finding import Finding
from rfdesign.rf.analysis import Analysis, LayerResult
from rfdesign.rf.coverage import Coverage, coverage, gaps
from rfdesign.spec.graph import Graph
from rfdesign.spec.target import AxisTargets, targets


@dataclass
class ReviewContext:
    graph: Graph
    analysis: Analysis
    config: ReviewConfig
    current: Any = field(default=None)  # the Rule being run

    @cached_property
    def coverage(self) -> Coverage:
        return coverage(self.analysis)

    @cached_property
    def unseen(self) -> list[tuple[list[int], list[int], list[int]]]:
        """Per axis, the input indices no output unit reads: (leading, interior, trailing)."""
        seen = self.coverage.seen_pixels()
        return [gaps(units, n) for units, n in zip(seen, self.analysis.input_size)]

    @cached_property
    def targets(self) -> AxisTargets:
        return targets(self.graph)

    @property
    def output(self) -> LayerResult:
        return self.analysis.output

    def option(self, name: str) -> Any:
        return self.config.options.get(name)

    def location(self, layer: str | None) -> Location:
        """The YAML location of ``layer``, or of the spec's input for network-wide findings."""
        if layer is not None and layer in self.graph.nodes:
            return self.graph.nodes[layer].location
        return self.graph.input_location or Location(self.graph.file)

    def finding(
        self,
        message: str,
        layer: str | None = None,
        fix: str | None = None,
        location: Location | None = None,
        **data: Any,
    ) -> Finding:
        """A finding of the rule being run, with its configured severity."""
        rule = self.current
        return Finding(
            code=rule.code,
            name=rule.name,
            severity=self.config.severity_of(rule.code, rule.severity),
            message=message,
            location=location or self.location(layer),
            layer=layer,
            fix=fix,
            data=data,
        )
