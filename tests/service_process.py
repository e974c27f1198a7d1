"""A real `rfdesign serve` process on 127.0.0.1 (a free port), for the service's tests and benchmarks.

``ServiceProcess(db, *flags)`` starts the command, reads the address it
prints, and waits until ``/readyz`` says a worker is up; ``stop()`` sends
SIGTERM (``kill()`` SIGKILL, as a crash would) and reaps the process.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

LISTENING = re.compile(r"listening on (http://\S+?)/? ")


class ServiceProcess:
    def __init__(self, db: Path | str, *flags: str, workers: int = 1, env: dict[str, str] | None = None,
                 ready_timeout: float = 60.0):
        command = [sys.executable, "-m", "rfdesign", "serve", "--port", "0", "--db", str(db),
                   "--workers", str(workers), "--log-level", "warning", *flags]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                        env={**os.environ, **(env or {})}, start_new_session=True)
        self.log: list[str] = []
        self.url = self._address(ready_timeout)
        self._drain = threading.Thread(target=self._read_log, daemon=True)
        self._drain.start()
        self.wait_ready(ready_timeout)

    def _address(self, timeout: float) -> str:
        assert self.process.stderr is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.process.stderr.readline()
            if not line:
                break
            self.log.append(line)
            match = LISTENING.search(line)
            if match:
                return match.group(1)
        self.kill()
        raise RuntimeError("rfdesign serve did not start:\n" + "".join(self.log))

    def _read_log(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.log.append(line)

    def wait_ready(self, timeout: float = 60.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                response = httpx.get(self.url + "/readyz", timeout=5)
                if response.status_code == 200:
                    return response.json()
            except httpx.TransportError:
                pass
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError("rfdesign serve is not ready:\n" + "".join(self.log))

    def workers(self) -> list[int]:
        """Process ids of the solver workers (the server's children)."""
        import psutil

        return [child.pid for child in psutil.Process(self.process.pid).children(recursive=True)]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        self._reap()

    def kill(self) -> None:
        """SIGKILL the server process alone, as a crash would (its workers die with it: see the worker)."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=20)

    def _reap(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # nothing of this session may outlive the test
        except (ProcessLookupError, PermissionError):
            pass

    def __enter__(self) -> ServiceProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self._reap()
