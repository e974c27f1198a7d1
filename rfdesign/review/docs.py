"""Rule documentation as Markdown: the source of `rfdesign rule CODE` and docs/rules/.

``python -m rfdesign.review.docs docs/rules`` rewrites docs/rules/ from the
rules' own fields; a test checks the files are current.
"""

from __future__ import annotations

import pathlib
import sys

from rfdesign.review.rule import Rule, all_rules


def rule_markdown(rule: Rule) -> str:
    """One rule's page: what it checks, why it matters, an example that fires, the fix."""
    lines = [
        f"# {rule.code} `{rule.name}`",
        "",
        f"Default severity: **{rule.severity}**",
        "",
        "## What it checks",
        "",
        rule.summary,
        "",
        "## Why it matters",
        "",
        rule.why,
        "",
        "## Example that fires",
        "",
        "```yaml",
        rule.example,
        "```",
        "",
        "`rfdesign check example.yaml` reports:",
        "",
        "```",
        *example_findings(rule),
        "```",
        "",
        "## Fix",
        "",
        rule.fix,
        "",
    ]
    if rule.options:
        lines += ["## Options (`review.options` in the spec)", ""]
        lines += [f"- `{name}`: {meaning}" for name, meaning in rule.options]
        lines.append("")
    lines += [
        "## Silencing",
        "",
        f"`rfdesign check --ignore {rule.code}`, or in the spec: `review: {{ignore: [{rule.code}]}}`;",
        f"change its severity with `review: {{severity: {{{rule.code}: info}}}}`.",
        "",
    ]
    return "\n".join(lines)


def example_findings(rule: Rule) -> list[str]:
    """The lines `rfdesign check` prints for the rule's own example."""
    from rfdesign.review.runner import review
    from rfdesign.spec.load import parse_spec

    result = review(parse_spec(rule.example, "example.yaml"))
    return [
        f"{f.location}: {f.code} [{f.severity}] {f.message}" + (f" (fix: {f.fix})" if f.fix else "")
        for f in result.findings
        if f.code == rule.code
    ]


def index_markdown() -> str:
    lines = [
        "# Rules of `rfdesign check`",
        "",
        "Generated from the rules themselves (`python -m rfdesign.review.docs docs/rules`).",
        "",
        "| code | name | default severity | checks |",
        "|---|---|---|---|",
    ]
    for code, rule in all_rules().items():
        lines.append(f"| [{code}]({code}.md) | `{rule.name}` | {rule.severity} | {rule.summary} |")
    return "\n".join(lines) + "\n"


def pages() -> dict[str, str]:
    """File name -> content for docs/rules/."""
    result = {f"{code}.md": rule_markdown(rule) for code, rule in all_rules().items()}
    result["README.md"] = index_markdown()
    return result


def main(argv: list[str]) -> int:
    target = pathlib.Path(argv[0] if argv else "docs/rules")
    target.mkdir(parents=True, exist_ok=True)
    for name, text in pages().items():
        (target / name).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
