"""Speed of `rfdesign sweep`: points per second serially, on the local pool and on Dask, in one run.

Two sweeps, written to a temporary folder:

* chain: 500 seeded random points of a `propose` template (a chain of up to 10
  convolutions; input 96..384, receptive field 0.3..1.5 of the input +-15%,
  effective stride 8, 16 or 32, top 2), solved by the chain dynamic program;
* DAG: the 50-point grid of two spec templates (a residual add, a two-branch
  concat) x 5 input sizes (48..112) x 5 receptive fields (0.25..0.65 of the
  input +-25%), effective stride 4, solved by z3.

Each runs three ways with a fresh store (as the command runs): ``serial`` (in
this process), ``pool`` (a ``concurrent.futures`` pool, one process per core,
its start-up included) and ``dask`` (a ``distributed.LocalCluster`` with 2
worker processes of 1 thread, started and warmed up before the clock starts).
Every way's table is compared with the serial one (all columns but time).

Per-point overhead is the worker time not spent solving: (wall seconds x
workers - the sum of the points' own solve times) / points; the Dask/pool
ratio compares the two parallel executors. Resume: the chain sweep on the
pool is interrupted (Ctrl-C, as a user would) once half its points are
stored, then rerun; the rerun's time is set against a run from scratch.

Each figure is the best of --repeat runs (the machine is shared: the best run
is the one least disturbed); the load average is printed before and after.

    python benchmarks/bench_sweep.py [--quick] [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from typing import Any

from rfdesign.sweep import ResultStore, load_sweep, run_sweep
from rfdesign.sweep.runner import default_jobs
from rfdesign.sweep.table import rows

CHAIN = """\
name: chains
template: {{name: chain, propose: {{depth: 3:10, channels: 16:256, kernels: [1, 3, 5, 7], dilations: [1, 2, 4]}}}}
options: {{rf_relative: true, rf_tolerance: 0.15, top_k: 2}}
axes:
  input_size: {{from: 96, to: 384, step: 32}}
  receptive_field: {{from: 0.3, to: 1.5}}
  effective_stride: [8, 16, 32]
sample: {{random: {points}, seed: 2026}}
"""

DAG = """\
name: dags
templates:
  - {spec: residual.yaml}
  - {spec: two_branch.yaml}
options: {rf_relative: true, rf_tolerance: 0.25, effective_stride: 4}
axes:
  input_size: [48, 64, 80, 96, 112]
  receptive_field: [0.25, 0.35, 0.45, 0.55, 0.65]
"""

RESIDUAL = """\
name: residual
input: {size: [64, 64], channels: 3}
target: {receptive_field: {min: 20, max: 40}, effective_stride: 4}
layers:
  - {name: stem, op: conv, out: 16, kernel: {choose: [3, 5, 7]}, stride: {choose: [1, 2]}, padding: same}
  - {name: a, op: conv, out: 16, kernel: {choose: [1, 3, 5, 7]}, dilation: {choose: [1, 2, 4]}, padding: same}
  - {name: b, op: conv, out: 16, kernel: {choose: [1, 3, 5]}, stride: {choose: [1, 2]}, dilation: {choose: [1, 2]},
     padding: same}
  - {name: skip, op: conv, from: stem, out: 16, kernel: 1, stride: {choose: [1, 2]}, padding: same}
  - {name: sum, op: add, from: [b, skip]}
  - {name: head, op: conv, out: 32, kernel: {choose: [1, 3]}, stride: {choose: [1, 2]}, padding: same}
"""

TWO_BRANCH = """\
name: two_branch
input: {size: [64, 64], channels: 3}
target: {receptive_field: {min: 20, max: 40}, effective_stride: 4}
layers:
  - {name: stem, op: conv, out: 16, kernel: {choose: [3, 5]}, stride: {choose: [1, 2]}, padding: same}
  - {name: wide, op: conv, out: 16, kernel: {choose: [3, 5, 7]}, stride: {choose: [1, 2]}, dilation: {choose: [1, 2]},
     padding: same}
  - {name: deep1, op: conv, from: stem, out: 16, kernel: {choose: [1, 3]}, stride: {choose: [1, 2]}, padding: same}
  - {name: deep2, op: conv, out: 16, kernel: {choose: [1, 3, 5]}, dilation: {choose: [1, 2, 4]}, padding: same}
  - {name: merged, op: concat, from: [wide, deep2]}
  - {name: head, op: conv, out: 32, kernel: 1, stride: {choose: [1, 2]}, padding: same}
"""


def comparable(table: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{key: value for key, value in row.items() if key != "time"} for row in table]


def timed(sweep: Any, folder: str, label: str, **how: Any) -> tuple[float, Any]:
    store = ResultStore(tempfile.mkdtemp(prefix=f"store-{label}-", dir=folder))
    start = time.perf_counter()
    run = run_sweep(sweep, store, **how)
    return time.perf_counter() - start, run


def solve_seconds(run: Any) -> float:
    return sum(float(result["time"]) for result in run.results.values())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="100 chain and 10 DAG points (a smoke test)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement; the best counts")
    args = parser.parse_args()
    from distributed import Client, LocalCluster

    chain_points, dag_points = (100, 10) if args.quick else (500, 50)
    cores = default_jobs()
    print(f"machine: {os.cpu_count()} cores ({cores} usable), load average at start "
          f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as folder:
        for name, text in (("residual.yaml", RESIDUAL), ("two_branch.yaml", TWO_BRANCH),
                           ("chains.yaml", CHAIN.format(points=chain_points)),
                           ("dags.yaml", DAG)):
            with open(os.path.join(folder, name), "w") as handle:
                handle.write(text)
        sweeps = {"chain": load_sweep(os.path.join(folder, "chains.yaml")),
                  "DAG": load_sweep(os.path.join(folder, "dags.yaml"))}
        sweeps["DAG"].points = sweeps["DAG"].points[:dag_points]
        for label, sweep in sweeps.items():
            distinct = len({point.key for point in sweep.points})
            if distinct != len(sweep.points):
                print(f"error: the {label} sweep repeats points ({distinct} distinct)", file=sys.stderr)
                return 1
        started = time.perf_counter()
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                               silence_logs=50)
        client = Client(cluster, set_as_default=False)
        cluster_start = time.perf_counter() - started
        warm = load_sweep(os.path.join(folder, "chains.yaml"))
        warm.points = warm.points[:4]
        run_sweep(warm, None, scheduler=client)  # imports rfdesign and z3 in both workers
        print(f"LocalCluster of 2 worker processes: started in {cluster_start:.2f} s (not counted below)\n")
        print(f"{'sweep':<6} {'points':>6} {'executor':<14} {'wall s':>7} {'points/s':>9} {'overhead ms/point':>18}")
        figures: dict[tuple[str, str], tuple[float, float]] = {}
        for label, sweep in sweeps.items():
            count = len(sweep.points)
            reference = None
            for executor, how, workers in (("serial", {"jobs": 1}, 1), (f"pool of {cores}", {"jobs": cores}, cores),
                                           ("dask, 2 workers", {"scheduler": client}, 2)):
                wall, run = min((timed(sweep, folder, executor.split()[0], **how) for _ in range(args.repeat)),
                                key=lambda pair: pair[0])
                table = comparable(rows(run))
                if reference is None:
                    reference = table
                elif table != reference:
                    print(f"error: the {executor} table differs from the serial one", file=sys.stderr)
                    return 1
                overhead = (wall * workers - solve_seconds(run)) / count
                figures[(label, executor.split()[0])] = (count / wall, overhead)
                print(f"{label:<6} {count:>6} {executor:<14} {wall:>7.2f} {count / wall:>9.1f} {overhead * 1000:>18.2f}")
        print()
        for label in sweeps:
            pool_rate, pool_overhead = figures[(label, "pool")]
            dask_rate, dask_overhead = figures[(label, "dask,")]
            serial_rate = figures[(label, "serial")][0]
            print(f"{label}: pool {pool_rate / serial_rate:.2f}x serial, dask {dask_rate / serial_rate:.2f}x serial; "
                  f"per-point overhead dask / pool = {dask_overhead / max(pool_overhead, 1e-9):.1f}x "
                  f"({dask_overhead * 1000:.1f} ms vs {pool_overhead * 1000:.1f} ms)")
        client.close()
        cluster.close()

        sweep = sweeps["chain"]
        scratch = min(timed(sweep, folder, "scratch", jobs=cores)[0] for _ in range(args.repeat))
        half = len({p.key for p in sweep.points}) // 2

        def interrupt(progress: Any) -> None:
            if progress.solved >= half:
                raise KeyboardInterrupt

        attempts = []
        for _ in range(args.repeat):
            store = ResultStore(tempfile.mkdtemp(prefix="store-resume-", dir=folder))
            try:
                run_sweep(sweep, store, jobs=cores, progress=interrupt)
            except KeyboardInterrupt:
                pass
            stored = len(store)
            start = time.perf_counter()
            resumed = run_sweep(sweep, store, jobs=cores)
            attempts.append((time.perf_counter() - start, stored, resumed, store))
        resume, stored, resumed, store = min(attempts, key=lambda attempt: attempt[0])
        print(f"\nresume (chain, pool): interrupted with {stored} of {len(sweep.points)} points stored; the rerun "
              f"read {resumed.from_store}, solved {resumed.solved} in {resume:.2f} s, against {scratch:.2f} s "
              f"from scratch ({resume / scratch:.2f}x)")
        start = time.perf_counter()
        again = run_sweep(sweep, store, jobs=cores)
        print(f"rerun of the finished sweep: {len(again.results)} points from the store in "
              f"{time.perf_counter() - start:.3f} s")
    print(f"\nload average at end {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
