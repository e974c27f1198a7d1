"""`rfdesign solve` and `rfdesign propose` as a user runs them: outputs, files, limits, errors."""

from __future__ import annotations

import json
import time

from click.testing import CliRunner

from rfdesign.cli import main
from rfdesign.review.runner import review
from rfdesign.solve.problem import build_problem
from rfdesign.solve.search import solve
from rfdesign.spec import parse_spec

TEMPLATE = """\
name: head
input: {size: [64, 64], channels: 3}
target:
  receptive_field: {min: 30, max: 40}
  output_size: [8, 8]
  top_k: 3
layers:
  - {name: c1, op: conv, out: 16, kernel: {choose: [1, 3, 5]}, stride: {choose: [1, 2]}, padding: same}
  - {name: c2, op: conv, out: 16, kernel: {choose: [1, 3, 5]}, stride: {choose: [1, 2]}, dilation: {choose: [1, 2]}, padding: same}
  - {name: c3, op: conv, out: 32, kernel: {choose: [1, 3, 5]}, stride: {choose: [1, 2]}, dilation: {choose: [1, 2]}, padding: same}
  - {name: c4, op: conv, out: 32, kernel: {choose: [1, 3]}, dilation: {choose: [1, 2, 4]}, padding: same, optional: true}
"""


def chain(depth: int, low: int, high: int) -> str:
    lines = ["name: chain", "input: {size: [256, 256], channels: 3}",
             f"target: {{receptive_field: {{min: {low}, max: {high}}}, output_size: [16, 16]}}", "layers:"]
    for layer in range(depth):
        lines.append(f"  - {{op: conv, out: {32 * 2 ** (layer * 4 // depth)}, kernel: {{choose: [1, 3, 5, 7]}}, "
                     "stride: {choose: [1, 2]}, dilation: {choose: [1, 2, 4, 8]}, padding: same, bias: false}")
    return "\n".join(lines) + "\n"


def test_json_contract(write_spec):
    path = write_spec(TEMPLATE)
    result = CliRunner().invoke(main, ["solve", str(path), "-f", "json", "-q"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["status"] == "optimal"
    assert len(data["proposals"]) == 3
    costs = [p["params"] for p in data["proposals"]]
    assert costs == sorted(costs)
    for proposal in data["proposals"]:
        for key in ("params", "flops", "receptive_field", "effective_stride", "output_size", "layers", "spec"):
            assert key in proposal
        assert 30 <= proposal["receptive_field"][0] <= 40 and proposal["output_size"] == [8, 8]
        for layer in proposal["layers"]:
            assert set(layer) == {"name", "kernel", "stride", "dilation", "kept"}
        # the complete spec is valid and meets its target
        graph = parse_spec(proposal["spec"])
        assert not [f for f in review(graph).findings if f.code in ("RF101", "RF111", "RF112")]


def test_out_directory_and_no_overwrite(write_spec, tmp_path):
    path = write_spec(TEMPLATE)
    out = tmp_path / "proposals"
    runner = CliRunner()
    assert runner.invoke(main, ["solve", str(path), "--out", str(out), "-q"]).exit_code == 0
    written = sorted(p.name for p in out.iterdir())
    assert written == ["head_1.yaml", "head_2.yaml", "head_3.yaml"]
    for name in written:
        analysed = runner.invoke(main, ["analyze", str(out / name), "-f", "json"])
        assert analysed.exit_code == 0
        assert runner.invoke(main, ["check", str(out / name), "--select", "RF101,RF111,RF112"]).exit_code == 0
    again = runner.invoke(main, ["solve", str(path), "--out", str(out), "-q"])
    assert again.exit_code == 2 and "exists; not overwriting" in again.stderr
    assert runner.invoke(main, ["solve", str(path), "--out", str(out), "-q", "--force"]).exit_code == 0


def test_yaml_and_table_formats(write_spec):
    path = write_spec(TEMPLATE)
    runner = CliRunner()
    table = runner.invoke(main, ["solve", str(path), "-q"]).stdout
    assert table.startswith("status: optimal (proven)") and "proposal 3:" in table
    import yaml

    data = yaml.safe_load(runner.invoke(main, ["solve", str(path), "-q", "-f", "yaml"]).stdout)
    assert data["status"] == "optimal" and data["proposals"][0]["spec"].startswith("# Proposal 1")


def test_infeasible_says_why_with_numbers(write_spec):
    path = write_spec(TEMPLATE.replace("{min: 30, max: 40}", "{min: 500}"))
    result = CliRunner().invoke(main, ["solve", str(path), "-q"])
    assert result.exit_code == 1
    assert "infeasible" in result.stdout and "< 500" in result.stdout
    path = write_spec(TEMPLATE.replace("output_size: [8, 8]", "output_size: [3, 3]"), "size.yaml")
    result = CliRunner().invoke(main, ["solve", str(path), "-q", "-f", "json"])
    data = json.loads(result.stdout)
    assert data["status"] == "infeasible" and any("output" in reason for reason in data["reasons"])


def test_infeasible_chain_names_the_largest_reachable_field(write_spec):
    path = write_spec(chain(4, 5000, 5100))
    data = json.loads(CliRunner().invoke(main, ["solve", str(path), "-q", "-f", "json"]).stdout)
    assert data["status"] == "infeasible" and data["method"] == "dp"
    assert any("largest receptive field reachable" in reason and "< 5000" in reason for reason in data["reasons"])


def test_timeout_is_honoured():
    """A chain forced onto the z3 model that z3 cannot close in time: best design so far, within the limit."""
    problem = build_problem(parse_spec(chain(16, 700, 720)))
    start = time.monotonic()
    result = solve(problem, timeout=3.0, method="z3")
    elapsed = time.monotonic() - start
    assert result.status in ("feasible", "unknown")
    assert elapsed < 3.0 * 1.1 + 1.0, elapsed  # 10%, plus the engine's final check of the proposal
    for proposal in result.proposals:
        assert proposal.evaluation.meets_target


def test_progress_is_reported():
    seen = []
    problem = build_problem(parse_spec(TEMPLATE.replace("top_k: 3", "top_k: 1")))
    solve(problem, timeout=30, progress=seen.append, method="z3")
    assert seen and all(p.found >= 0 for p in seen)


def test_constraints_hold_in_every_proposal(write_spec):
    text = TEMPLATE.replace("  top_k: 3\n", "  top_k: 3\n  constraints: {no_unseen_pixels: true, no_gridding: true}\n")
    path = write_spec(text)
    data = json.loads(CliRunner().invoke(main, ["solve", str(path), "-q", "-f", "json"]).stdout)
    assert data["status"] == "optimal"
    for proposal in data["proposals"]:
        findings = review(parse_spec(proposal["spec"])).findings
        assert not [f for f in findings if f.code in ("RF103", "RF104")]


def test_propose_writes_its_template_and_solves_it(tmp_path):
    template = tmp_path / "template.yaml"
    args = ["propose", "--input", "224", "--rf", "200:220", "--output-size", "14", "--depth", "4:8",
            "--template-out", str(template), "-f", "json", "-q"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["status"] == "optimal"
    best = data["proposals"][0]
    assert 200 <= best["receptive_field"][0] <= 220 and best["output_size"] == [14, 14]
    assert 4 <= best["depth"] <= 8
    # the written template is a spec that `solve` accepts and gives the same optimum
    again = json.loads(CliRunner().invoke(main, ["solve", str(template), "-f", "json", "-q"]).stdout)
    assert again["proposals"][0]["params"] == best["params"]
    assert CliRunner().invoke(main, args).exit_code == 2  # the template exists now


def test_no_holes_and_no_target_are_clear_errors(write_spec):
    runner = CliRunner()
    result = runner.invoke(main, ["solve", str(write_spec("name: x\ninput: {size: [8, 8]}\nlayers: [{op: conv, kernel: 3}]\n"))])
    assert result.exit_code == 2 and "no `target:` block" in result.stderr
    text = "name: x\ninput: {size: [8, 8]}\ntarget: {receptive_field: 3}\nlayers: [{op: conv, kernel: 3}]\n"
    result = runner.invoke(main, ["solve", str(write_spec(text, "b.yaml"))])
    assert result.exit_code == 2 and "no free choices" in result.stderr
