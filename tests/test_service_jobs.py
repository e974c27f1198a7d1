"""Solve jobs on a real `rfdesign serve`: waiting, progress as events, sharing, cancelling, and the faults.

The long solve is tests/fixtures/service/long_solve.yaml, a residual TCN that z3 (`method: z3`) needs
minutes to prove, so progress and cancellation are watched on a solve that really runs.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import psutil
import pytest

from conftest import FIXTURES, ROOT
from service_process import ServiceProcess

LONG = (FIXTURES / "service" / "long_solve.yaml").read_text()
Z3 = {"method": "z3"}  # the fixture is long for z3 (the stage dynamic program solves it in seconds)
QUICK = (ROOT / "examples" / "detector_head.yaml").read_text()


def quick_chain(low: int) -> str:
    """A small chain the dynamic program solves in milliseconds; ``low`` varies the request's content."""
    return f"""\
name: chain
input: {{size: [64, 64], channels: 3}}
target: {{receptive_field: {{min: {low}, max: {low + 12}}}, output_size: [8, 8]}}
layers:
  - {{op: conv, out: 8, kernel: {{choose: [1, 3, 5]}}, stride: {{choose: [1, 2]}}, padding: same}}
  - {{op: conv, out: 8, kernel: {{choose: [1, 3, 5]}}, stride: {{choose: [1, 2]}}, padding: same}}
  - {{op: conv, out: 8, kernel: {{choose: [1, 3, 5]}}, stride: {{choose: [1, 2]}}, dilation: {{choose: [1, 2]}},
     padding: same}}
  - {{op: conv, out: 8, kernel: {{choose: [1, 3]}}, dilation: {{choose: [1, 2, 4]}}, padding: same}}
"""


def events(client: httpx.Client, job_id: str):
    """The job's server-sent events as (event, data) pairs."""
    with client.stream("GET", f"/v1/jobs/{job_id}/events", timeout=None) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        name, data = None, []
        for line in response.iter_lines():
            if not line:
                if data:
                    yield name, "\n".join(data)
                name, data = None, []
            elif line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])


def wait_for(predicate, seconds: float, step: float = 0.05):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError("condition not met in time")


def test_wait_answers_with_the_result_and_the_job_keeps_it(http):
    response = http.post("/v1/solve?wait=60", json={"spec": quick_chain(20), "filename": "chain.yaml"})
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["status"] == "optimal" and result["proposals"]
    job_id = response.headers["rfdesign-job"]
    assert response.headers["location"] == f"/v1/jobs/{job_id}"
    job = http.get(f"/v1/jobs/{job_id}").json()
    assert job["status"] == "done" and job["result_status"] == "optimal" and job["name"] == "chain"
    assert http.get(f"/v1/jobs/{job_id}/result").text == response.text
    assert http.get(f"/v1/jobs/{job_id}/spec").text == quick_chain(20)
    assert "proposal 1:" in http.get(f"/v1/jobs/{job_id}/result?format=table").text


def test_without_wait_a_job_is_202_with_its_location(http):
    response = http.post("/v1/solve", json={"spec": quick_chain(21), "filename": "chain.yaml"})
    assert response.status_code == 202
    job = response.json()
    assert response.headers["location"] == job["links"]["self"] == f"/v1/jobs/{job['id']}"
    assert job["status"] in ("queued", "running", "done")
    final = [data for name, data in events(http, job["id"])]
    assert json.loads(final[-1])["status"] == "optimal"


def test_identical_requests_are_one_job_answered_from_the_store(http):
    body = {"spec": quick_chain(22), "filename": "chain.yaml"}
    first = http.post("/v1/solve?wait=60", json=body)
    assert first.status_code == 200
    # the same spec written differently (comments, order of keys, spacing) is the same request
    reordered = "# the same design problem\n" + quick_chain(22).replace(
        "input: {size: [64, 64], channels: 3}", "input:  {channels: 3, size: [64, 64]}")
    again = http.post("/v1/solve", json={"spec": reordered, "filename": "chain.yaml"})
    assert again.status_code == 200 and again.headers["rfdesign-from-store"] == "true"
    assert again.headers["rfdesign-job"] == first.headers["rfdesign-job"]
    assert again.text == first.text
    other = http.post("/v1/solve", json={**body, "top_k": 2})  # other options: another job
    assert other.headers["rfdesign-job"] != first.headers["rfdesign-job"]


def test_bad_solve_requests_are_422_before_any_job(http):
    before = len(http.get("/v1/jobs?limit=200").json()["jobs"])
    no_target = quick_chain(20).split("target:")[0] + "layers:\n  - {op: conv, out: 8, kernel: {choose: [1, 3]}}\n"
    response = http.post("/v1/solve", json={"spec": no_target})
    assert response.status_code == 422 and "no `target:`" in response.json()["detail"]
    oblong = quick_chain(20).replace("[64, 64]", "[64, 32]").replace("[8, 8]", "[8, 4]")
    response = http.post("/v1/solve", json={"spec": oblong, "method": "dp"})
    assert response.status_code == 422 and "chain model does not apply" in response.json()["detail"]
    response = http.post("/v1/propose", json={"input": 224, "rf": "300:200"})
    assert response.status_code == 422 and "rf" in response.json()["detail"]
    assert len(http.get("/v1/jobs?limit=200").json()["jobs"]) == before


def test_timeout_is_capped_by_the_server(http):
    job = http.post("/v1/solve", json={"spec": quick_chain(23), "timeout": 10**6}).json()
    assert job["timeout"] == 600


def test_progress_events_then_cancel_stops_the_worker_within_a_second(service, http):
    workers_before = set(service.workers())
    job = http.post("/v1/solve", json={"spec": LONG, "filename": "long_solve.yaml", "timeout": 300, **Z3}).json()
    reports = []
    for name, data in events(http, job["id"]):
        assert name == "job"
        state = json.loads(data)
        if state["progress"]:
            reports.append(state["progress"])
        if state["status"] == "running" and reports and reports[-1]["elapsed"] > 1.0:
            break
    assert reports[-1]["bound"] is not None and reports[-1]["message"]
    elapsed = [r["elapsed"] for r in reports]
    assert elapsed == sorted(elapsed)
    running = http.get(f"/v1/jobs/{job['id']}").json()
    assert running["status"] == "running" and running["progress"]["elapsed"] > 1.0

    busy = [pid for pid in workers_before if psutil.Process(pid).cpu_times().user > 0.5]
    start = time.monotonic()
    cancelled = http.delete(f"/v1/jobs/{job['id']}")
    took = time.monotonic() - start
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert took < 1.0, f"cancel took {took:.2f} s"
    gone = [pid for pid in workers_before if not psutil.pid_exists(pid)]
    assert len(gone) == 1 and gone[0] in busy  # the worker that ran it was killed, the idle one kept
    assert cancelled.json()["error"]["detail"] == "cancelled while it ran"
    assert http.delete(f"/v1/jobs/{job['id']}").status_code == 409
    result = http.get(f"/v1/jobs/{job['id']}/result")
    assert result.status_code == 409 and result.json()["type"].endswith("#cancelled")
    wait_for(lambda: http.get("/readyz").json()["workers"] == 2, 60)  # a new worker replaces it


def test_a_queued_job_is_cancelled_at_once(http):
    long_jobs = [http.post("/v1/solve", json={"spec": LONG, "filename": f"long{i}.yaml", **Z3}).json()
                 for i in range(2)]
    queued = http.post("/v1/solve", json={"spec": quick_chain(24)}).json()
    try:
        assert http.get(f"/v1/jobs/{queued['id']}").json()["status"] == "queued"
        assert http.delete(f"/v1/jobs/{queued['id']}").json()["status"] == "cancelled"
        assert http.get("/v1/jobs?status=cancelled").json()["jobs"][0]["id"] == queued["id"]
    finally:
        for job in long_jobs:
            http.delete(f"/v1/jobs/{job['id']}")
    wait_for(lambda: http.get("/readyz").json()["workers"] == 2, 60)


def test_a_client_that_disconnects_mid_stream(service, http):
    job = http.post("/v1/solve", json={"spec": LONG, "filename": "disconnect.yaml", **Z3}).json()
    try:
        for _ in range(3):  # open a stream, read its first event, and hang up
            with httpx.Client(base_url=service.url) as client:
                with client.stream("GET", f"/v1/jobs/{job['id']}/events") as response:
                    next(response.iter_lines())
        wait_for(lambda: http.get("/readyz").json()["streams"] == 0, 10)
        assert http.get(f"/v1/jobs/{job['id']}").json()["status"] in ("queued", "running")  # the job goes on
        assert http.post("/v1/analyze", json={"spec": quick_chain(20).split("target:")[0] + "layers:\n"
                                                      "  - {op: conv, out: 8, kernel: 3}\n"}).status_code == 200
    finally:
        http.delete(f"/v1/jobs/{job['id']}")
    wait_for(lambda: http.get("/readyz").json()["workers"] == 2, 60)


def test_jobs_are_listed_newest_first_in_pages(http):
    ids = [http.post("/v1/solve?wait=60", json={"spec": quick_chain(30 + i)}).headers["rfdesign-job"]
           for i in range(3)]
    page = http.get("/v1/jobs?limit=2").json()
    assert [job["id"] for job in page["jobs"]] == ids[::-1][:2]
    following = http.get(page["next"]).json()
    assert following["jobs"][0]["id"] == ids[0]


@pytest.mark.slow
def test_sigkill_during_a_solve_and_restart(tmp_path):
    db = tmp_path / "jobs.sqlite3"
    with ServiceProcess(db, workers=1) as server:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            finished = client.post("/v1/solve?wait=60", json={"spec": QUICK, "filename": "head.yaml"})
            assert finished.status_code == 200
            done_id = finished.headers["rfdesign-job"]
            running = client.post("/v1/solve", json={"spec": LONG, "filename": "long.yaml", **Z3}).json()
            wait_for(lambda: client.get(f"/v1/jobs/{running['id']}").json()["status"] == "running", 30)
            queued = client.post("/v1/solve", json={"spec": quick_chain(40)}).json()
            assert client.get(f"/v1/jobs/{queued['id']}").json()["status"] == "queued"
            workers = server.workers()
            server.kill()
            wait_for(lambda: not any(psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"
                                     for pid in workers), 10)  # the workers die with the server
    with ServiceProcess(db, workers=1) as server:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            assert client.get(f"/v1/jobs/{done_id}/result").text == finished.text  # the finished result, intact
            crashed = client.get(f"/v1/jobs/{running['id']}").json()
            assert crashed["status"] == "failed" and crashed["error"]["detail"].startswith("server restarted")
            requeued = wait_for(lambda: (lambda j: j if j["status"] == "done" else None)(
                client.get(f"/v1/jobs/{queued['id']}").json()), 60)
            assert requeued["result_status"] == "optimal"  # the queued job ran after the restart
            again = client.post("/v1/solve", json={"spec": LONG, "filename": "long.yaml", **Z3}).json()
            assert again["id"] != running["id"] and not again["from_store"]  # a failed job is not reused
            client.delete(f"/v1/jobs/{again['id']}")


@pytest.mark.slow
def test_a_thousand_jobs_against_a_queue_of_a_hundred(tmp_path):
    with ServiceProcess(tmp_path / "jobs.sqlite3", "--queue", "100", workers=1) as server:
        limits = httpx.Limits(max_connections=16)
        with httpx.Client(base_url=server.url, timeout=60, limits=limits) as client:
            def submit(index: int) -> httpx.Response:
                body = {"spec": quick_chain(10 + index % 20), "filename": f"chain{index}.yaml"}
                return client.post("/v1/solve", json=body)

            with ThreadPoolExecutor(16) as pool:
                responses = list(pool.map(submit, range(1000)))
            codes = [r.status_code for r in responses]
            accepted = [r.json()["id"] for r in responses if r.status_code == 202]
            refused = [r for r in responses if r.status_code == 429]
            assert len(accepted) + len(refused) == 1000, set(codes)
            assert len(accepted) >= 100 and len(refused) >= 100  # the queue overflowed, and was full to its limit
            assert all(int(r.headers["retry-after"]) >= 1 for r in refused)
            assert refused[0].json()["type"].endswith("#queue-full")
            assert client.get("/readyz").json()["ready"]
            # nothing accepted is lost: every job runs to its result
            def all_done() -> bool:
                page = client.get("/v1/jobs?limit=200&status=done").json()["jobs"]
                counts = client.get("/readyz").json()
                return counts["queued"] == 0 and counts["running"] == 0 and page
            wait_for(all_done, 240, step=0.5)
            states = [client.get(f"/v1/jobs/{job_id}").json()["status"] for job_id in accepted]
            assert states == ["done"] * len(accepted)


HUNGRY = """\
# a long 1-D input under no_unseen_pixels: checking a proposal for unseen pixels takes some 200 MB
name: hungry
input: {size: [1000000], channels: 1}
target: {receptive_field: {min: 30, max: 40}, constraints: {no_unseen_pixels: true}}
layers:
  - {name: a, op: conv, out: 4, kernel: {choose: [3, 5]}, stride: {choose: [1, 2]}}
  - {name: b, op: conv, out: 4, kernel: {choose: [3, 5]}, stride: {choose: [1, 2]}}
  - {name: c, op: conv, out: 4, kernel: {choose: [3, 5, 7]}, dilation: {choose: [1, 2]}}
"""


def worker_baseline_mib() -> int:
    """The address space of a worker that has run a short z3 solve (its imports, z3's context), in MiB."""
    import subprocess
    import sys

    worker = subprocess.Popen([sys.executable, "-m", "rfdesign.service.worker"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert json.loads(worker.stdout.readline())["ready"]
        job = {"id": "warm", "spec": LONG, "file": "long.yaml", "options": {}, "timeout": 1, **Z3}
        worker.stdin.write(json.dumps(job) + "\n")
        worker.stdin.flush()
        while "progress" in json.loads(worker.stdout.readline()):
            pass
        return psutil.Process(worker.pid).memory_info().vms // 2**20
    finally:
        worker.kill()
        worker.wait()


@pytest.mark.slow
def test_each_job_has_a_time_and_a_memory_limit(tmp_path):
    limit = worker_baseline_mib() + 110  # room for a small solve, not for HUNGRY's
    with ServiceProcess(tmp_path / "jobs.sqlite3", "--job-memory", str(limit), "--max-timeout", "2",
                        workers=1) as server:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            start = time.monotonic()
            response = client.post("/v1/solve?wait=60", json={"spec": LONG, "timeout": 60, **Z3})
            assert time.monotonic() - start < 15
            assert response.status_code == 200 and response.json()["status"] in ("feasible", "unknown")
            assert client.get(f"/v1/jobs/{response.headers['rfdesign-job']}").json()["timeout"] == 2
            hungry = client.post("/v1/solve?wait=60", json={"spec": HUNGRY})
            assert hungry.status_code == 202
            job = hungry.json()
            assert job["status"] == "failed" and "out of memory" in job["error"]["detail"]
            assert client.get(f"/v1/jobs/{job['id']}/result").json()["type"].endswith("#job-failed")
            after = client.post("/v1/solve?wait=60", json={"spec": quick_chain(50)})  # a fresh worker took over
            assert after.status_code == 200 and after.json()["status"] == "optimal"
