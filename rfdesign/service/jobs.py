"""Solve jobs: a length-limited queue in front of a bounded pool of worker processes.

:class:`JobManager` owns ``workers`` worker processes
(:mod:`rfdesign.service.worker`), each driven by one thread of this
process (a *slot*). A slot takes the oldest queued job, marks it running,
hands it to its worker, relays the worker's progress to the job's
listeners, and stores the result. So a long solve occupies one worker and
never the server's event loop, and ``analyze`` stays fast.

* The queue holds at most ``max_queue`` jobs waiting for a worker;
  :meth:`JobManager.submit` raises :class:`QueueFull` (with a retry delay)
  beyond that. Nothing accepted is ever dropped: it is in the store first.
* Identical requests (same key) share one job: :meth:`JobManager.submit`
  answers with the queued, running or finished job of that key.
* Cancelling a running job kills its worker (SIGKILL, so it stops at once,
  whatever z3 is doing) and starts a new one; a queued job is just removed.
* Each job has a hard time limit of its solver timeout plus a grace
  period; a worker that overruns it is killed and the job fails.
* Each worker has an address-space limit (``memory_mib``); a worker that
  dies fails its job with the reason.

Listeners (the event streams and ``?wait=``) are called from the slot
threads with the job id whenever a job changes; they must not block.
"""

from __future__ import annotations

import logging
import math
import os
import queue
import secrets
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rfdesign.service.store import JobRecord, JobStore

log = logging.getLogger("rfdesign.service")

POLL = 0.05  # seconds between a slot's checks for cancellation
PROGRESS_WRITE_INTERVAL = 1.0  # seconds between writes of a running job's progress to the store
START_TIMEOUT = 60.0  # seconds a new worker may take to say it is ready


def grace(timeout: float) -> float:
    """Seconds past its solver timeout that a job may run before its worker is killed."""
    return 5.0 + 0.25 * timeout


class QueueFull(Exception):
    def __init__(self, retry_after: int):
        super().__init__(f"the queue is full; retry in {retry_after} s")
        self.retry_after = retry_after


@dataclass
class LiveJob:
    """What is known in memory of a job that is queued or running."""

    id: str
    status: str = "queued"
    progress: dict[str, Any] | None = None
    cancel: bool = False
    progress_written: float = 0.0


class Worker:
    """One worker process and the thread that reads its lines."""

    def __init__(self, memory_mib: int, nice: int):
        command = [sys.executable, "-m", "rfdesign.service.worker", "--memory-mib", str(memory_mib),
                   "--nice", str(nice), "--parent", str(os.getpid())]
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                        encoding="utf-8", bufsize=1, close_fds=True)
        self.lines: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.reader = threading.Thread(target=self._read, name=f"rfdesign-worker-{self.process.pid}", daemon=True)
        self.reader.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def _read(self) -> None:
        import json

        assert self.process.stdout is not None
        for line in self.process.stdout:
            try:
                self.lines.put(json.loads(line))
            except ValueError:
                log.warning("worker %s wrote a line that is not JSON: %r", self.pid, line[:200])
        self.lines.put(None)  # end of output: the process is gone

    def wait_ready(self, timeout: float) -> bool:
        try:
            message = self.lines.get(timeout=timeout)
        except queue.Empty:
            return False
        return bool(message and message.get("ready"))

    def send(self, message: dict[str, Any]) -> bool:
        import json

        try:
            assert self.process.stdin is not None
            self.process.stdin.write(json.dumps(message) + "\n")
            self.process.stdin.flush()
            return True
        except (BrokenPipeError, OSError, ValueError):
            return False

    def next(self, timeout: float) -> dict[str, Any] | None | str:
        """The next message; ``"eof"`` when the process ended; None when nothing came within ``timeout``."""
        try:
            message = self.lines.get(timeout=timeout)
        except queue.Empty:
            return None
        return "eof" if message is None else message

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL does not fail
            log.error("worker %s did not end after SIGKILL", self.pid)
        for stream in (self.process.stdin, self.process.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass

    def describe_exit(self) -> str:
        code = self.process.poll()
        if code is None:
            return "the worker stopped answering"
        if code < 0:
            import signal

            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return f"the worker process was killed by {name}"
        return f"the worker process exited with code {code}"


@dataclass
class ManagerStats:
    durations: deque[float] = field(default_factory=lambda: deque(maxlen=50))

    def mean_duration(self) -> float:
        return sum(self.durations) / len(self.durations) if self.durations else 1.0


class JobManager:
    """The queue, the worker slots and the live state of jobs (see the module docstring)."""

    def __init__(self, store: JobStore, workers: int, max_queue: int, memory_mib: int = 4096, nice: int = 10):
        self.store = store
        self.workers = max(1, workers)
        self.max_queue = max_queue
        self.memory_mib = memory_mib
        self.nice = nice
        self._lock = threading.Condition()
        self._queue: deque[str] = deque()
        self._live: dict[str, LiveJob] = {}
        self._listeners: set[Callable[[str], None]] = set()
        self._slots: list[threading.Thread] = []
        self._workers: dict[int, Worker | None] = {}
        self._stopping = False
        self._ready = 0
        self._stats = ManagerStats()

    # -- life cycle ------------------------------------------------------------------------------------

    def start(self) -> None:
        """Recover the store (see :meth:`JobStore.recover`) and start the worker slots."""
        for record in self.store.recover():
            self._live[record.id] = LiveJob(record.id, progress=record.progress)
            self._queue.append(record.id)
        for index in range(self.workers):
            thread = threading.Thread(target=self._slot, args=(index,), name=f"rfdesign-slot-{index}", daemon=True)
            self._slots.append(thread)
            thread.start()

    def stop(self) -> None:
        """Kill the workers; a job that was running fails with "server stopped"; queued jobs stay queued."""
        with self._lock:
            self._stopping = True
            self._lock.notify_all()
            workers = [w for w in self._workers.values() if w is not None]
        for worker in workers:
            worker.kill()
        for thread in self._slots:
            thread.join(timeout=10)

    @property
    def ready_workers(self) -> int:
        return self._ready

    def counts(self) -> dict[str, int]:
        with self._lock:
            running = sum(1 for job in self._live.values() if job.status == "running")
            return {"queued": len(self._queue), "running": running}

    # -- listeners -------------------------------------------------------------------------------------

    def add_listener(self, listener: Callable[[str], None]) -> None:
        with self._lock:
            self._listeners.add(listener)

    def remove_listener(self, listener: Callable[[str], None]) -> None:
        with self._lock:
            self._listeners.discard(listener)

    def _notify(self, job_id: str) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(job_id)
            except Exception:  # noqa: BLE001 - a listener's bug must not stop a slot
                log.exception("job listener failed")

    # -- jobs ------------------------------------------------------------------------------------------

    def submit(self, kind: str, key: str, name: str, request: dict[str, Any], spec: str,
               timeout: float) -> tuple[JobRecord, bool]:
        """Queue a job, or return the job that already answers ``key``; (job, True) when it was reused.

        Raises :class:`QueueFull` when ``max_queue`` jobs are already waiting.
        """
        with self._lock:
            existing = self.store.reusable(key)
            if existing is not None:
                return self.view(existing), True
            if len(self._queue) >= self.max_queue:
                raise QueueFull(self._retry_after())
            record = JobRecord(id=secrets.token_urlsafe(12), key=key, kind=kind, name=name, request=request,
                               spec=spec, timeout=timeout)
            self.store.insert(record)
            self._live[record.id] = LiveJob(record.id)
            self._queue.append(record.id)
            self._lock.notify()
        self._notify(record.id)
        return record, False

    def _retry_after(self) -> int:
        backlog = len(self._queue) + sum(1 for job in self._live.values() if job.status == "running")
        estimate = backlog * self._stats.mean_duration() / self.workers / 2  # half the backlog drains first
        return int(min(60, max(1, math.ceil(estimate))))

    def get(self, job_id: str) -> JobRecord | None:
        record = self.store.get(job_id)
        return self.view(record) if record is not None else None

    def view(self, record: JobRecord) -> JobRecord:
        """The stored record with the live status and progress of a queued or running job."""
        live = self._live.get(record.id)
        if live is not None and record.status in ("queued", "running"):
            record.status = live.status if live.status in ("queued", "running") else record.status
            record.progress = live.progress or record.progress
        return record

    def cancel(self, job_id: str) -> bool:
        """Ask to cancel a job: a queued one is cancelled now, a running one within one poll of its slot.

        False when the job is not queued or running.
        """
        with self._lock:
            live = self._live.get(job_id)
            if live is None:
                return False
            live.cancel = True
            queued = live.status == "queued"
            if queued:
                try:
                    self._queue.remove(job_id)
                except ValueError:
                    pass
                live.status = "cancelled"
                del self._live[job_id]
        if queued:
            self.store.finish(job_id, "cancelled", error={"kind": "cancelled", "detail": "cancelled before it ran"},
                              progress=live.progress)
            self._notify(job_id)
        return True

    # -- the slots -------------------------------------------------------------------------------------

    def _spawn(self, index: int) -> Worker | None:
        while not self._stopping:
            worker = Worker(self.memory_mib, self.nice)
            with self._lock:
                self._workers[index] = worker
            if worker.wait_ready(START_TIMEOUT):
                return worker
            log.error("worker %s did not start: %s", worker.pid, worker.describe_exit())
            worker.kill()
            time.sleep(1.0)
        return None

    def _take(self) -> str | None:
        with self._lock:
            while not self._queue and not self._stopping:
                self._lock.wait(timeout=1.0)
            if self._stopping:
                return None
            job_id = self._queue.popleft()
            live = self._live[job_id]
            live.status = "running"
            return job_id

    def _slot(self, index: int) -> None:
        worker = self._spawn(index)
        while worker is not None and not self._stopping:
            with self._lock:
                self._ready += 1
            job_id = self._take()
            with self._lock:
                self._ready -= 1
            if job_id is None:
                break
            try:
                worker = self._run(index, worker, job_id)
            except Exception:  # noqa: BLE001 - the slot must survive a bug in one job's bookkeeping
                log.exception("job %s: unexpected error in its slot", job_id)
                self._end(job_id, "failed", error={"kind": "internal", "detail": "internal error in the job's slot"})
                if worker is not None:
                    worker.kill()
                worker = self._spawn(index)
        if worker is not None:
            worker.kill()

    def _end(self, job_id: str, status: str, **values: Any) -> None:
        with self._lock:
            live = self._live.pop(job_id, None)
        progress = live.progress if live is not None else None
        self.store.finish(job_id, status, progress=progress, **values)
        self._notify(job_id)

    def _run(self, index: int, worker: Worker, job_id: str) -> Worker | None:
        """Run one job on ``worker``; returns the worker for the next job (a new one if this one was killed)."""
        record = self.store.get(job_id)
        live = self._live[job_id]
        if record is None:  # pragma: no cover - the store lost a row it just gave us
            return worker
        started = time.time()
        self.store.update(job_id, status="running", started=started)
        self._notify(job_id)
        message = dict(record.request, id=job_id, timeout=record.timeout)
        if not worker.send(message):
            self._end(job_id, "failed", error={"kind": "job-failed", "detail": worker.describe_exit()})
            worker.kill()
            return self._spawn(index)
        deadline = time.monotonic() + record.timeout + grace(record.timeout)
        while True:
            if live.cancel or self._stopping:
                worker.kill()
                if self._stopping:
                    self._end(job_id, "failed", error={"kind": "job-failed",
                                                        "detail": "server stopped while the job ran"})
                    return None
                self._end(job_id, "cancelled", error={"kind": "cancelled", "detail": "cancelled while it ran"})
                return self._spawn(index)
            if time.monotonic() > deadline:
                worker.kill()
                self._end(job_id, "failed", error={
                    "kind": "job-failed",
                    "detail": f"time limit: the job ran {record.timeout + grace(record.timeout):.0f} s, past its "
                              f"timeout of {record.timeout:g} s and the grace period"})
                return self._spawn(index)
            reply = worker.next(POLL)
            if reply is None:
                continue
            if reply == "eof":
                worker.kill()
                detail = worker.describe_exit()
                if self.memory_mib:
                    detail += f" (the job may have needed more than the {self.memory_mib} MiB a job may use)"
                self._end(job_id, "failed", error={"kind": "job-failed", "detail": detail})
                return self._spawn(index)
            assert isinstance(reply, dict)
            if reply.get("job") != job_id:
                continue
            if "progress" in reply:
                live.progress = reply["progress"]
                now = time.monotonic()
                if now - live.progress_written > PROGRESS_WRITE_INTERVAL:
                    live.progress_written = now
                    self.store.update(job_id, progress=live.progress)
                self._notify(job_id)
                continue
            self._stats.durations.append(time.time() - started)
            if "done" in reply:
                done = reply["done"]
                self._end(job_id, "done", result_status=done["status"], result_json=done["json"],
                          result_table=done["table"])
            else:
                self._end(job_id, "failed", error=reply.get("error") or {"kind": "job-failed", "detail": "unknown"})
                if reply.get("restart"):
                    worker.kill()
                    return self._spawn(index)
            return worker


def worker_count() -> int:
    """The default number of workers: the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)
