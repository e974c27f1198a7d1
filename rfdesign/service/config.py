"""The service's settings: what ``rfdesign serve`` was started with."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from rfdesign.errors import SpecError
from rfdesign.service.jobs import worker_count
from rfdesign.service.store import default_path

MIB = 1024 * 1024


@dataclass(frozen=True)
class ServiceConfig:
    """Every setting of a running service, with the defaults of ``rfdesign serve``."""

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = field(default_factory=worker_count)
    db: str = field(default_factory=default_path)
    token: str | None = None
    insecure: bool = False
    max_timeout: float = 600.0  # seconds a solve may be given, whatever it asks for
    max_queue: int = 100  # jobs waiting for a worker
    max_body: int = 1 * MIB  # a JSON request
    max_upload: int = 64 * MIB  # a multipart upload (an ONNX model)
    job_memory_mib: int = 4096  # address space of a worker process
    max_wait: float = 600.0  # seconds `?wait=` may hold a request
    cors_origin: str | None = None

    def check(self) -> None:
        """Refuse settings that would be unsafe or cannot work (a SpecError names the flag)."""
        if self.token is not None and not self.token.strip():
            raise SpecError("--token is empty", hint="pass a long random string, e.g. `openssl rand -hex 32`")
        if not is_loopback(self.host) and self.token is None and not self.insecure:
            raise SpecError(
                f"--host {self.host} would expose the service beyond this machine without authentication",
                hint="pass --token (or set RFDESIGN_TOKEN) so clients must send `Authorization: Bearer TOKEN`, "
                     "or --insecure if the network is trusted",
            )
        if self.workers < 1:
            raise SpecError("--workers must be at least 1")
        if self.max_queue < 1:
            raise SpecError("--queue must be at least 1")


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost: addresses no other machine can reach."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
