"""Running sweeps: serial and pool agree, the store resumes, rows agree with the engine and `propose`."""

from __future__ import annotations

import csv
import json

import pytest
from click.testing import CliRunner

from rfdesign.cli import main
from rfdesign.rf.analysis import analyze
from rfdesign.spec.load import parse_spec
from rfdesign.sweep import ResultStore, load_sweep, run_sweep
from rfdesign.sweep.table import rows

SWEEP = """\
name: small
templates:
  - {name: chain, propose: {depth: 2:5, channels: 8:32, kernels: [1, 3, 5], dilations: [1, 2]}}
  - {spec: head.yaml}
options: {rf_relative: true, rf_tolerance: 0.15, top_k: 2}
axes:
  input_size: [32, 48, 64]
  receptive_field: [0.5, 0.8, 1.2]
  output_size: [4, 8]
"""

HEAD = """\
name: head
input: {size: [64, 64], channels: 3}
target: {receptive_field: {min: 30, max: 40}, output_size: [8, 8]}
layers:
  - {name: c1, op: conv, out: 8, kernel: {choose: [1, 3, 5]}, stride: {choose: [1, 2]}, padding: same}
  - {name: c2, op: conv, out: 8, kernel: {choose: [1, 3, 5]}, stride: {choose: [1, 2]}, dilation: {choose: [1, 2]},
     padding: same}
  - {name: c3, op: conv, out: 16, kernel: {choose: [1, 3, 5]}, stride: {choose: [1, 2]}, padding: same}
  - {name: c4, op: conv, out: 16, kernel: {choose: [1, 3]}, dilation: {choose: [1, 2, 4]}, padding: same,
     optional: true}
"""


@pytest.fixture
def sweep_path(tmp_path):
    (tmp_path / "head.yaml").write_text(HEAD)
    path = tmp_path / "small.yaml"
    path.write_text(SWEEP)
    return str(path)


def comparable(table):
    """Rows without the one column that measures this run (seconds)."""
    return [{key: value for key, value in row.items() if key != "time"} for row in table]


def test_serial_pool_and_store_give_one_table(sweep_path, tmp_path):
    sweep = load_sweep(sweep_path)
    assert len(sweep.points) == 36
    serial = run_sweep(sweep, None, jobs=1)
    assert serial.executor == "serial" and serial.solved == 36
    store = ResultStore(str(tmp_path / "store"))
    pooled = run_sweep(sweep, store, jobs=2)
    assert pooled.executor == "pool of 2"
    assert comparable(rows(serial, ("params", "flops"))) == comparable(rows(pooled, ("params", "flops")))
    assert len(store) == 36
    again = run_sweep(sweep, store, jobs=2)
    assert (again.from_store, again.solved, again.executor) == (36, 0, "store")
    assert rows(again) == rows(pooled)  # read back exactly, times included
    statuses = {row["status"] for row in rows(serial)}
    assert {"optimal", "infeasible"} <= statuses


def test_interrupted_sweep_resumes_with_only_the_missing_points(sweep_path, tmp_path):
    sweep = load_sweep(sweep_path)
    store = ResultStore(str(tmp_path / "store"))

    def stop_half_way(progress):
        if progress.solved == 15:
            raise KeyboardInterrupt

    for jobs in (1, 2):
        with pytest.raises(KeyboardInterrupt):
            run_sweep(sweep, store, jobs=jobs, force=True, progress=stop_half_way)
    stored = len(store)
    assert 15 <= stored < 36
    resumed = run_sweep(sweep, store, jobs=2)
    assert (resumed.from_store, resumed.solved) == (stored, 36 - stored)
    fresh = run_sweep(sweep, None, jobs=1)
    assert comparable(rows(resumed)) == comparable(rows(fresh))


def test_rows_agree_with_the_engine_and_with_propose(sweep_path):
    sweep = load_sweep(sweep_path)
    table = rows(run_sweep(sweep, None, jobs=1))
    designs = [row for row in table if row["rank"] is not None]
    assert len(designs) > 20
    for row in designs:
        analysis = analyze(parse_spec(row["spec"]))
        output = analysis.output
        assert (analysis.params, analysis.flops) == (row["params"], row["flops"])
        assert output.axes[0].receptive_field == row["rf"]
        low, high = (int(v) for v in row["target_rf"].split(":"))
        assert low <= row["rf"] <= high and row["rf_margin"] == row["rf"] - low
        assert output.output_size[0] == row["output"] == row["output_size"]
    # a propose point is what `rfdesign propose` answers for the same numbers
    point = next(row for row in designs if row["template"] == "chain" and row["rank"] == 1)
    low, high = point["target_rf"].split(":")
    result = CliRunner().invoke(main, [
        "propose", "--input", str(point["input_size"]), "--rf", f"{low}:{high}", "--output-size",
        str(point["output_size"]), "--depth", "2:5", "--channels", "8:32", "--kernels", "1,3,5", "--dilations", "1,2",
        "--top-k", "2", "-f", "json", "-q"])
    assert result.exit_code == 0, result.output
    proposals = json.loads(result.stdout)["proposals"]
    ranked = [row for row in designs if row["point"] == point["point"]]
    assert [p["params"] for p in proposals] == [row["params"] for row in ranked]
    assert [p["receptive_field"][0] for p in proposals] == [row["rf"] for row in ranked]


def test_cli_writes_tables_resumes_and_protects_files(sweep_path, tmp_path):
    out = tmp_path / "results.csv"
    runner = CliRunner()
    first = runner.invoke(main, ["sweep", sweep_path, "-o", str(out), "--pareto", "params,flops", "-j", "2"])
    assert first.exit_code == 0, first.output
    assert "36 points (grid) over 2 template(s)" in first.stdout
    assert "0 from the store, 36 solved" in first.stdout
    assert "Pareto front over params, flops:" in first.stdout
    with open(out, newline="") as handle:
        table = list(csv.DictReader(handle))
    with open(tmp_path / "results.pareto.csv", newline="") as handle:
        front = list(csv.DictReader(handle))
    assert {row["key"] + row["rank"] for row in table if row["pareto"] == "true"} == \
        {row["key"] + row["rank"] for row in front}
    assert front and all(row["pareto"] == "true" for row in front)
    # a rerun reads every point back and may replace its own files
    second = runner.invoke(main, ["sweep", sweep_path, "-o", str(out), "--pareto", "params,flops", "-q"])
    assert second.exit_code == 0, second.output
    assert "36 from the store, 0 solved" in second.stdout
    # a file the command did not write is never replaced without --force
    other = tmp_path / "notes.csv"
    other.write_text("my,own,data\n")
    refused = runner.invoke(main, ["sweep", sweep_path, "-o", str(other), "-q"])
    assert refused.exit_code == 2 and "not overwriting" in refused.stderr
    assert other.read_text() == "my,own,data\n"
    forced = runner.invoke(main, ["sweep", sweep_path, "-o", str(other), "--force", "-q", "--show", "none", "-j", "1"])
    assert forced.exit_code == 0 and "0 from the store, 36 solved" in forced.stdout
    dry = runner.invoke(main, ["sweep", sweep_path, "--dry-run"])
    assert dry.exit_code == 0 and "36 points: 36 stored, 0 to solve" in dry.stdout


def test_parquet_table_has_typed_columns(sweep_path, tmp_path):
    parquet = pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "results.parquet"
    result = CliRunner().invoke(main, ["sweep", sweep_path, "-o", str(out), "-q", "--show", "none", "-j", "1"])
    assert result.exit_code == 0, result.output
    table = parquet.read_table(out)
    schema = {field.name: str(field.type) for field in table.schema}
    assert schema["params"] == "int64" and schema["time"] == "double" and schema["spec"] == "string"
    assert schema["input_size"] == "int64" and schema["status"] == "string"
    assert (tmp_path / "small.sweep-store").is_dir()  # the store is beside the sweep file by default
    csv_rows = rows(run_sweep(load_sweep(sweep_path), ResultStore(str(tmp_path / "small.sweep-store"))))
    assert table.column("params").to_pylist() == [row["params"] for row in csv_rows]


def test_plot_of_the_front(sweep_path, tmp_path):
    pytest.importorskip("matplotlib")
    picture = tmp_path / "front.png"
    result = CliRunner().invoke(main, ["sweep", sweep_path, "--pareto", "params,rf_margin", "--plot", str(picture),
                                       "-q", "-j", "1"])
    assert result.exit_code == 0, result.output
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    again = CliRunner().invoke(main, ["sweep", sweep_path, "--pareto", "params,rf_margin", "--plot", str(picture),
                                      "-q"])
    assert again.exit_code == 0, again.output  # its own picture may be replaced


def test_ctrl_c_keeps_what_finished_and_the_rerun_solves_the_rest(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    (tmp_path / "head.yaml").write_text(HEAD)
    path = tmp_path / "long.yaml"
    path.write_text(SWEEP.replace("input_size: [32, 48, 64]", "input_size: {from: 32, to: 160, step: 8}"))
    store = tmp_path / "long.sweep-store"
    command = [sys.executable, "-m", "rfdesign", "sweep", str(path), "-j", "2", "--show", "none"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(store.glob("*/*.json"))) < 10:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "interrupted:" in stderr and "rerun the same command to resume" in stderr
    assert "Traceback" not in stderr
    stored = len(list(store.glob("*/*.json")))
    total = len(load_sweep(str(path)).points)
    assert 10 <= stored < total
    assert not list(store.glob("*/*.tmp")) and not list(store.glob("*/.*"))  # no half-written file
    rerun = subprocess.run(command + ["-q"], capture_output=True, text=True, timeout=120, env=os.environ)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{stored} from the store, {total - stored} solved" in rerun.stdout
