"""Errors as ``application/problem+json`` (RFC 9457), carrying the CLI's located message.

Every error the service answers with is a :class:`ServiceProblem` turned
into a JSON body here; a bad spec's :class:`~rfdesign.errors.SpecError`
keeps its ``line``, ``column`` and ``hint`` as fields. Nothing here lets a
traceback reach a client: an unexpected exception is logged on the server
and answered with a 500 that says only that it is a bug.
"""

from __future__ import annotations

from typing import Any

from rfdesign.errors import SpecError

MEDIA_TYPE = "application/problem+json"
DOCS = "https://github.com/rfdesign/rfdesign/blob/main/docs/service.md"

#: problem type slug -> (HTTP status, title); docs/service.md lists them under "Errors"
KINDS: dict[str, tuple[int, str]] = {
    "bad-spec": (422, "The spec or an option is invalid"),
    "invalid-request": (422, "The request body does not match the endpoint's model"),
    "malformed-json": (400, "The request body is not valid JSON"),
    "unsupported-media-type": (415, "Unsupported content type"),
    "body-too-large": (413, "The request body is too large"),
    "unauthorized": (401, "A valid bearer token is required"),
    "not-found": (404, "Not found"),
    "method-not-allowed": (405, "Method not allowed"),
    "queue-full": (429, "The job queue is full"),
    "finished": (409, "The job is already finished"),
    "not-finished": (409, "The job has not finished yet"),
    "job-failed": (409, "The job failed"),
    "cancelled": (409, "The job was cancelled"),
    "not-ready": (503, "The service is not ready"),
    "internal": (500, "Internal error"),
}


class ServiceProblem(Exception):
    """An error the service answers with (``kind`` is a key of :data:`KINDS`)."""

    def __init__(self, kind: str, detail: str, status: int | None = None, headers: dict[str, str] | None = None,
                 **fields: Any):
        super().__init__(detail)
        self.kind = kind
        self.status = status or KINDS[kind][0]
        self.detail = detail
        self.headers = headers or {}
        self.fields = {key: value for key, value in fields.items() if value is not None}

    def body(self, instance: str | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {
            "type": f"{DOCS}#{self.kind}",
            "title": KINDS[self.kind][1],
            "status": self.status,
            "detail": self.detail,
        }
        if instance is not None:
            data["instance"] = instance
        data.update(self.fields)
        return data


def from_spec_error(exc: SpecError) -> ServiceProblem:
    """A bad spec or option, with the CLI's one-line message and its location and hint as fields."""
    location = exc.location
    return ServiceProblem(
        "bad-spec",
        exc.render(),
        message=exc.message,
        file=location.file if location is not None else None,
        line=location.line if location is not None else None,
        column=location.column if location is not None else None,
        hint=exc.hint,
    )


def to_spec_error(body: dict[str, Any]) -> SpecError:
    """The SpecError a bad-spec problem was made from (a client re-raises it, so it prints as the CLI does)."""
    from rfdesign.errors import Location

    location = None
    if body.get("file") is not None:
        location = Location(body["file"], body.get("line"), body.get("column"))
    return SpecError(body.get("message") or body.get("detail") or "bad request", location, body.get("hint"))
