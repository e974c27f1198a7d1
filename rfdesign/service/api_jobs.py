"""``/v1/solve``, ``/v1/propose`` and ``/v1/jobs``: solves as jobs, their progress as server-sent events.

``POST /v1/solve`` and ``/v1/propose`` check the request at once (a bad
spec is a 422 before any job exists), then create a job, or find the one
that answers an identical request, and answer ``202`` with the job and its
``Location``. With ``?wait=S`` they wait up to S seconds and answer ``200``
with the result when it is done by then; a stored result answers at once.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response, StreamingResponse

from rfdesign.errors import SpecError
from rfdesign.service import models
from rfdesign.service.api_commands import body_doc, in_thread
from rfdesign.service.http import json_body, text_response, validated
from rfdesign.service.jobs import JobManager, QueueFull
from rfdesign.service.problems import ServiceProblem
from rfdesign.service.store import FINISHED, JobRecord

router = APIRouter()
KEEP_ALIVE = 15.0  # seconds between comments on a quiet event stream
CANCEL_WAIT = 2.0  # seconds DELETE waits for the worker to stop
PAGE_MAX = 200


def _iso(stamp: float | None) -> str | None:
    if stamp is None:
        return None
    return datetime.fromtimestamp(stamp, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def job_model(record: JobRecord, from_store: bool = False) -> models.Job:
    base = f"/v1/jobs/{record.id}"
    error = None
    if record.error:
        fields = dict(record.error)
        kind = fields.pop("kind", "job-failed")
        detail = fields.pop("detail", "")
        error = models.Problem(**ServiceProblem(kind, detail, **fields).body(base))
    return models.Job(
        id=record.id, kind=record.kind, status=record.status, name=record.name, created=_iso(record.created),
        started=_iso(record.started), finished=_iso(record.finished), timeout=record.timeout,
        progress=models.JobProgress(**record.progress) if record.progress else None,
        result_status=record.result_status, error=error, from_store=from_store,
        links=models.JobLinks(self=base, events=f"{base}/events", result=f"{base}/result", spec=f"{base}/spec"),
    )


def _manager(request: Request) -> JobManager:
    return request.app.state.manager


def _max_timeout(request: Request) -> float:
    return request.app.state.config.max_timeout


async def finished(manager: JobManager, job_id: str, seconds: float) -> JobRecord | None:
    """Wait up to ``seconds`` for a job to finish; its record (finished or not), None if it vanished."""
    loop = asyncio.get_running_loop()
    changed = asyncio.Event()

    def listener(changed_id: str) -> None:
        if changed_id == job_id:
            loop.call_soon_threadsafe(changed.set)

    manager.add_listener(listener)
    try:
        deadline = loop.time() + seconds
        while True:
            changed.clear()
            record = manager.get(job_id)
            if record is None or record.status in FINISHED:
                return record
            left = deadline - loop.time()
            if left <= 0:
                return record
            try:
                await asyncio.wait_for(changed.wait(), timeout=left)
            except asyncio.TimeoutError:
                pass
    finally:
        manager.remove_listener(listener)


def result_response(manager: JobManager, record: JobRecord, fmt: str, from_store: bool = False) -> Response:
    """A finished job's result as `rfdesign solve -f FMT` prints it; a problem for a failed or cancelled job."""
    from rfdesign.commands.solve import exit_status, yaml_from_data

    headers = {"Location": f"/v1/jobs/{record.id}", "Rfdesign-Job": record.id}
    if from_store:
        headers["Rfdesign-From-Store"] = "true"
    if record.status in ("failed", "cancelled"):
        problem = job_model(record).error
        kind = "cancelled" if record.status == "cancelled" else "job-failed"
        detail = problem.detail if problem is not None else record.status
        raise ServiceProblem(kind, f"job {record.id} {record.status}: {detail}", job=record.id, headers=headers)
    if record.status != "done":
        headers["Retry-After"] = "1"
        raise ServiceProblem("not-finished", f"job {record.id} is {record.status}", job=record.id, headers=headers)
    json_text, table_text = manager.store.result(record.id)
    assert json_text is not None and table_text is not None
    code = exit_status(record.result_status or "unknown")
    if fmt == "json":
        return text_response(json_text + "\n", "json", code, headers)
    if fmt == "yaml":
        return text_response(yaml_from_data(json.loads(json_text)), "yaml", code, headers)
    return text_response(table_text + "\n", "table", code, headers)


async def _submit(request: Request, kind: str, key: str, name: str, payload: dict[str, Any], spec: str,
                  timeout: float, wait: float, fmt: str) -> Response:
    manager = _manager(request)
    try:
        record, reused = await run_in_threadpool(manager.submit, kind, key, name, payload, spec, timeout)
    except QueueFull as full:
        raise ServiceProblem("queue-full", f"{manager.max_queue} jobs are waiting for a worker; retry in "
                             f"{full.retry_after} s", headers={"Retry-After": str(full.retry_after)}) from None
    if wait > 0 and record.status not in FINISHED:
        record = await finished(manager, record.id, min(wait, request.app.state.config.max_wait)) or record
    if record.status == "done" and (wait > 0 or reused):
        return result_response(manager, record, fmt, from_store=reused)
    location = f"/v1/jobs/{record.id}"
    body = job_model(record, from_store=reused).model_dump(mode="json")
    return JSONResponse(body, status_code=202, headers={"Location": location, "Rfdesign-Job": record.id})


Wait = Query(0.0, ge=0, description="Seconds to wait for the result (200 when done by then; else 202 and the job).")
Format = Query("json", description="The result's format, as `rfdesign solve -f`.")
JOB_RESPONSES: dict[int | str, Any] = {
    200: {"description": "The result (done within `wait`, or an identical request's stored result).",
          "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SolveReport"}},
                      "text/plain": {}, "application/yaml": {}}},
    202: {"description": "The job: follow `Location` or `links.events`.", "model": models.Job},
    422: {"description": "A bad spec or option", "model": models.Problem},
    429: {"description": "The queue is full (see `Retry-After`)", "model": models.Problem},
}


def _timeout(request: Request, asked: float) -> float:
    return min(asked, _max_timeout(request))


@router.post("/solve", status_code=202, summary="Solve a spec with holes (rfdesign solve)",
             openapi_extra=body_doc(models.SolveRequest), responses=JOB_RESPONSES)
async def solve(request: Request, wait: float = Wait, format: Literal["json", "table", "yaml"] = Format) -> Response:
    """Fill the spec's `{choose: [...]}` holes with the cheapest choices that meet its `target:`."""
    from rfdesign.commands.solve import overrides
    from rfdesign.service.inputs import parse, request_key, spec_text

    body = validated(models.SolveRequest, await json_body(request))
    timeout = _timeout(request, body.timeout)

    def prepare() -> Any:
        options = overrides(body.objective, body.top_k, body.no_unseen_pixels, body.no_gridding, body.forbid,
                            body.allow)
        graph = parse(body.spec, body.filename)
        _check_problem(graph, options, body.method)
        return graph, options

    graph, options = await in_thread(prepare)
    text = spec_text(body.spec)
    run_options = {"timeout": timeout, "method": body.method, "explain": body.explain}
    key = request_key("solve", graph.raw, body.filename, {**options, **run_options})
    payload = {"spec": text, "file": body.filename, "options": options, "method": body.method,
               "explain": body.explain}
    return await _submit(request, "solve", key, graph.name, payload, text, timeout, wait, format)


def _check_problem(graph: Any, options: dict[str, Any] | None, method: str) -> None:
    """The checks the solver makes before it searches, made here so a bad request is a 422, not a failed job."""
    from rfdesign.solve.chain import why_not_chain
    from rfdesign.solve.problem import build_problem

    problem = build_problem(graph, options)
    if method == "dp":
        reason = why_not_chain(problem)
        if reason is not None:
            raise SpecError(f"the chain model does not apply: {reason}", hint="use method auto or z3")


@router.post("/propose", status_code=202, summary="Design a conv stack from a few numbers (rfdesign propose)",
             openapi_extra=body_doc(models.ProposeRequest), responses=JOB_RESPONSES)
async def propose(request: Request, wait: float = Wait,
                  format: Literal["json", "table", "yaml"] = Format) -> Response:
    """Build `rfdesign propose`'s template from these numbers and solve it; `GET /v1/jobs/{id}/spec` is the template."""
    from rfdesign.commands.solve import PROPOSED_TEMPLATE, overrides, propose_template
    from rfdesign.service.inputs import parse, request_key

    body = validated(models.ProposeRequest, await json_body(request))
    timeout = _timeout(request, body.timeout)
    file = body.template_file or PROPOSED_TEMPLATE

    def prepare() -> Any:
        text = propose_template(body.input, body.rf, body.dims, body.input_channels, body.output_size, body.family,
                                body.depth, body.kernels, body.strides, body.dilations, body.channels, body.norm,
                                body.objective, body.top_k)
        options = overrides(body.objective, body.top_k, body.no_unseen_pixels, body.no_gridding, body.forbid,
                            body.allow)
        graph = parse(text, file)
        _check_problem(graph, options, body.method)
        return text, graph, options

    text, graph, options = await in_thread(prepare)
    run_options = {"timeout": timeout, "method": body.method, "explain": body.explain}
    key = request_key("propose", graph.raw, file, {**options, **run_options})
    payload = {"spec": text, "file": file, "options": options, "method": body.method, "explain": body.explain}
    return await _submit(request, "propose", key, graph.name, payload, text, timeout, wait, format)


def _job(request: Request, job_id: str) -> JobRecord:
    record = _manager(request).get(job_id)
    if record is None:
        raise ServiceProblem("not-found", f"no job {job_id!r}", hint="GET /v1/jobs lists the recent jobs")
    return record


@router.get("/jobs", response_model=models.JobPage, summary="Recent jobs, newest first")
def jobs(request: Request, limit: int = Query(20, ge=1, le=PAGE_MAX),
         before: int | None = Query(None, ge=1, description="The cursor from the previous page's `next`."),
         status: models.JobState | None = Query(None, description="Only jobs in this state.")) -> models.JobPage:
    manager = _manager(request)
    records = manager.store.page(limit + 1, before, status)
    more = len(records) > limit
    records = [manager.view(r) for r in records[:limit]]
    following = None
    if more:
        following = f"/v1/jobs?limit={limit}&before={records[-1].seq}" + (f"&status={status}" if status else "")
    return models.JobPage(jobs=[job_model(r) for r in records], next=following)


@router.get("/jobs/{job_id}", response_model=models.Job, summary="A job's status and progress",
            responses={404: {"model": models.Problem}})
def job(request: Request, job_id: str) -> models.Job:
    return job_model(_job(request, job_id))


@router.get("/jobs/{job_id}/result", summary="A finished job's result (as rfdesign solve prints it)",
            responses={**{k: v for k, v in JOB_RESPONSES.items() if k == 200},
                       409: {"description": "Not finished, failed or cancelled", "model": models.Problem}})
def job_result(request: Request, job_id: str, format: Literal["json", "table", "yaml"] = Format) -> Response:
    return result_response(_manager(request), _job(request, job_id), format)


@router.get("/jobs/{job_id}/spec", summary="The spec the job solves (for propose: the template)",
            responses={200: {"content": {"application/yaml": {}}}})
def job_spec(request: Request, job_id: str) -> Response:
    return Response(_job(request, job_id).spec, media_type="application/yaml")


@router.delete("/jobs/{job_id}", response_model=models.Job, summary="Cancel a job",
               responses={404: {"model": models.Problem}, 409: {"model": models.Problem}})
async def cancel(request: Request, job_id: str) -> models.Job:
    """Cancel a queued or running job; a running job's worker is killed, so it stops within a second.

    Answers with the job once it is cancelled (409 when it had already finished).
    """
    manager = _manager(request)
    record = _job(request, job_id)
    if not await run_in_threadpool(manager.cancel, job_id):
        raise ServiceProblem("finished", f"job {job_id} is already {record.status}", job=job_id)
    record = await finished(manager, job_id, CANCEL_WAIT) or record
    return job_model(record)


def _event(name: str, data: str, event_id: int | None = None) -> str:
    lines = [f"event: {name}"]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.extend(f"data: {line}" for line in data.split("\n"))
    return "\n".join(lines) + "\n\n"


@router.get("/jobs/{job_id}/events", summary="A job's progress as server-sent events, ending with the result",
            responses={200: {"content": {"text/event-stream": {}}, "description": (
                "`event: job` (the job, as GET /v1/jobs/{id}) whenever its status or progress changes, then "
                "`event: result` (the result JSON, as rfdesign solve -f json prints it) or `event: error` "
                "(a problem) and the end of the stream.")}})
async def events(request: Request, job_id: str) -> StreamingResponse:
    manager = _manager(request)
    _job(request, job_id)
    state = request.app.state

    async def stream() -> AsyncIterator[str]:
        loop = asyncio.get_running_loop()
        changed = asyncio.Event()

        def listener(changed_id: str) -> None:
            if changed_id == job_id:
                loop.call_soon_threadsafe(changed.set)

        manager.add_listener(listener)
        state.streams += 1
        sent = 0
        try:
            last: str | None = None
            while True:
                changed.clear()
                record = manager.get(job_id)
                if record is None:
                    return
                view = job_model(record).model_dump_json()
                if view != last:
                    sent += 1
                    yield _event("job", view, sent)
                    last = view
                if record.status in FINISHED:
                    sent += 1
                    if record.status == "done":
                        json_text, _ = manager.store.result(job_id)
                        yield _event("result", json_text or "{}", sent)
                    else:
                        error = job_model(record).error
                        yield _event("error", error.model_dump_json(exclude_none=True) if error else "{}", sent)
                    return
                try:
                    await asyncio.wait_for(changed.wait(), timeout=KEEP_ALIVE)
                except asyncio.TimeoutError:
                    yield ": keep-alive\n\n"  # a comment: keeps proxies from closing a quiet stream
        finally:
            manager.remove_listener(listener)
            state.streams -= 1

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
