"""A solve worker: one process that runs one job at a time, started and ended by :mod:`rfdesign.service.jobs`.

Run as ``python -m rfdesign.service.worker --memory-mib N``. It speaks JSON
lines: each line on standard input is a job (``id``, ``spec``, ``file``,
``options`` for ``build_problem``, ``timeout``, ``method``, ``explain``); on standard output it writes
``{"ready": true}`` once, then for each job any number of
``{"job", "progress"}`` lines and one ``{"job", "done"}`` (the result as
the command prints it: JSON and table text, and the solve's status) or
``{"job", "error"}`` line. Anything else the process prints goes to
standard error, so it cannot break the protocol.

Limits: the address space is capped at ``--memory-mib`` (a solve that needs
more fails with a MemoryError, reported as the job's error); the process
runs at a lower CPU priority than the server, so analyses stay fast while
solves run. Cancelling a job kills the process: the service starts another.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import IO, Any

PROGRESS_INTERVAL = 0.2  # seconds between progress lines


def _die_with_parent(parent: int) -> None:
    """Ask Linux to kill this process when the server dies (SIGKILL included), so no solve outlives it."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if parent and os.getppid() != parent:  # the server died before the request took effect
        os._exit(1)


def _limit_memory(mebibytes: int) -> None:
    if mebibytes <= 0:
        return
    import resource

    limit = mebibytes * 1024 * 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def run_job(job: dict[str, Any], send: Any) -> None:
    """Solve one job, sending progress and then its result (or its error) with ``send``."""
    from rfdesign.commands.solve import json_output, problem_from_text, run, table
    from rfdesign.errors import SpecError
    from rfdesign.solve.search import Progress
    from rfdesign.sweep.task import _fresh_z3_context

    job_id = job["id"]
    last = [0.0]

    def progress(report: Progress) -> None:
        now = time.monotonic()
        if now - last[0] < PROGRESS_INTERVAL:
            return
        last[0] = now
        send({"job": job_id, "progress": {"found": report.found, "best": report.best, "bound": report.bound,
                                          "elapsed": round(report.elapsed, 3), "message": report.message}})

    try:
        _fresh_z3_context()  # ties break as in a fresh `rfdesign solve`, whatever this worker solved before
        problem = problem_from_text(job["spec"], job["file"], job.get("options") or {})
        solved, result = run(problem, job["timeout"], job.get("method", "auto"), progress, job.get("explain", False))
        send({"job": job_id, "done": {"status": result.status, "json": json_output(solved, result),
                                      "table": table(solved, result)}})
    except SpecError as exc:
        loc = exc.location
        send({"job": job_id, "error": {"kind": "bad-spec", "detail": exc.render(), "message": exc.message,
                                       "file": loc.file if loc else None, "line": loc.line if loc else None,
                                       "column": loc.column if loc else None, "hint": exc.hint}})
    except MemoryError:  # the heap may be in a poor state: the service replaces this process
        send({"job": job_id, "restart": True, "error": {
            "kind": "job-failed", "detail": "the solve ran out of memory (the server's per-job limit, --job-memory)"}})
    except Exception as exc:  # noqa: BLE001 - a bug: reported as the job's error, the worker goes on
        import traceback

        traceback.print_exc(file=sys.stderr)
        send({"job": job_id, "error": {"kind": "job-failed",
                                       "detail": f"internal error: {type(exc).__name__}: {exc} (a bug in rfdesign)"}})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rfdesign.service.worker")
    parser.add_argument("--memory-mib", type=int, default=0, help="address-space limit (0: none)")
    parser.add_argument("--nice", type=int, default=10, help="CPU priority increment")
    parser.add_argument("--parent", type=int, default=0, help="the server's process id")
    args = parser.parse_args(argv)
    _die_with_parent(args.parent)
    out: IO[str] = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1, encoding="utf-8")
    sys.stdout = sys.stderr  # stray prints cannot corrupt the protocol
    if args.nice:
        os.nice(args.nice)
    import rfdesign.commands.solve  # noqa: F401 - import before the memory limit and before saying ready
    import rfdesign.solve.search  # noqa: F401
    import z3  # noqa: F401

    _limit_memory(args.memory_mib)

    def send(message: dict[str, Any]) -> None:
        out.write(json.dumps(message) + "\n")
        out.flush()

    send({"ready": True, "pid": os.getpid()})
    for line in sys.stdin:
        if line.strip():
            run_job(json.loads(line), send)
    return 0


if __name__ == "__main__":
    sys.exit(main())
