"""HTTP plumbing: problem+json responses, body limits, the bearer token, reading JSON and multipart bodies."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rfdesign.service.problems import MEDIA_TYPE, ServiceProblem

log = logging.getLogger("rfdesign.service")
Model = TypeVar("Model", bound=BaseModel)
EXIT_HEADER = "Rfdesign-Exit-Status"
DRAIN_LIMIT = 256 * 1024 * 1024  # bytes of a refused body read and dropped so the client sees the answer


def problem_response(problem: ServiceProblem, instance: str | None = None) -> JSONResponse:
    return JSONResponse(problem.body(instance), status_code=problem.status, headers=problem.headers,
                        media_type=MEDIA_TYPE)


class BodyTooLarge(ServiceProblem):
    def __init__(self, limit: int, what: str):
        super().__init__("body-too-large", f"the {what} is larger than the server's limit of {_size(limit)}",
                         limit=limit)


def _size(count: int) -> str:
    return f"{count // (1024 * 1024)} MiB" if count >= 1024 * 1024 else f"{count} bytes"


class BodyLimit:
    """Refuse request bodies over ``max_body`` (``max_upload`` for multipart uploads) with a 413 problem.

    A declared Content-Length over the limit is refused before the app runs; a body that grows past it
    while streaming stops the request where it is read. Either way the rest of the body is read and dropped
    (up to a bound), so that the client, still sending, receives the answer instead of a reset connection.
    """

    def __init__(self, app: ASGIApp, max_body: int, max_upload: int):
        self.app = app
        self.max_body = max_body
        self.max_upload = max_upload

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        upload = headers.get(b"content-type", b"").lower().startswith(b"multipart/form-data")
        limit = self.max_upload if upload else self.max_body
        what = "upload" if upload else "request body"
        declared = headers.get(b"content-length")
        more = [True]

        async def counted() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                counted.total += len(message.get("body", b""))  # type: ignore[attr-defined]
                more[0] = bool(message.get("more_body"))
                if counted.total > limit:  # type: ignore[attr-defined]
                    raise BodyTooLarge(limit, what)
            elif message["type"] == "http.disconnect":
                more[0] = False
            return message

        counted.total = 0  # type: ignore[attr-defined]
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _drain(receive, more)
            response = problem_response(BodyTooLarge(limit, what), scope.get("path"))
            await response(scope, receive, send)
            return
        await self.app(scope, counted, send)
        if more[0] and counted.total > limit:  # type: ignore[attr-defined]
            await _drain(receive, more)


async def _drain(receive: Receive, more: list[bool]) -> None:
    dropped = 0
    while more[0] and dropped < DRAIN_LIMIT:
        message = await receive()
        if message["type"] != "http.request":
            break
        dropped += len(message.get("body", b""))
        more[0] = bool(message.get("more_body"))


def same_token(given: str, expected: str) -> bool:
    """Compare tokens in constant time (hashed first, so not even the length leaks)."""
    return hmac.compare_digest(hashlib.sha256(given.encode()).digest(), hashlib.sha256(expected.encode()).digest())


def check_token(request: Request, token: str | None) -> None:
    """Raise a 401 problem unless the request carries ``Authorization: Bearer <token>`` (no token: open)."""
    if token is None:
        return
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not same_token(value.strip(), token):
        raise ServiceProblem("unauthorized", "send the service's token as `Authorization: Bearer TOKEN`",
                             headers={"WWW-Authenticate": 'Bearer realm="rfdesign"'})


async def json_body(request: Request) -> Any:
    """The request's JSON body; a 415 for another content type, a 400 with line and column for malformed JSON."""
    media = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise ServiceProblem("unsupported-media-type", f"send the body as application/json, not {media}")
    body = await request.body()
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        raise ServiceProblem("malformed-json", f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                             line=exc.lineno, column=exc.colno) from None
    except UnicodeDecodeError as exc:
        raise ServiceProblem("malformed-json", f"the body is not UTF-8 text (byte {exc.start})") from None
    except RecursionError:
        raise ServiceProblem("malformed-json", "the JSON nests too deeply to process") from None


def validated(model: type[Model], data: Any) -> Model:
    """``data`` as ``model``, or a 422 problem listing each invalid field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [{"loc": list(error["loc"]), "msg": error["msg"], "type": error["type"]} for error in exc.errors()]
        first = errors[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ServiceProblem("invalid-request", f"{where}: {first['msg']}{more}", errors=errors) from None


def text_response(text: str, fmt: str, exit_status: int | None = None,
                  headers: dict[str, str] | None = None, status_code: int = 200) -> Response:
    """A command's output as the command prints it (with its final newline)."""
    media = {"json": "application/json", "sarif": "application/sarif+json", "csv": "text/csv; charset=utf-8",
             "markdown": "text/markdown; charset=utf-8", "yaml": "application/yaml"}.get(fmt,
                                                                                         "text/plain; charset=utf-8")
    all_headers = dict(headers or {})
    if exit_status is not None:
        all_headers[EXIT_HEADER] = str(exit_status)
    return Response(text, status_code=status_code, media_type=media, headers=all_headers)
