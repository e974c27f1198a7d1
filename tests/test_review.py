"""`rfdesign check`: every rule fires on its documented example with the right numbers,
and stays silent on a near miss; settings, formats and exit codes."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from rfdesign.cli import main
from rfdesign.review.config import ReviewConfig
from rfdesign.review.docs import pages
from rfdesign.review.rule import all_rules
from rfdesign.review.runner import review
from rfdesign.spec import parse_spec

from conftest import ROOT

RULES = all_rules()


def findings(text: str, code: str | None = None, config: ReviewConfig | None = None):
    result = review(parse_spec(text, "spec.yaml"), config)
    return [f for f in result.findings if code is None or f.code == code]


# code -> (substrings of the message on the rule's own example, near-miss spec text)
EXPECTED = {
    "RF101": (["receptive field 15", "85 px below the target 100"], RULES["RF101"].example.replace("min: 100", "min: 15")),
    "RF102": (["2 layers", "`conv_6`, `conv_7`", "73,856 parameters"], RULES["RF102"].example.rsplit("\n", 2)[0]),
    "RF103": (["71.8%", "15 of 32 rows", "`conv_1` (stride 2 > effective kernel 1)"],
              RULES["RF103"].example.replace("kernel: 1, stride: 2", "kernel: 2, stride: 2")),
    "RF104": (["dilations 2, 2, 2", "common factor 2", "7 of the 13 positions"],
              "name: hdc\ninput: {size: [64, 64]}\nlayers:\n"
              "  - {op: conv, out: 32, kernel: 3, dilation: 1, padding: 1}\n"
              "  - {op: conv, out: 32, kernel: 3, dilation: 2, padding: 2}\n"
              "  - {op: conv, out: 32, kernel: 3, dilation: 3, padding: 3}\n"),
    "RF105": (["`add_1`", "centres differ by 1/2 px along both axes"],
              RULES["RF105"].example.replace("kernel: 2, padding: [[0, 1], [0, 1]]", "kernel: 3, padding: 1")),
    "RF106": (["off-centre by 1/2 px along both axes", "towards the end", "`conv_1` (+1/2)"],
              RULES["RF106"].example.replace("kernel: 2", "kernel: 3")),
    "RF107": (["the last 2 rows and the last 2 columns", "225x225", "`conv_2`"],
              RULES["RF107"].example.replace("[225, 225]", "[227, 227]")),
    "RF108": (["receptive field 91", "2.8x the input size 32", "first passes 64 at `conv_4`"],
              RULES["RF108"].example.rsplit("\n", 2)[0]),
    "RF109": (["256 of the 256 output units", "25x25 receptive field", "16x16 input"],
              RULES["RF109"].example.replace("[16, 16]", "[64, 64]")),
    "RF110": (["`conv_1` (7x7, 64->64 channels, 200,768 params)", "3 stacked", "110,784 params (45% fewer)"],
              RULES["RF110"].example.replace("kernel: 7, padding: 3", "kernel: 3, padding: 1")),
    "RF111": (["receptive field 13", "maximum 9 by 4 px"], RULES["RF111"].example.replace("max: 9", "max: 13")),
    "RF112": (["output size 56", "target's 14"], RULES["RF112"].example.replace("[14, 14]", "[56, 56]")),
}


def test_every_rule_has_a_test():
    assert set(EXPECTED) == set(RULES)


@pytest.mark.parametrize("code", sorted(EXPECTED))
def test_rule_fires_on_its_example(code):
    found = findings(RULES[code].example, code)
    assert len(found) == 1, found
    for words in EXPECTED[code][0]:
        assert words in found[0].message
    assert found[0].severity == RULES[code].severity
    assert found[0].location.line is not None


@pytest.mark.parametrize("code", sorted(EXPECTED))
def test_rule_is_silent_on_a_near_miss(code):
    assert findings(EXPECTED[code][1], code) == []


def test_rf101_min_rf_option_applies_without_target():
    text = "name: x\ninput: {size: [64, 64]}\nlayers:\n  - {op: conv, out: 8, kernel: 3, padding: 1}\n"
    assert findings(text, "RF101") == []
    config = ReviewConfig().merged(options={"min_rf": 10})
    found = findings(text, "RF101", config)
    assert len(found) == 1 and "7 px below the target 10" in found[0].message


def test_rf101_per_axis_target_names_the_axis():
    text = (
        "name: x\ninput: {size: [64, 64]}\ntarget: {receptive_field: [{min: 3}, {min: 9}]}\n"
        "layers:\n  - {op: conv, out: 8, kernel: [3, 5], padding: [1, 2]}\n"
    )
    found = findings(text, "RF101")
    assert len(found) == 1 and "receptive field 5" in found[0].message and "columns (width)" in found[0].message


def test_rf104_wavenet_doubling_rates_are_dense():
    layers = "".join(
        f"  - {{op: conv, out: 8, kernel: 2, dilation: {2**i}, padding: [[{2**i}, 0]]}}\n" for i in range(8)
    )
    assert findings("name: w\ninput: {size: [1000]}\nlayers:\n" + layers, "RF104") == []


def test_rf104_suggests_dense_rates():
    (finding,) = findings(RULES["RF104"].example, "RF104")
    from rfdesign.rf.dilation import holes

    assert finding.data["suggestion"] is not None
    assert holes([3, 3, 3], finding.data["suggestion"])[0] == 0


def test_rf107_suggested_sizes_really_avoid_truncation():
    (finding,) = findings(RULES["RF107"].example, "RF107")
    assert finding.data["suggested_sizes"] == [223, 227]
    for size in finding.data["suggested_sizes"]:
        text = RULES["RF107"].example.replace("[225, 225]", f"[{size}, {size}]")
        assert findings(text, "RF107") == []


def test_spec_review_settings(write_spec):
    text = RULES["RF110"].example + "\nreview:\n  ignore: [RF110]\n"
    assert findings(text, "RF110") == []
    text = RULES["RF110"].example + "\nreview:\n  severity: {RF110: error}\n"
    (finding,) = findings(text, "RF110")
    assert finding.severity == "error"
    text = RULES["RF110"].example + "\nreview:\n  options: {min_saving: 0.5}\n"
    assert findings(text, "RF110") == []


def test_bad_review_settings_are_located(write_spec):
    path = write_spec(RULES["RF110"].example + "\nreview:\n  ignore: [RF999]\n")
    result = CliRunner().invoke(main, ["check", str(path)])
    assert result.exit_code == 2
    assert f"{path}:6:11: error: `review.ignore`: no rule matches 'RF999'" in result.stderr


def test_cli_exit_codes_and_select(write_spec):
    bad = write_spec(RULES["RF101"].example, "bad.yaml")
    runner = CliRunner()
    assert runner.invoke(main, ["check", str(bad)]).exit_code == 1
    assert runner.invoke(main, ["check", str(bad), "--exit-zero"]).exit_code == 0
    assert runner.invoke(main, ["check", str(bad), "--ignore", "RF101"]).exit_code == 0
    selected = runner.invoke(main, ["check", str(bad), "--select", "RF106"])
    assert selected.exit_code == 0 and "RF106" in selected.stdout and "RF101" not in selected.stdout
    assert runner.invoke(main, ["check", str(bad), "--select", "XX1"]).exit_code == 2


def test_cli_text_format_one_finding_per_line(write_spec):
    path = write_spec(RULES["RF103"].example)
    out = CliRunner().invoke(main, ["check", str(path)]).stdout.strip().splitlines()
    assert out[-1].startswith("Found ")
    for line in out[:-1]:
        assert line.startswith(f"{path}:") and " RF1" in line


def test_cli_several_specs_and_globs(tmp_path):
    for code in ("RF101", "RF104"):
        (tmp_path / f"{code}.yaml").write_text(RULES[code].example)
    result = CliRunner().invoke(main, ["check", str(tmp_path / "*.yaml"), "-f", "json"])
    data = json.loads(result.stdout)
    assert [spec["file"].rsplit("/", 1)[1] for spec in data["specs"]] == ["RF101.yaml", "RF104.yaml"]
    assert data["summary"]["errors"] == 1
    assert result.exit_code == 1


def test_cli_bad_spec_among_good_ones_exits_2(write_spec):
    good = write_spec(RULES["RF106"].example, "good.yaml")
    bad = write_spec("name: x\n", "bad.yaml")
    result = CliRunner().invoke(main, ["check", str(good), str(bad)])
    assert result.exit_code == 2
    assert "bad.yaml:1:1: error: missing required key `input`" in result.stderr


def test_sarif_is_well_formed(write_spec):
    path = write_spec(RULES["RF103"].example)
    log = json.loads(CliRunner().invoke(main, ["check", str(path), "-f", "sarif"]).stdout)
    assert log["version"] == "2.1.0" and log["$schema"].endswith("sarif-2.1.0.json")
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == sorted(RULES)
    assert run["results"], "the example produces results"
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] in ("error", "warning", "note")
        region = result["locations"][0]["physicalLocation"]["region"]
        assert region["startLine"] >= 1 and region["startColumn"] >= 1
        assert result["message"]["text"]
    assert run["invocations"][0]["executionSuccessful"] is True


def test_github_annotations(write_spec):
    path = write_spec(RULES["RF101"].example)
    lines = CliRunner().invoke(main, ["check", str(path), "-f", "github"]).stdout.splitlines()
    errors = [line for line in lines if line.startswith("::error ")]
    assert len(errors) == 1
    assert f"file={path},line=" in errors[0] and "title=RF101 rf-below-target::" in errors[0]


def test_rule_command():
    runner = CliRunner()
    listing = runner.invoke(main, ["rule"]).stdout
    assert all(code in listing for code in RULES)
    page = runner.invoke(main, ["rule", "RF104"]).stdout
    assert page.startswith("# RF104 `gridding`") and "## Fix" in page and "Wang et al." in page
    assert runner.invoke(main, ["rule", "gridding"]).exit_code == 0
    assert runner.invoke(main, ["rule", "RF999"]).exit_code == 2


def test_rule_docs_are_current():
    docs = ROOT / "docs" / "rules"
    for name, text in pages().items():
        assert (docs / name).read_text() == text, f"docs/rules/{name} is stale: python -m rfdesign.review.docs docs/rules"
