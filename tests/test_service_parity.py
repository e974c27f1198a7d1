"""One code path: every result the service sends is what the command prints for the same request.

Each zoo spec is analysed and checked by the CLI (in-process) and by a real
`rfdesign serve` over HTTP; the bodies must be identical, byte for byte,
and match the response models the OpenAPI document publishes.
"""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from conftest import ROOT, ZOO
from rfdesign.cli import main
from rfdesign.service import models

ZOO_SPECS = sorted(ZOO.glob("*.yaml"))
SLOW_TO_CHECK = {"wavenet_1d"}  # its review takes seconds (RF103 over 16,000 samples), locally as over HTTP
ZOO_PARAMS = [pytest.param(p, id=p.stem, marks=[pytest.mark.slow] if p.stem in SLOW_TO_CHECK else [])
              for p in ZOO_SPECS]


def cli(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code in (0, 1), result.output
    return result.stdout


@pytest.fixture(autouse=True)
def at_root(monkeypatch):
    monkeypatch.chdir(ROOT)  # the CLI names files as given: relative to the repository, as the requests do


@pytest.mark.parametrize("path", ZOO_PARAMS)
def test_zoo_analyze_and_check_are_the_cli_output(http, path):
    name = path.relative_to(ROOT).as_posix()
    spec = path.read_text()
    bodies = {}
    for command, formats in (("analyze", ("json", "table")), ("check", ("json",))):
        for fmt in formats:
            body = http.post(f"/v1/{command}", json={"spec": spec, "filename": name, "format": fmt})
            assert body.status_code == 200, body.text
            assert body.text == cli(command, name, "-f", fmt), (command, fmt)
            bodies[command, fmt] = body.text
    assert models.AnalysisReport.model_validate_json(bodies["analyze", "json"]).name
    assert models.CheckReport.model_validate_json(bodies["check", "json"]).specs[0].file == name


CHECK_CASES = [([], {}, fmt) for fmt in ("text", "sarif", "github")] + [
    (["--select", "RF1"], {"select": "RF1"}, "json"),
    (["--ignore", "RF105,RF106"], {"ignore": ["RF105", "RF106"]}, "text"),
    (["--min-rf", "500"], {"min_rf": 500}, "json"),
    (["--input-size", "321"], {"input_size": 321}, "json"),
]


@pytest.mark.parametrize("name", ["specs/zoo/unet.yaml", "specs/zoo/vgg_16.yaml"])
def test_check_formats_and_options_are_the_cli_output(http, name):
    spec = (ROOT / name).read_text()
    for flags, options, fmt in CHECK_CASES:
        body = http.post("/v1/check", json={"spec": spec, "filename": name, "format": fmt, **options})
        assert body.status_code == 200, body.text
        result = CliRunner().invoke(main, ["check", name, *flags, "-f", fmt])
        assert body.text == result.stdout, (flags, fmt)
        assert body.headers["rfdesign-exit-status"] == str(result.exit_code)


def test_analyze_options_are_the_cli_output(http):
    name = "specs/zoo/unet.yaml"
    spec = (ROOT / name).read_text()
    cases = [
        (["--layer", "up1/concat"], {"layer": "up1/concat"}, models.LayerReport),
        (["--unit", "10,20"], {"unit": "10,20"}, models.CoordinatesReport),
        (["--pixel", "100,100", "--layer", "down2/conv2"], {"pixel": [100, 100], "layer": "down2/conv2"},
         models.CoordinatesReport),
        (["--input-size", "380"], {"input_size": 380}, models.AnalysisReport),
        (["--output", "down3/conv1"], {"output": "down3/conv1"}, models.AnalysisReport),
    ]
    for flags, options, model in cases:
        for fmt in ("json", "markdown", "csv", "table"):
            body = http.post("/v1/analyze", json={"spec": spec, "filename": name, "format": fmt, **options})
            assert body.status_code == 200, body.text
            assert body.text == cli("analyze", name, *flags, "-f", fmt), (flags, fmt)
            if fmt == "json":
                model.model_validate_json(body.text)


def test_darknet_upload_is_the_cli_output(http, monkeypatch):
    folder = ROOT / "tests" / "fixtures" / "darknet" / "pjreddie"
    monkeypatch.chdir(folder)
    for name in ("yolov3-tiny.cfg", "resnet18.cfg"):
        data = (folder / name).read_bytes()
        for endpoint, command in (("/v1/analyze", "analyze"), ("/v1/check", "check")):
            body = http.post(endpoint, files={"file": (name, data)}, data={"format": "json"})
            assert body.status_code == 200, body.text
            assert body.text == cli(command, name, "-f", "json")


def _without_timing(text: str) -> str:
    text = re.sub(r'"elapsed": [0-9.]+', '"elapsed": 0', text)
    text = re.sub(r"elapsed: [0-9.]+", "elapsed: 0", text)
    return re.sub(r"in [0-9.]+ s \(", "in 0 s (", text)


SOLVABLE = ["examples/detector_head.yaml"]


@pytest.mark.parametrize("name", SOLVABLE)
def test_solve_results_are_the_cli_output(http, name):
    spec = (ROOT / name).read_text()
    for fmt in ("json", "table", "yaml"):
        body = http.post(f"/v1/solve?wait=120&format={fmt}", json={"spec": spec, "filename": name, "top_k": 2})
        assert body.status_code == 200, body.text
        local = CliRunner().invoke(main, ["solve", name, "--top-k", "2", "-f", fmt, "-q"])
        assert _without_timing(body.text) == _without_timing(local.stdout), fmt
        assert body.headers["rfdesign-exit-status"] == str(local.exit_code)
        if fmt == "json":
            models.SolveReport.model_validate_json(body.text)


def test_propose_results_are_the_cli_output(http):
    flags = ["--input", "64", "--rf", "30:40", "--output-size", "8", "--depth", "3:4", "--top-k", "2"]
    body = http.post("/v1/propose?wait=120", json={"input": 64, "rf": "30:40", "output_size": 8, "depth": "3:4",
                                                   "top_k": 2})
    assert body.status_code == 200, body.text
    local = CliRunner().invoke(main, ["propose", *flags, "-f", "json", "-q"])
    assert _without_timing(body.text) == _without_timing(local.stdout)
    assert json.loads(body.text)["proposals"]


def test_z3_solves_are_the_output_of_a_fresh_cli(http, tmp_path):
    """z3 breaks ties by its context's history: each job starts from a fresh one, as a new `rfdesign solve` does."""
    import subprocess
    import sys

    spec = """\
name: dag
input: {size: [64, 64], channels: 8}
target: {receptive_field: {min: 20, max: 24}, output_size: [16, 16], top_k: 3}
layers:
  - {name: a, op: conv, out: 16, kernel: {choose: [1, 3, 5]}, stride: {choose: [1, 2]}, padding: same}
  - {name: b, op: conv, out: 16, kernel: {choose: [1, 3, 5]}, stride: {choose: [1, 2]}, padding: same}
  - {name: c, op: conv, from: a, out: 16, kernel: {choose: [1, 3]}, stride: {choose: [1, 2]}, padding: same}
  - {name: sum, op: add, from: [b, c]}
  - {name: d, op: conv, out: 16, kernel: {choose: [1, 3, 5]}, dilation: {choose: [1, 2]}, padding: same}
"""
    path = tmp_path / "dag.yaml"
    path.write_text(spec)
    for timeout in (60, 61, 62):  # three jobs: at least one runs on a worker that has solved before
        body = http.post("/v1/solve?wait=120", json={"spec": spec, "filename": str(path), "timeout": timeout,
                                                     "method": "z3"})
        assert body.status_code == 200, body.text
        local = subprocess.run([sys.executable, "-m", "rfdesign", "solve", str(path), "-f", "json", "-q",
                                "--timeout", str(timeout), "--method", "z3"], capture_output=True, text=True,
                               timeout=120)
        assert json.loads(body.text)["method"] == "z3"
        assert _without_timing(body.text) == _without_timing(local.stdout)


@pytest.mark.parametrize("flags, options", [
    (["--allow", "RF104,RF103"], {"allow": "RF104,RF103"}),
    (["--forbid", "RF109"], {"forbid": ["RF109"]}),
    (["--objective", "activations"], {"objective": "activations"}),
    (["--allow", "all", "--top-k", "2"], {"allow": "all", "top_k": 2}),
])
def test_solve_rule_options_are_the_cli_output(http, flags, options):
    name = "examples/detector_head.yaml"
    body = http.post("/v1/solve?wait=120", json={"spec": (ROOT / name).read_text(), "filename": name, **options})
    assert body.status_code == 200, body.text
    local = CliRunner().invoke(main, ["solve", name, *flags, "-f", "json", "-q"])
    assert _without_timing(body.text) == _without_timing(local.stdout)
    models.SolveReport.model_validate_json(body.text)


@pytest.mark.parametrize("flags, options", [
    (["--input", "64", "--rf", "30:60", "--family", "resnet", "--depth", "3:4", "--output-size", "8"],
     {"input": 64, "rf": [30, 60], "family": "resnet", "depth": "3:4", "output_size": [8, 8]}),
    (["--input", "256", "--dims", "1", "--rf", "30:60", "--family", "tcn", "--depth", "2:3", "--norm", "none"],
     {"input": "256", "dims": 1, "rf": "30:60", "family": "tcn", "depth": {"min": 2, "max": 3}, "norm": "none"}),
])
def test_propose_families_are_the_cli_output(http, flags, options):
    body = http.post("/v1/propose?wait=120", json=options)
    assert body.status_code == 200, body.text
    local = CliRunner().invoke(main, ["propose", *flags, "-f", "json", "-q"])
    assert _without_timing(body.text) == _without_timing(local.stdout)
    job = http.get(f"/v1/jobs/{body.headers['rfdesign-job']}/spec").text
    assert job.startswith(f"# {options['family']} template made by `rfdesign propose`")
