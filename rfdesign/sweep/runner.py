"""Running a sweep: what is stored is read back, what is missing is solved, serially, on a pool, or on Dask.

:func:`run_sweep` looks every point up in the store, hands the missing ones
(each distinct key once) to an executor, and stores each result the moment it
arrives, so an interrupted sweep loses only the points in flight. Executors:

* ``serial`` (``jobs=1``): in this process, one point after another;
* a local process pool (``concurrent.futures``) of ``jobs`` processes, the default
  with one per core;
* Dask distributed (``scheduler="tcp://host:8786"``, or a ``distributed.Client``):
  one task per point through Dask's own futures (``Client.map`` with ``retries``
  and ``as_completed``), keyed by the point's content hash, so a worker lost
  mid-sweep costs only its points being run again elsewhere.

Progress goes to an optional callback (the library never prints). A point
whose task raised (a bug, not bad input) is reported in ``failures`` and not
stored, so a rerun tries it again.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from rfdesign.errors import SpecError
from rfdesign.sweep.pareto import Front, oriented
from rfdesign.sweep.options import value_text
from rfdesign.sweep.points import Sweep
from rfdesign.sweep.store import ResultStore
from rfdesign.sweep.task import PointTask, Result, solve_point

DASK_RETRIES = 3


@dataclass(frozen=True)
class SweepProgress:
    """Where a running sweep is: counts of points, speed, and the running Pareto front size."""

    done: int
    total: int
    from_store: int
    solved: int
    failed: int
    elapsed: float
    pareto: int | None

    @property
    def rate(self) -> float:
        """Points solved per second (points read from the store do not count)."""
        return self.solved / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        """Seconds left at the current rate, or None before the first solved point."""
        left = self.total - self.done
        return left / self.rate if self.rate > 0 else (0.0 if left == 0 else None)


@dataclass
class SweepRun:
    """The outcome: every point's result by key, and how the run went."""

    sweep: Sweep
    results: dict[str, Result]
    from_store: int
    solved: int
    failures: dict[str, str] = field(default_factory=dict)
    elapsed: float = 0.0
    executor: str = ""


ProgressCallback = Callable[[SweepProgress], None]


def default_jobs() -> int:
    """Processes for the local pool: the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def run_sweep(
    sweep: Sweep,
    store: ResultStore | None,
    *,
    jobs: int | None = None,
    scheduler: Any = None,
    force: bool = False,
    objectives: Sequence[str] = (),
    progress: ProgressCallback | None = None,
) -> SweepRun:
    """Solve every point of ``sweep`` that ``store`` lacks (all of them with ``force``); see the module docstring.

    ``scheduler`` is a Dask scheduler address or a ``distributed.Client``; else ``jobs`` processes
    (1: serially in this process; default: one per core). ``objectives`` (2 or 3 of
    :data:`rfdesign.sweep.pareto.SENSES`) only feed the running Pareto size of ``progress``.
    KeyboardInterrupt stops the executor and propagates; every result that arrived is stored.
    """
    start = time.monotonic()
    results: dict[str, Result] = {}
    tasks: dict[str, PointTask] = {}
    for point in sweep.points:
        if point.key in results or point.key in tasks:
            continue
        stored = None if force or store is None else store.get(point.key)
        if stored is not None:
            results[point.key] = stored
        else:
            tasks[point.key] = PointTask(point.key, sweep.templates[point.template], point.options, sweep.timeout,
                                         sweep.method)
    points_of: dict[str, int] = {}
    for point in sweep.points:
        points_of[point.key] = points_of.get(point.key, 0) + 1
    front = Front() if objectives else None
    counts = {"done": 0, "from_store": 0, "solved": 0, "failed": 0}

    def account(result: Result, origin: str) -> None:
        counts["done"] += points_of[result["key"]]
        counts[origin] += 1
        if front is not None:
            for proposal in result.get("proposals", []):
                front.add(oriented(proposal, objectives))

    def report() -> None:
        if progress is not None:
            size = len(front) if front is not None else None
            progress(SweepProgress(counts["done"], len(sweep.points), counts["from_store"], counts["solved"],
                                   counts["failed"], time.monotonic() - start, size))

    for result in results.values():
        account(result, "from_store")
    report()
    failures: dict[str, str] = {}
    executor_name = "store"
    if tasks:
        executor, executor_name = _executor(scheduler, jobs, len(tasks))
        by_point = {point.key: point for point in sweep.points}
        for key, outcome in executor(list(tasks.values())):
            if isinstance(outcome, BaseException):
                failures[key] = f"{type(outcome).__name__}: {outcome}"
                counts["done"] += points_of[key]
                counts["failed"] += 1
            else:
                if store is not None:
                    point = by_point[key]
                    about = {"template": sweep.templates[point.template].name,
                             "options": {name: value_text(name, value) for name, value in point.options.items()}}
                    store.put(key, outcome, about)
                results[key] = outcome
                account(outcome, "solved")
            report()
    return SweepRun(sweep, results, counts["from_store"], counts["solved"], failures, time.monotonic() - start,
                    executor_name)


Outcome = tuple[str, "Result | BaseException"]
Executor = Callable[[list[PointTask]], Iterator[Outcome]]


def _executor(scheduler: Any, jobs: int | None, count: int) -> tuple[Executor, str]:
    if scheduler is not None:
        return (lambda tasks: _dask(tasks, scheduler)), "dask"
    workers = min(jobs or default_jobs(), count)
    if workers <= 1:
        return _serial, "serial"
    return (lambda tasks: _pool(tasks, workers)), f"pool of {workers}"


def _serial(tasks: list[PointTask]) -> Iterator[Outcome]:
    for task in tasks:
        try:
            yield task.key, solve_point(task)
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:  # noqa: BLE001 - a bug in one point is reported, the sweep goes on
            yield task.key, exc


def _ignore_interrupts() -> None:
    """Pool workers leave Ctrl-C to the parent, which stops the pool (no traceback from every worker)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _pool(tasks: list[PointTask], workers: int) -> Iterator[Outcome]:
    from concurrent.futures import ProcessPoolExecutor, as_completed

    pool = ProcessPoolExecutor(max_workers=workers, initializer=_ignore_interrupts)
    finished = False
    try:
        futures = {pool.submit(solve_point, task): task.key for task in tasks}
        for future in as_completed(futures):
            key = futures.pop(future)
            error = future.exception()
            yield key, error if error is not None else future.result()
        finished = True
    finally:
        if not finished:
            _stop_workers(pool)  # interrupted: the points in flight are lost anyway, do not wait for them
        pool.shutdown(wait=True, cancel_futures=True)


def _stop_workers(pool: Any) -> None:
    """End a pool's worker processes now (a point can take up to its timeout; Ctrl-C should not)."""
    terminate = getattr(pool, "terminate_workers", None)  # Python 3.14
    if terminate is not None:
        terminate()
        return
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        process.terminate()


def _dask(tasks: list[PointTask], scheduler: Any) -> Iterator[Outcome]:
    from rfdesign.errors import require

    distributed = require("distributed", "sweep")
    own = not isinstance(scheduler, distributed.Client)
    if own:
        try:
            client = distributed.Client(scheduler, timeout="10s", set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise SpecError(f"cannot reach the Dask scheduler at {scheduler}: {exc}",
                            hint="start one with `dask scheduler`, or check the address (tcp://HOST:8786)") from None
    else:
        client = scheduler
    futures = client.map(solve_point, tasks, key=[f"rfdesign-point-{task.key}" for task in tasks],
                         retries=DASK_RETRIES, pure=False)
    keys = {future.key: task.key for future, task in zip(futures, tasks)}
    try:
        for future in distributed.as_completed(futures, loop=client.loop):
            key = keys[future.key]
            try:
                outcome: Result | BaseException = future.result()
            except Exception as exc:  # noqa: BLE001 - the task raised on every try: report it, go on
                outcome = exc
            future.release()  # the scheduler may forget it: the result is ours now
            yield key, outcome
    finally:
        client.cancel([f for f in futures if not f.done()])
        if own:
            client.close()
