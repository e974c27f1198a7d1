"""The FastAPI application: routes under ``/v1``, errors as problem+json, the design-assistant page at ``/``.

:func:`create_app` builds the app for a :class:`~rfdesign.service.config.ServiceConfig`;
the job store and the worker pool start with the app's lifespan and stop with it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.staticfiles import StaticFiles
from pydantic.json_schema import models_json_schema
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import FileResponse, JSONResponse, Response

from rfdesign import __version__
from rfdesign.errors import SpecError
from rfdesign.service import api_commands, api_jobs, models
from rfdesign.service.config import ServiceConfig
from rfdesign.service.http import BodyLimit, check_token, problem_response
from rfdesign.service.jobs import JobManager
from rfdesign.service.problems import ServiceProblem, from_spec_error
from rfdesign.service.store import JobStore

log = logging.getLogger("rfdesign.service")

#: models documented in the OpenAPI document although handlers read and write them as text
DOCUMENTED = (models.AnalyzeRequest, models.AnalyzeOptions, models.CheckRequest, models.CheckOptions,
              models.SolveRequest, models.ProposeRequest, models.ExportRequest, models.AnalysisReport,
              models.LayerReport, models.CoordinatesReport, models.CheckReport, models.SolveReport, models.Problem,
              models.Job)
PAGE_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
               "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
STATUS_KIND = {401: "unauthorized", 404: "not-found", 405: "method-not-allowed", 413: "body-too-large",
               415: "unsupported-media-type"}


def static_dir() -> str:
    return str(resources.files("rfdesign.service") / "static")


def create_app(config: ServiceConfig) -> FastAPI:
    """The service for ``config`` (the store opens and the workers start when the app starts)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = JobStore(config.db)
        manager = JobManager(store, config.workers, config.max_queue, config.job_memory_mib)
        app.state.store = store
        app.state.manager = manager
        manager.start()
        try:
            yield
        finally:
            manager.stop()
            store.close()

    app = FastAPI(
        title="rfdesign",
        version=__version__,
        summary="Receptive-field design service: analyze, review and solve CNN designs.",
        description="The HTTP API of `rfdesign serve` (docs/service.md). Every result is what the `rfdesign` "
                    "command prints for the same request; errors are application/problem+json.",
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.config = config
    app.state.streams = 0

    def authorised(request: Request) -> None:
        check_token(request, config.token)

    v1 = APIRouter(prefix="/v1", dependencies=[Depends(authorised)])
    v1.include_router(api_commands.router)
    v1.include_router(api_jobs.router)
    app.include_router(v1)
    _health_routes(app)
    _page_routes(app)
    _error_handlers(app)
    _openapi(app)
    app.add_middleware(_SecurityHeaders)  # type: ignore[arg-type]
    if config.cors_origin:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=[config.cors_origin], allow_methods=["GET", "POST", "DELETE"],
                           allow_headers=["Authorization", "Content-Type"],
                           expose_headers=["Location", "Retry-After", "Rfdesign-Exit-Status", "Rfdesign-Job"])
    app.add_middleware(BodyLimit, max_body=config.max_body, max_upload=config.max_upload)  # type: ignore[arg-type]
    return app


def _health_routes(app: FastAPI) -> None:
    @app.get("/healthz", response_model=models.Health, tags=["health"], summary="Liveness: the process answers")
    def healthz() -> models.Health:
        return models.Health(status="ok", version=__version__)

    @app.get("/readyz", response_model=models.Ready, tags=["health"],
             summary="Readiness: at least one worker is up", responses={503: {"model": models.Ready}})
    def readyz(request: Request) -> Response:
        manager: JobManager = request.app.state.manager
        counts = manager.counts()
        ready = models.Ready(ready=manager.ready_workers > 0 or counts["running"] > 0, version=__version__,
                             workers=manager.ready_workers, queued=counts["queued"], running=counts["running"],
                             queue_limit=manager.max_queue, streams=request.app.state.streams)
        return JSONResponse(ready.model_dump(), status_code=200 if ready.ready else 503)


def _page_routes(app: FastAPI) -> None:
    directory = static_dir()

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(f"{directory}/index.html", media_type="text/html; charset=utf-8")

    app.mount("/static", StaticFiles(directory=directory), name="static")


def _error_handlers(app: FastAPI) -> None:
    def path(request: Request) -> str:
        return request.url.path

    @app.exception_handler(ServiceProblem)
    async def on_problem(request: Request, exc: ServiceProblem) -> Response:
        return problem_response(exc, path(request))

    @app.exception_handler(SpecError)
    async def on_spec_error(request: Request, exc: SpecError) -> Response:
        return problem_response(from_spec_error(exc), path(request))

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
                  for e in exc.errors()]
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        where = ".".join(str(part) for part in first["loc"]) or "request"
        return problem_response(ServiceProblem("invalid-request", f"{where}: {first['msg']}", errors=errors),
                                path(request))

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> Response:
        kind = STATUS_KIND.get(exc.status_code, "invalid-request")
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404:
            detail = f"no such resource: {request.url.path}"
        return problem_response(ServiceProblem(kind, detail, status=exc.status_code, headers=exc.headers or None),
                                path(request))

    @app.exception_handler(Exception)
    async def on_bug(request: Request, exc: Exception) -> Response:
        log.exception("internal error on %s %s", request.method, request.url.path)
        return problem_response(ServiceProblem("internal", f"internal error ({type(exc).__name__}); this is a bug in "
                                                           "rfdesign, the server's log has the details"),
                                path(request))


def _openapi(app: FastAPI) -> None:
    """The generated document, plus the schemas of the models that handlers read and write as text."""

    def document() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, summary=app.summary, description=app.description,
                             routes=app.routes)
        _, extra = models_json_schema([(model, "validation") for model in DOCUMENTED],
                                      ref_template="#/components/schemas/{model}")
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for name, definition in extra.get("$defs", {}).items():
            components.setdefault(name, definition)
        schema["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
        schema["security"] = [{"bearer": []}, {}]
        app.openapi_schema = schema
        return schema

    app.openapi = document  # type: ignore[method-assign]


class _SecurityHeaders:
    """nosniff and no referrer on every answer; the page and its files get a strict content security policy."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        page = scope.get("path", "") == "/" or scope.get("path", "").startswith("/static/")

        async def with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                headers.append((b"x-content-type-options", b"nosniff"))
                headers.append((b"referrer-policy", b"no-referrer"))
                if page:
                    headers.append((b"content-security-policy", PAGE_POLICY.encode()))
                    headers.append((b"x-frame-options", b"DENY"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)
