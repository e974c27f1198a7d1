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
template: {propose: {depth: 2:6, channels: 8:32, kernels: [1, 3, 5], dilations: [1, 2]}}
options: {rf_relative: true, rf_tolerance: 0.2, top_k: 2}
axes:
  input_size: {from: 32, to: 96, step: 16}
  receptive_field: {from: 0.3, to: 1.5}
  output_size: [4, 8]
sample: {random: 30, seed: 11}
"""


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=50) as local:
        yield local


@pytest.fixture
def sweep(tmp_path):
    path = tmp_path / "seeded.yaml"
    path.write_text(SWEEP)
    return load_sweep(str(path))


def comparable(table):
    return [{key: value for key, value in row.items() if key != "time"} for row in table]


def test_cluster_pool_and_serial_give_the_same_table(cluster, sweep):
    on_dask = run_sweep(sweep, None, scheduler=cluster.scheduler_address)
    assert on_dask.executor == "dask" and on_dask.solved == len({p.key for p in sweep.points})
    pooled = run_sweep(sweep, None, jobs=2)
    serial = run_sweep(sweep, None, jobs=1)
    objectives = ("params", "flops", "rf_margin")
    assert comparable(rows(on_dask, objectives)) == comparable(rows(serial, objectives))
    assert comparable(rows(pooled, objectives)) == comparable(rows(serial, objectives))


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
