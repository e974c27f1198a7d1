"""``rfdesign serve``: bind the socket, start uvicorn with the app, stop cleanly on SIGINT / SIGTERM."""

from __future__ import annotations

import socket
import sys

from rfdesign.errors import SpecError
from rfdesign.service.config import ServiceConfig

SHUTDOWN_GRACE = 5  # seconds open connections (event streams) get when the server stops


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: a free port, reported by the caller)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise SpecError(f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                        hint="pick another --port (0 picks a free one)") from None
    sock.listen(2048)
    return sock


def serve(config: ServiceConfig, log_level: str = "info") -> None:
    """Run the service until interrupted (see docs/service.md)."""
    from rfdesign.errors import require

    config.check()
    uvicorn = require("uvicorn", "serve")
    require("fastapi", "serve")
    require("python_multipart", "serve")
    from rfdesign.service.app import create_app

    sock = bind(config.host, config.port)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    app = create_app(config)
    uvicorn_config = uvicorn.Config(app, log_level=log_level, timeout_graceful_shutdown=SHUTDOWN_GRACE,
                                    proxy_headers=False, server_header=False)
    server = uvicorn.Server(uvicorn_config)
    auth = "bearer token required" if config.token else "no token"
    print(f"rfdesign serve: listening on http://{shown}:{port}/ ({config.workers} workers, queue {config.max_queue}, "
          f"{auth}, jobs in {config.db})", file=sys.stderr, flush=True)
    server.run(sockets=[sock])
