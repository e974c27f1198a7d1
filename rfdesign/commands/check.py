"""`rfdesign check`: review one spec (:func:`check_graph`), render outcomes as text, JSON, SARIF 2.1.0 or GitHub
annotations (:func:`check_output`), and the command's exit status.

The CLI and ``POST /v1/check`` both call these, so the service answers with what the command prints.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from typing import Any

from rfdesign import __version__
from rfdesign.commands.args import per_axis
from rfdesign.errors import Location, SpecError
from rfdesign.review.finding import Finding
from rfdesign.review.rule import Rule
from rfdesign.spec.graph import Graph

#: one checked spec: its path and either its findings or the error that stopped it
Outcome = tuple[str, "list[Finding] | None", "SpecError | None"]

FORMATS = ("text", "json", "sarif", "github")
EXIT_CLEAN, EXIT_FINDINGS, EXIT_BAD_INPUT = 0, 1, 2


def check_graph(
    path: str,
    load: Callable[[], Graph],
    selected: tuple[str, ...] = (),
    ignored: tuple[str, ...] = (),
    min_rf: int | None = None,
    input_size: tuple[int, ...] | None = None,
) -> Outcome:
    """Review the graph that ``load`` returns with the spec's settings and these overrides.

    A SpecError while loading or checking becomes the outcome's error (the other specs of a run go on).
    """
    from rfdesign.review.runner import review, spec_config
    from rfdesign.rf.analysis import analyze

    try:
        graph = load()
        config = spec_config(graph).merged(selected, ignored, {"min_rf": min_rf})
        analysis = None
        if input_size is not None:
            size = per_axis(input_size, graph.dims, "--input-size", f"`{path}`")
            analysis = analyze(graph, size)
        result = review(graph, config, analysis)
        return path, list(result.findings), None
    except SpecError as exc:
        return path, None, exc


def check_output(outcomes: Sequence[Outcome], fmt: str, rules: dict[str, Rule]) -> str:
    """What `rfdesign check` prints on standard output (the text format's errors go to stderr, see the CLI)."""
    if fmt == "json":
        return json_text(outcomes)
    if fmt == "sarif":
        return sarif(outcomes, rules)
    if fmt == "github":
        return github(outcomes)
    if fmt == "text":
        return text(outcomes)
    raise SpecError(f"unknown check format {fmt!r}", hint=f"formats: {', '.join(FORMATS)}")


def exit_status(outcomes: Sequence[Outcome], exit_zero: bool = False) -> int:
    """0 no error-level findings, 1 some (0 with ``exit_zero``), 2 a spec could not be checked."""
    if any(error is not None for _, _, error in outcomes):
        return EXIT_BAD_INPUT
    errors = any(f.severity == "error" for _, found, _ in outcomes for f in found or [])
    return EXIT_FINDINGS if errors and not exit_zero else EXIT_CLEAN


def finding_from_data(data: dict[str, Any]) -> Finding:
    """The finding that :func:`finding_data` wrote (a client renders a service's findings with it)."""
    location = Location(data["file"], data.get("line"), data.get("column"))
    return Finding(data["code"], data["name"], data["severity"], data["message"], location, data.get("layer"),
                   data.get("fix"), dict(data.get("data") or {}))

SARIF_LEVEL = {"error": "error", "warning": "warning", "info": "note"}
GITHUB_LEVEL = {"error": "error", "warning": "warning", "info": "notice"}


def finding_line(finding: Finding) -> str:
    text = f"{finding.location}: {finding.code} [{finding.severity}] {finding.message}"
    if finding.fix:
        text += f" (fix: {finding.fix})"
    return text


def summary(outcomes: Sequence[Outcome]) -> str:
    findings = [f for _, found, _ in outcomes for f in (found or [])]
    broken = sum(1 for _, _, error in outcomes if error is not None)
    specs = f"{len(outcomes)} spec" + ("" if len(outcomes) == 1 else "s")
    if not findings and not broken:
        return f"All checks passed ({specs})."
    counts = []
    for severity in ("error", "warning", "info"):
        n = sum(1 for f in findings if f.severity == severity)
        if n:
            counts.append(f"{n} {severity}" + ("s" if n != 1 and severity != "info" else ""))
    text = f"Found {len(findings)} finding" + ("" if len(findings) == 1 else "s") + f" in {specs}"
    if counts:
        text += ": " + ", ".join(counts)
    if broken:
        text += f"; {broken} spec" + (" could" if broken == 1 else "s could") + " not be checked"
    return text + "."


def text(outcomes: Sequence[Outcome]) -> str:
    """Findings one per line, then the summary (errors in the specs go to stderr, see the CLI)."""
    lines = [finding_line(f) for _, found, _ in outcomes for f in found or []]
    lines.append(summary(outcomes))
    return "\n".join(lines)


def finding_data(finding: Finding) -> dict[str, Any]:
    return {
        "code": finding.code,
        "name": finding.name,
        "severity": finding.severity,
        "file": finding.location.file,
        "line": finding.location.line,
        "column": finding.location.column,
        "layer": finding.layer,
        "message": finding.message,
        "fix": finding.fix,
        "data": finding.data,
    }


def json_data(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """The JSON document of `rfdesign check -f json` as data."""
    specs = []
    for path, found, error in outcomes:
        specs.append(
            {
                "file": path,
                "error": error.render() if error is not None else None,
                "findings": [finding_data(f) for f in found or []],
            }
        )
    findings = [f for _, found, _ in outcomes for f in (found or [])]
    data = {
        "tool": "rfdesign",
        "version": __version__,
        "specs": specs,
        "summary": {
            "errors": sum(1 for f in findings if f.severity == "error"),
            "warnings": sum(1 for f in findings if f.severity == "warning"),
            "infos": sum(1 for f in findings if f.severity == "info"),
            "bad_specs": sum(1 for _, _, e in outcomes if e is not None),
        },
    }
    return data


def json_text(outcomes: Sequence[Outcome]) -> str:
    return json.dumps(json_data(outcomes), indent=2, default=str)


def _uri(path: str) -> str:
    relative = os.path.relpath(path) if os.path.isabs(path) else path
    return relative.replace(os.sep, "/")


def sarif(outcomes: Sequence[Outcome], rules: dict[str, Rule]) -> str:
    """A SARIF 2.1.0 log (the format GitHub code scanning and other tools load)."""
    codes = list(rules)
    driver = {
        "name": "rfdesign",
        "version": __version__,
        "informationUri": "https://github.com/rfdesign/rfdesign",
        "rules": [
            {
                "id": code,
                "name": rule.name,
                "shortDescription": {"text": rule.summary},
                "fullDescription": {"text": " ".join(rule.why.split())},
                "help": {"text": " ".join(rule.fix.split())},
                "helpUri": f"https://github.com/rfdesign/rfdesign/blob/main/docs/rules/{code}.md",
                "defaultConfiguration": {"level": SARIF_LEVEL[rule.severity]},
            }
            for code, rule in rules.items()
        ],
    }
    results = []
    for _, found, _ in outcomes:
        for finding in found or []:
            region: dict[str, Any] = {}
            if finding.location.line is not None:
                region["startLine"] = finding.location.line
            if finding.location.column is not None:
                region["startColumn"] = finding.location.column
            physical: dict[str, Any] = {"artifactLocation": {"uri": _uri(finding.location.file)}}
            if region:
                physical["region"] = region
            result: dict[str, Any] = {
                "ruleId": finding.code,
                "ruleIndex": codes.index(finding.code),
                "level": SARIF_LEVEL[finding.severity],
                "message": {"text": finding.message + (f" Fix: {finding.fix}." if finding.fix else "")},
                "locations": [{"physicalLocation": physical}],
            }
            if finding.layer:
                result["properties"] = {"layer": finding.layer}
            results.append(result)
    notifications = [
        {
            "level": "error",
            "message": {"text": error.render()},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": _uri(path)}}}],
        }
        for path, _, error in outcomes
        if error is not None
    ]
    invocation = {"executionSuccessful": not notifications, "toolExecutionNotifications": notifications}
    log = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{"tool": {"driver": driver}, "invocations": [invocation], "results": results}],
    }
    return json.dumps(log, indent=2)


def _escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(value: str) -> str:
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")


def github(outcomes: Sequence[Outcome]) -> str:
    """GitHub Actions workflow commands: one annotation per finding."""
    lines = []
    for path, found, error in outcomes:
        if error is not None:
            loc = error.location
            props = f"file={_escape_property(path)}"
            if loc is not None and loc.line is not None:
                props += f",line={loc.line}"
                if loc.column is not None:
                    props += f",col={loc.column}"
            lines.append(f"::error {props},title=rfdesign::{_escape_data(error.message)}")
        for finding in found or []:
            props = f"file={_escape_property(finding.location.file)}"
            if finding.location.line is not None:
                props += f",line={finding.location.line}"
            if finding.location.column is not None:
                props += f",col={finding.location.column}"
            title = _escape_property(f"{finding.code} {finding.name}")
            message = finding.message + (f" (fix: {finding.fix})" if finding.fix else "")
            lines.append(f"::{GITHUB_LEVEL[finding.severity]} {props},title={title}::{_escape_data(message)}")
    lines.append(summary(outcomes))
    return "\n".join(lines)
