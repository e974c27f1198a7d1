"""Sweeps on a real Dask cluster (distributed.LocalCluster, 2 worker processes) started here."""

from __future__ import annotations

import os
import signal

import pytest

from rfdesign.sweep import load_sweep, run_sweep
from rfdesign.sweep.table import rows

distributed = pytest.importorskip("distributed")

SWEEP = """\
name: seeded
templates:
  - {propose: {depth: 2:6, channels: 8:32, kernels: [1, 3, 5], dilations: [1, 2]}}
  - {spec: residual.yaml}
options: {rf_relative: true, rf_tolerance: 0.2, top_k: 2}
axes:
  input_size: {from: 32, to: 96, step: 16}
  receptive_field: {from: 0.3, to: 0.8}
  effective_stride: [2, 4]
sample: {random: 20, seed: 11}
"""

# a DAG with a per-axis hole (so z3 solves it), whose choice among designs of equal cost must not depend on
# the worker's history
RESIDUAL = """\
name: residual
input: {size: [64, 64], channels: 3}
target: {receptive_field: {min: 20, max: 40}, effective_stride: 4}
layers:
  - {name: stem, op: conv, out: 8, kernel: {choose: [3, 5]}, stride: {choose: [1, 2]}, padding: same}
  - {name: a, op: conv, out: 8, kernel: {choose: [1, 3, 5, 7]}, dilation: {choose: [1, 2, 4]}, padding: same}
  - {name: b, op: conv, out: 8, kernel: [{choose: [1, 3]}, 3], stride: {choose: [1, 2]}, padding: same}
  - {name: skip, op: conv, from: stem, out: 8, kernel: 1, stride: {choose: [1, 2]}, padding: same}
  - {name: sum, op: add, from: [b, skip]}
"""


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=50) as local:
        yield local


@pytest.fixture
def sweep(tmp_path):
    (tmp_path / "residual.yaml").write_text(RESIDUAL)
    path = tmp_path / "seeded.yaml"
    path.write_text(SWEEP)
    return load_sweep(str(path))


def comparable(table):
    return [{key: value for key, value in row.items() if key != "time"} for row in table]


@pytest.mark.slow
def test_cluster_pool_and_serial_give_the_same_table(cluster, sweep):
    on_dask = run_sweep(sweep, None, scheduler=cluster.scheduler_address)
    assert on_dask.executor == "dask" and on_dask.solved == len({p.key for p in sweep.points})
    pooled = run_sweep(sweep, None, jobs=2)
    serial = run_sweep(sweep, None, jobs=1)
    assert {result["method"] for result in serial.results.values()} == {"dp", "z3"}
    objectives = ("params", "flops", "rf_margin")
    assert comparable(rows(on_dask, objectives)) == comparable(rows(serial, objectives))
    assert comparable(rows(pooled, objectives)) == comparable(rows(serial, objectives))


@pytest.mark.slow
def test_a_worker_killed_mid_sweep_costs_only_its_retry(cluster, sweep):
    client = distributed.Client(cluster.scheduler_address, set_as_default=False)
    try:
        client.wait_for_workers(2, timeout=30)
        killed = []
        after_kill = []

        def kill_one_worker(progress):
            if progress.solved == 2 and not killed:
                nanny = next(iter(cluster.workers.values()))
                killed.append(nanny.process.process.pid)
                os.kill(killed[0], signal.SIGKILL)  # the process dies; its nanny starts a new one
            elif killed:
                after_kill.append(progress.solved)

        survived = run_sweep(sweep, None, scheduler=client, progress=kill_one_worker)
    finally:
        client.close()
    assert killed and after_kill, "the worker was not killed while the sweep ran"
    assert not survived.failures
    serial = run_sweep(sweep, None, jobs=1)
    assert comparable(rows(survived)) == comparable(rows(serial))


def test_the_command_runs_on_the_scheduler_named_by_the_environment(cluster, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from rfdesign.cli import main

    (tmp_path / "residual.yaml").write_text(RESIDUAL)
    path = tmp_path / "seeded.yaml"
    path.write_text(SWEEP.replace("random: 20", "random: 6"))
    monkeypatch.setenv("RFDESIGN_SCHEDULER", cluster.scheduler_address)
    result = CliRunner().invoke(main, ["sweep", str(path), "-q", "--show", "none"])
    assert result.exit_code == 0, result.output
    assert "solved" in result.stdout and "(dask," in result.stdout
