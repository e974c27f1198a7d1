"""A Python client of ``rfdesign serve`` (httpx; extra ``[serve]``).

::

    from rfdesign.client import Client

    with Client("http://127.0.0.1:8000") as client:
        report = client.analyze(pathlib.Path("specs/zoo/vgg_16.yaml"))      # the JSON of `rfdesign analyze -f json`
        print(report["receptive_field"])
        result = client.solve(pathlib.Path("examples/detector_head.yaml"),
                              progress=lambda p: print(p.found, p.best, p.bound))
        print(result["status"], result["proposals"][0]["params"])

A spec is YAML text (``str``), a JSON object (``dict``), or a path
(``pathlib.Path``) that the client reads; ONNX models and Darknet cfgs are
uploaded. Every method returns what the command prints for the same
request: parsed JSON for ``format="json"`` (the default), else the text.
A bad spec raises the same :class:`~rfdesign.errors.SpecError` (file, line,
column, hint) as the library; every other refusal raises
:class:`ServiceError` with the service's problem document.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from rfdesign.errors import RfDesignError, SpecError, require

Spec = str | dict[str, Any] | os.PathLike[str]
FINISHED = ("done", "failed", "cancelled")
UPLOADS = (".onnx", ".cfg")


class ServiceError(RfDesignError):
    """The service refused a request or could not be reached; ``problem`` is its problem document, if any."""

    def __init__(self, message: str, status: int | None = None, problem: dict[str, Any] | None = None,
                 retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.problem = problem or {}
        self.retry_after = retry_after


@dataclass(frozen=True)
class JobProgress:
    """A solve's progress as the service reports it (the fields of :class:`rfdesign.solve.search.Progress`)."""

    found: int
    best: int | None
    bound: int | None
    elapsed: float
    message: str


ProgressCallback = Callable[[JobProgress], None]


class Client:
    """A connection to one service; ``token`` (default: ``$RFDESIGN_TOKEN``) is sent as a bearer token."""

    def __init__(self, url: str, token: str | None = None, timeout: float = 60.0, transport: Any = None):
        httpx = require("httpx", "serve")
        self.url = url.rstrip("/")
        token = token if token is not None else os.environ.get("RFDESIGN_TOKEN")
        headers = {"User-Agent": "rfdesign-client"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._httpx = httpx
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout, transport=transport)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- plumbing ----------------------------------------------------------------------------------------

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except self._httpx.TransportError as exc:
            raise ServiceError(f"cannot reach the rfdesign service at {self.url}: {exc}",
                               None) from None
        if response.status_code >= 400:
            raise _error(response)
        return response

    @staticmethod
    def _body(response: Any, fmt: str, raw: bool = False) -> Any:
        return response.json() if fmt in ("json", "sarif") and not raw else response.text

    def _spec_request(self, path: str, spec: Spec, filename: str | None, fmt: str, options: dict[str, Any]) -> Any:
        """POST a spec (text, object or file); files named .onnx / .cfg go as multipart uploads."""
        options = {key: value for key, value in options.items() if value is not None}
        if isinstance(spec, os.PathLike):
            file = os.fspath(spec)
            label = filename or file
            if os.path.splitext(file)[1].lower() in UPLOADS:
                with open(file, "rb") as handle:
                    data = handle.read()
                form = {key: _form_value(value) for key, value in {**options, "format": fmt}.items()}
                return self._request("POST", path, files={"file": (os.path.basename(label), data)}, data=form)
            spec = read_spec(file)
            filename = label
        body = {"spec": spec, "filename": filename or "<spec>", "format": fmt, **options}
        return self._request("POST", path, json=body)

    # -- the commands --------------------------------------------------------------------------------------

    def analyze(self, spec: Spec, *, filename: str | None = None, format: str = "json", input_size: Any = None,
                layer: str | None = None, output: str | None = None, unit: Any = None, pixel: Any = None,
                raw: bool = False) -> Any:
        """``rfdesign analyze``: the JSON (a dict) for ``format="json"``, else the table / markdown / CSV text.

        ``raw``: the text as the command prints it, in every format.
        """
        response = self._spec_request("/v1/analyze", spec, filename, format, {
            "input_size": input_size, "layer": layer, "output": output, "unit": unit, "pixel": pixel})
        return self._body(response, format, raw)

    def check(self, spec: Spec, *, filename: str | None = None, format: str = "json", select: Any = None,
              ignore: Any = None, min_rf: int | None = None, input_size: Any = None) -> Any:
        """``rfdesign check`` of one spec: the report (a dict for json and sarif), else the text."""
        response = self._spec_request("/v1/check", spec, filename, format, {
            "select": select, "ignore": ignore, "min_rf": min_rf, "input_size": input_size})
        return self._body(response, format)

    def export(self, spec: Spec, *, filename: str | None = None, to: str = "pytorch",
               class_name: str | None = None) -> str:
        """``rfdesign export``: PyTorch code or a flat spec, as text."""
        if isinstance(spec, os.PathLike):
            filename = filename or os.fspath(spec)
            spec = read_spec(os.fspath(spec))
        body = {"spec": spec, "filename": filename or "<spec>", "to": to, "class_name": class_name}
        return self._request("POST", "/v1/export", json={k: v for k, v in body.items() if v is not None}).text

    def submit_solve(self, spec: Spec, *, filename: str | None = None, **options: Any) -> dict[str, Any]:
        """Create a solve job (or find the identical one); the job (``status``, ``links``...)."""
        if isinstance(spec, os.PathLike):
            filename = filename or os.fspath(spec)
            spec = read_spec(os.fspath(spec))
        body = {"spec": spec, "filename": filename or "<spec>", **_options(options)}
        return self._submit("/v1/solve", body)

    def submit_propose(self, **options: Any) -> dict[str, Any]:
        """Create a propose job from the options of ``rfdesign propose`` (``input``, ``rf``, ``depth``...)."""
        return self._submit("/v1/propose", _options(options))

    def _submit(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self._request("POST", path, json=body)
        job_id = response.headers.get("Rfdesign-Job")
        if response.status_code == 200:  # an identical request's stored result
            return self.job(job_id)
        return response.json()

    def solve(self, spec: Spec, *, filename: str | None = None, format: str = "json",
              progress: ProgressCallback | None = None, **options: Any) -> Any:
        """``rfdesign solve``: submit, follow the job's progress, return its result (cancelled on Ctrl-C)."""
        job = self.submit_solve(spec, filename=filename, **options)
        return self.follow(job["id"], format, progress)

    def propose(self, *, format: str = "json", progress: ProgressCallback | None = None, **options: Any) -> Any:
        """``rfdesign propose``: submit, follow, return the result."""
        job = self.submit_propose(**options)
        return self.follow(job["id"], format, progress)

    def follow(self, job_id: str, format: str = "json", progress: ProgressCallback | None = None,
               raw: bool = False) -> Any:
        """Wait for a job, calling ``progress`` as it reports; its result, or ServiceError if it failed.

        A KeyboardInterrupt cancels the job before it propagates.
        """
        try:
            for _ in range(100):  # reconnect if the stream drops before the end
                for event, data in self.events(job_id):
                    if event == "job" and progress is not None:
                        report = json.loads(data).get("progress")
                        if report:
                            progress(JobProgress(**report))
                    elif event in ("result", "error"):
                        break
                job = self.job(job_id)
                if job["status"] in FINISHED:
                    return self.result(job_id, format, raw)
                time.sleep(0.5)
            raise ServiceError(f"lost track of job {job_id}")
        except KeyboardInterrupt:
            try:
                self.cancel(job_id)
            except ServiceError:
                pass
            raise

    # -- jobs ------------------------------------------------------------------------------------------------

    def job(self, job_id: str | None) -> dict[str, Any]:
        return self._request("GET", f"/v1/jobs/{job_id}").json()

    def jobs(self, limit: int = 20, status: str | None = None) -> list[dict[str, Any]]:
        """The most recent jobs, newest first."""
        params: dict[str, Any] = {"limit": limit}
        if status is not None:
            params["status"] = status
        return self._request("GET", "/v1/jobs", params=params).json()["jobs"]

    def result(self, job_id: str, format: str = "json", raw: bool = False) -> Any:
        """A finished job's result (ServiceError if it failed or was cancelled)."""
        response = self._request("GET", f"/v1/jobs/{job_id}/result", params={"format": format})
        return self._body(response, format, raw)

    def job_spec(self, job_id: str) -> str:
        """The spec a job solves (for propose: the template)."""
        return self._request("GET", f"/v1/jobs/{job_id}/spec").text

    def cancel(self, job_id: str) -> dict[str, Any]:
        return self._request("DELETE", f"/v1/jobs/{job_id}").json()

    def events(self, job_id: str) -> Iterator[tuple[str, str]]:
        """The job's server-sent events as (event, data) pairs, until the stream ends."""
        try:
            with self._http.stream("GET", f"/v1/jobs/{job_id}/events", timeout=None) as response:
                if response.status_code >= 400:
                    response.read()
                    raise _error(response)
                event, data = "message", []
                for line in response.iter_lines():
                    if not line:
                        if data:
                            yield event, "\n".join(data)
                        event, data = "message", []
                    elif line.startswith("event:"):
                        event = line[6:].strip()
                    elif line.startswith("data:"):
                        data.append(line[5:].removeprefix(" "))
        except self._httpx.TransportError:
            return

    # -- reference --------------------------------------------------------------------------------------------

    def rules(self) -> list[dict[str, Any]]:
        return self._request("GET", "/v1/rules").json()

    def rule(self, code: str) -> dict[str, Any]:
        return self._request("GET", f"/v1/rules/{code}").json()

    def schema(self) -> dict[str, Any]:
        return self._request("GET", "/v1/schema").json()

    def ready(self) -> dict[str, Any]:
        try:
            return self._http.get("/readyz").json()
        except self._httpx.TransportError as exc:
            raise ServiceError(f"cannot reach the rfdesign service at {self.url}: {exc}") from None


def read_spec(path: str) -> str:
    """A spec file's text, as `rfdesign` reads it (size limit, UTF-8 with located errors)."""
    from rfdesign.spec.yamlload import read_text

    return read_text(path)


def _options(options: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in options.items() if value is not None}


def _form_value(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


def _error(response: Any) -> Exception:
    try:
        problem = response.json()
    except ValueError:
        problem = {}
    if not isinstance(problem, dict):
        problem = {}
    if response.status_code == 422 and problem.get("type", "").endswith("#bad-spec"):
        from rfdesign.service.problems import to_spec_error

        return to_spec_error(problem)
    retry = response.headers.get("Retry-After")
    detail = problem.get("detail") or response.text.strip()[:200] or response.reason_phrase
    message = f"the service answered {response.status_code}: {detail}"
    if retry:
        message += f" (retry in {retry} s)"
    return ServiceError(message, response.status_code, problem, float(retry) if retry else None)
