"""The job store: every solve and propose job and its result, in one SQLite file.

A job is written when it is accepted (``queued``), again when a worker
takes it (``running``) and when it ends (``done``, ``failed`` or
``cancelled``); its result is stored as the exact text the command prints
(JSON and table). Progress is kept in memory and written now and then, so
a restart shows the last progress a job reported.

Restart semantics (docs/service.md): :meth:`JobStore.recover`, called at
start-up, marks every job still ``running`` as ``failed`` with the reason
"server restarted" (its worker died with the server; the result would
depend on how far it got, so it is not silently re-run), and returns the
``queued`` jobs, which run again in their order. Finished results are never
changed. Jobs are content-addressed: ``key`` is a hash of the canonical
spec and options, and :meth:`JobStore.reusable` finds the job that
answers an identical request.

Writes go through one connection under a lock (SQLite serialises writers
anyway); the journal is WAL, so a SIGKILL loses no committed job.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

SCHEMA_VERSION = 1
ACTIVE = ("queued", "running")
FINISHED = ("done", "failed", "cancelled")
RESTARTED = "server restarted"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    key TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    request TEXT NOT NULL,
    spec TEXT NOT NULL,
    timeout REAL NOT NULL,
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    progress TEXT,
    result_status TEXT,
    result_json TEXT,
    result_table TEXT,
    error TEXT
);
CREATE INDEX IF NOT EXISTS jobs_by_key ON jobs (key, seq);
CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs (status, seq);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

_SUMMARY = ("seq, id, key, kind, name, status, request, spec, timeout, created, started, finished, progress, "
            "result_status, error")


@dataclass
class JobRecord:
    """One job as stored (its result texts are read separately, see :meth:`JobStore.result`)."""

    id: str
    key: str
    kind: str
    name: str
    request: dict[str, Any]
    spec: str
    timeout: float
    status: str = "queued"
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    progress: dict[str, Any] | None = None
    result_status: str | None = None
    error: dict[str, Any] | None = None
    seq: int = 0


def default_path() -> str:
    """``$XDG_CACHE_HOME/rfdesign/jobs.sqlite3`` (``~/.cache/rfdesign/jobs.sqlite3`` by default)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "rfdesign", "jobs.sqlite3")


class JobStore:
    """The SQLite file of jobs (see the module docstring)."""

    def __init__(self, path: str):
        self.path = path
        if path != ":memory:":
            parent = os.path.dirname(os.path.abspath(path))
            os.makedirs(parent, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.row_factory = sqlite3.Row
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            row = self._db.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone()
            if row is None:
                self._db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            elif int(row["value"]) != SCHEMA_VERSION:
                raise RuntimeError(f"{path} holds jobs of store version {row['value']}, not {SCHEMA_VERSION}; "
                                   "move it away or pass another --db")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def insert(self, job: JobRecord) -> JobRecord:
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO jobs (id, key, kind, name, status, request, spec, timeout, created) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (job.id, job.key, job.kind, job.name, job.status, json.dumps(job.request), job.spec, job.timeout,
                 job.created),
            )
            job.seq = int(cursor.lastrowid or 0)
        return job

    def update(self, job_id: str, **values: Any) -> None:
        """Set columns of one job (dicts are stored as JSON)."""
        if not values:
            return
        columns = ", ".join(f"{name} = ?" for name in values)
        params = [json.dumps(v) if isinstance(v, dict) else v for v in values.values()]
        with self._transaction() as db:
            db.execute(f"UPDATE jobs SET {columns} WHERE id = ?", (*params, job_id))

    def finish(self, job_id: str, status: str, result_status: str | None = None, result_json: str | None = None,
               result_table: str | None = None, error: dict[str, Any] | None = None,
               progress: dict[str, Any] | None = None) -> None:
        """Record how a job ended, once: a finished job is never changed again."""
        with self._transaction() as db:
            db.execute(
                "UPDATE jobs SET status = ?, finished = ?, result_status = ?, result_json = ?, result_table = ?, "
                "error = ?, progress = COALESCE(?, progress) WHERE id = ? AND status IN ('queued', 'running')",
                (status, time.time(), result_status, result_json, result_table,
                 json.dumps(error) if error is not None else None,
                 json.dumps(progress) if progress is not None else None, job_id),
            )

    def get(self, job_id: str) -> JobRecord | None:
        with self._lock:
            row = self._db.execute(f"SELECT {_SUMMARY} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return _record(row) if row is not None else None

    def result(self, job_id: str) -> tuple[str | None, str | None]:
        """The result as the command prints it: (JSON text, table text); (None, None) before it is done."""
        with self._lock:
            row = self._db.execute("SELECT result_json, result_table FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return (row["result_json"], row["result_table"]) if row is not None else (None, None)

    def reusable(self, key: str) -> JobRecord | None:
        """The newest job for ``key`` that is queued, running or done (failed and cancelled ones are not reused)."""
        with self._lock:
            row = self._db.execute(
                f"SELECT {_SUMMARY} FROM jobs WHERE key = ? AND status IN ('queued', 'running', 'done') "
                "ORDER BY seq DESC LIMIT 1", (key,)).fetchone()
        return _record(row) if row is not None else None

    def page(self, limit: int, before: int | None = None, status: str | None = None) -> list[JobRecord]:
        """Up to ``limit`` jobs, newest first, older than sequence number ``before``."""
        query = f"SELECT {_SUMMARY} FROM jobs WHERE seq < ?"
        params: list[Any] = [before if before is not None else 2**62]
        if status is not None:
            query += " AND status = ?"
            params.append(status)
        query += " ORDER BY seq DESC LIMIT ?"
        params.append(limit)
        with self._lock:
            rows = self._db.execute(query, params).fetchall()
        return [_record(row) for row in rows]

    def counts(self) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute("SELECT status, COUNT(*) AS n FROM jobs GROUP BY status").fetchall()
        return {row["status"]: int(row["n"]) for row in rows}

    def recover(self) -> list[JobRecord]:
        """At start-up: running jobs fail with "server restarted"; the queued ones are returned, oldest first."""
        error = {"kind": "job-failed", "detail": f"{RESTARTED}: the job was running when the server stopped; "
                                                 "submit it again to rerun it"}
        with self._transaction() as db:
            db.execute("UPDATE jobs SET status = 'failed', finished = ?, error = ? WHERE status = 'running'",
                       (time.time(), json.dumps(error)))
        with self._lock:
            rows = self._db.execute(f"SELECT {_SUMMARY} FROM jobs WHERE status = 'queued' ORDER BY seq").fetchall()
        return [_record(row) for row in rows]


def _record(row: sqlite3.Row) -> JobRecord:
    def loads(text: str | None) -> Any:
        return json.loads(text) if text is not None else None

    return JobRecord(
        id=row["id"], key=row["key"], kind=row["kind"], name=row["name"], request=json.loads(row["request"]),
        spec=row["spec"], timeout=row["timeout"], status=row["status"], created=row["created"],
        started=row["started"], finished=row["finished"], progress=loads(row["progress"]),
        result_status=row["result_status"], error=loads(row["error"]), seq=row["seq"],
    )
