"""Design rules as solver constraints: a forbidden rule means exactly what `rfdesign check` reports.

A constraint is a rule code (``forbid: [RF103, RF104]``). A design breaks it
when :func:`rfdesign.review.runner.review`, run on the design with the spec's
review options, reports that code: the solvers never re-implement a rule's
meaning. What they add is *pruning*: conditions that every design meeting the
rule satisfies (so pruning never loses a design the rule accepts), checked
early, and the real rule as the final word on every proposal. Because every
reported design passed the real rule and only designs some rule rejects are
pruned, "optimal" keeps its meaning: the cheapest design the review accepts.

Defaults: ``propose`` and ``solve`` forbid the warning-level rules a design
can break (:data:`DEFAULT_FORBID`), unless the user allows it (``allow:``,
``--allow``) or the spec's ``review:`` block turns it off. When the target
itself makes a default rule impossible to meet, the solver says so once
(:attr:`SolveResult.relaxed`) and solves without it; a rule the user forbade
explicitly is never relaxed.

A *prefix* of a design is the sub-network from the input to a node that
every path to the output goes through (a dominator: a chain layer, a
residual block's add). What a prefix already breaks, the whole design breaks:

* pixels the prefix leaves unseen (with its end node's every unit read) stay
  unseen, since later layers can only read fewer of its units: RF103 or RF107
  (trailing pixels: RF107; when both are forbidden, any unseen pixel);
* a merge inside the prefix is aligned or not whatever follows (RF105);
* a convolution whose input already sees the whole image (RF102);
* a finished stack of dilated convolutions (one a strided layer, a pool or a
  merge has ended) grids or not whatever follows (RF104).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from rfdesign import ops
from rfdesign.errors import SpecError
from rfdesign.review.config import ReviewConfig
from rfdesign.review.finding import Finding
from rfdesign.rf.analysis import Analysis
from rfdesign.rf.coverage import coverage, gaps
from rfdesign.spec.graph import INPUT, Graph

#: the warning-level rules a design can break, forbidden by default (relaxed last to first when forced).
#: RF109 (border-dominated) is not among them: whether most units see mostly padding is decided by the
#: target's receptive field against the input, down to half-pixel offsets of the grid, so the solver
#: reports it on each proposal instead (forbid it by name to make it a constraint)
DEFAULT_FORBID: tuple[str, ...] = ("RF103", "RF104", "RF105", "RF107", "RF102", "RF108")
#: the old constraint names, kept as aliases of rule codes
ALIASES: dict[str, str] = {"no_unseen_pixels": "RF103", "no_gridding": "RF104"}
#: rules that only depend on a prefix's own nodes, checked on prefixes (see the module docstring)
PREFIX_RULES = frozenset({"RF102", "RF103", "RF104", "RF105", "RF107"})


@dataclass(frozen=True)
class RuleSet:
    """Which rules a design must not break, and with which review options.

    ``explicit`` are the codes the user forbade by name (never relaxed
    automatically); ``relaxed`` the default rules the target makes
    impossible, each with the reason, which the solver reports once.
    """

    forbid: tuple[str, ...] = ()
    explicit: frozenset[str] = frozenset()
    config: ReviewConfig = field(default_factory=ReviewConfig)
    relaxed: tuple[tuple[str, str], ...] = ()

    def __contains__(self, code: str) -> bool:
        return code in self.forbid

    def without(self, code: str, reason: str) -> RuleSet:
        """The same rules with ``code`` relaxed for ``reason``."""
        return RuleSet(
            tuple(c for c in self.forbid if c != code),
            self.explicit,
            self.config,
            self.relaxed + ((code, reason),),
        )

    def findings(self, graph: Graph, analysis: Analysis, codes: Iterable[str] | None = None) -> list[Finding]:
        """What the review reports on a concrete design for the forbidden rules (or ``codes``)."""
        from rfdesign.review.runner import review

        chosen = tuple(self.forbid if codes is None else codes)
        if not chosen:
            return []
        config = ReviewConfig(select=chosen, options=dict(self.config.options))
        return list(review(graph, config, analysis).findings)


def rule_codes(value: object, what: str, where: object, known: list[str]) -> list[str]:
    """Rule codes from a list (or a comma-separated string); each must name a rule exactly."""
    from rfdesign.spec.suggest import did_you_mean

    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SpecError(f"{what} must be a list of rule codes such as [RF103, RF104]", where)  # type: ignore[arg-type]
    codes = []
    for code in value:
        upper = code.upper()
        if upper not in known:
            raise SpecError(
                f"{what}: no rule {code!r}", where, did_you_mean(upper, known) or "`rfdesign rule` lists them"  # type: ignore[arg-type]
            )
        codes.append(upper)
    return codes


def prefix_violations(rules: RuleSet, analysis: Analysis, end: str) -> list[str]:
    """Why every design sharing this prefix (the ancestors of ``end``, a dominator) breaks a rule.

    ``analysis`` is of any concrete design containing the prefix; only the
    ancestors of ``end`` are read. Empty when nothing is certain yet.
    """
    reasons = []
    forbid = rules.forbid
    if "RF103" in forbid or "RF107" in forbid:
        seen = coverage(analysis, [end]).seen_pixels()
        leading = interior = trailing = False
        for units, n in zip(seen, analysis.input_size):
            first, middle, last = gaps(units, n)
            leading, interior, trailing = leading or bool(first), interior or bool(middle), trailing or bool(last)
        if "RF107" in forbid and trailing:
            reasons.append(f"RF107: the prefix to `{end}` already leaves the last pixels unseen")
        elif "RF103" in forbid and "RF107" in forbid and (leading or interior):
            reasons.append(f"RF103/RF107: the prefix to `{end}` already leaves pixels unseen")
    if "RF105" in forbid or "RF102" in forbid or "RF104" in forbid:
        inside = prefix_nodes(analysis.graph, end)
        for finding in _prefix_findings(rules, analysis, end, inside):
            reasons.append(f"{finding.code}: {finding.message}")
    return reasons


def prefix_nodes(graph: Graph, end: str) -> set[str]:
    from rfdesign.spec.graph import ancestors

    return ancestors(graph.nodes, [end])


def _prefix_findings(rules: RuleSet, analysis: Analysis, end: str, inside: set[str]) -> list[Finding]:
    """RF102, RF104 and RF105 findings that the prefix alone already decides."""
    codes = [code for code in ("RF102", "RF104", "RF105") if code in rules.forbid]
    graph = analysis.graph
    open_run = _open_tail(graph, end)
    found = []
    for finding in rules.findings(graph, analysis, codes):
        if finding.code == "RF105":
            if finding.layer in inside:
                found.append(finding)
        elif finding.code == "RF102":
            layers = [name for name in finding.data.get("layers", []) if name in inside]
            if layers:
                found.append(finding)
        else:  # RF104: a stack inside the prefix that nothing after it can extend
            members = finding.data.get("layers", [])
            if members and all(name in inside for name in members) and not (set(members) & open_run):
                found.append(finding)
    return found


def _open_tail(graph: Graph, end: str) -> set[str]:
    """The layers of the stack that ends at ``end`` and may go on after it (empty when ``end`` ends every stack).

    A stack is a run of stride-1 convolutions along a chain of single-input
    conv / pass-through layers (rfdesign.rf.dilation.chain_paths); a strided
    convolution, a pool or a merge ends it.
    """
    tail: set[str] = set()
    name = end
    while name != INPUT:
        node = graph.nodes[name]
        if node.op not in (ops.CONV, ops.IDENTITY, ops.NORM) or len(node.inputs) != 1:
            break
        if node.op == ops.CONV and all(s != 1 for s in node.attrs.stride):
            break  # strided on every axis: it ends every stack (one strided on some axes ends fewer)
        tail.add(name)
        name = node.inputs[0]
    return tail


def border_dominance_possible(
    size: int, units: int, stride: int, receptive_field: int, dims: int, options: dict[str, object]
) -> bool:
    """Whether some placement of the output's regions could pass RF109, the rest of the design being free.

    The output has ``units`` units per axis, ``stride`` apart, each seeing
    ``receptive_field`` pixels of an input of ``size`` (every axis alike).
    Only where unit 0's region starts is left open: every start is tried,
    with the rule's own arithmetic. False means that every design with this
    output breaks RF109, so the solver may drop the state.
    """
    return _border_possible(size, units, stride, receptive_field, dims, float(options["border_fraction"]),  # type: ignore[arg-type]
                            float(options["border_units"]))  # type: ignore[arg-type]  # fmt: skip


@lru_cache(maxsize=65536)
def _border_possible(size: int, units: int, stride: int, field: int, dims: int, fraction: float, share: float) -> bool:
    from fractions import Fraction

    from rfdesign.review.rules.rf109_border_dominated import count_below, inside_shares
    from rfdesign.rf.maps import Group

    padding_share = Fraction(str(fraction))
    unit_share = Fraction(str(share))
    total = units**dims
    threshold = 1 - padding_share
    # a start below -(field - 1) or past the input's end leaves unit 0 outside; the extremes bound the search
    for start in range(-(field - 1), size):
        region = (Group(1, stride, (start,), (start + field - 1,), (field - 1,)),)
        shares = inside_shares(region, units, size)
        if Fraction(count_below([shares] * dims, threshold), total) <= unit_share:
            return True
    return False
