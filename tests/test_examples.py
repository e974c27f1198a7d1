"""The examples a newcomer copies from run, and say what their comments promise."""

from __future__ import annotations

import json
import subprocess
import sys

from click.testing import CliRunner

from conftest import ROOT
from rfdesign.cli import main


def run_example(name: str) -> str:
    return subprocess.run(
        [sys.executable, str(ROOT / "examples" / name)], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout


def test_analyze_from_python():
    out = run_example("analyze_from_python.py")
    assert "resnet_v1_50/block4: receptive field 483, effective stride 32, effective padding 239" in out
    assert "effective padding at 321: 241" in out


def test_design_review():
    out = run_example("design_review.py")
    assert "RF104 gridding" in out and "RF101 rf-below-target" in out
    assert "1 error(s), 1 warning(s)" in out


def test_detector_head_solves(monkeypatch):
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(main, ["solve", "examples/detector_head.yaml", "-f", "json", "-q"])
    data = json.loads(result.stdout)
    assert data["status"] == "optimal" and len(data["proposals"]) == 3
    assert all(200 <= p["receptive_field"][0] <= 220 and p["output_size"] == [14, 14] for p in data["proposals"])


def test_residual_block_analyzes(monkeypatch):
    monkeypatch.chdir(ROOT)
    data = json.loads(CliRunner().invoke(main, ["analyze", "examples/residual_block.yaml", "-f", "json"]).stdout)
    assert data["output"] == "stage3" and data["effective_stride"] == [8, 8]
    assert data["receptive_field_min"] == [3, 3]  # the identity shortcuts bypass every conv but the stem


def test_backbone_sweep_runs(monkeypatch, tmp_path):
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(main, ["sweep", "examples/backbone_sweep.yaml", "--pareto", "params,flops", "-q",
                                       "--store", str(tmp_path / "store"), "-o", str(tmp_path / "results.csv")])
    assert result.exit_code == 0, result.output
    assert "27 points (grid) over 3 template(s): 21 optimal, 6 infeasible" in result.stdout
    assert (tmp_path / "results.pareto.csv").exists()
