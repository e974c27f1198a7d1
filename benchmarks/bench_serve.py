"""Speed of `rfdesign serve`: `POST /v1/analyze` throughput and latency, and analyze while solves run.

A real server (``rfdesign serve --workers 2`` on 127.0.0.1, a fresh job store)
answers ``POST /v1/analyze`` for the zoo's resnet_v1_50 (the YAML text, JSON
out: what ``rfdesign analyze specs/zoo/resnet_v1_50.yaml -f json`` prints),
sent by an httpx async client on the same machine at concurrency 1, 8 and 64.
For each: requests per second, p50 and p99 latency, and errors (any answer
that is not 200 with the expected body). Beside it, the same work in-process
(parse the text, analyse, render the JSON: the function the CLI and the
service call), one call after another: the service's overhead is the ratio
of the in-process rate to the service's rate at concurrency 1.

Then ``--workers`` long solves (tests/fixtures/service/long_solve.yaml with
``method: z3``, which z3 needs minutes for) are started, and analyze's latency at concurrency 1 is
measured again while they run: its p99 against the idle p99.

Client and server share the machine's cores, so the figures include the
client's own cost. Each figure is the best of --repeat runs (the machine is
shared); the load average is printed before and after.

    python benchmarks/bench_serve.py [--quick] [--repeat N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pathlib
import re
import statistics
import subprocess
import sys
import tempfile
import time

import httpx

ROOT = pathlib.Path(__file__).resolve().parent.parent
SPEC_NAME = "specs/zoo/resnet_v1_50.yaml"
LONG_SOLVE = ROOT / "tests" / "fixtures" / "service" / "long_solve.yaml"
WORKERS = 2


def start_server(db: str) -> tuple[subprocess.Popen, str]:
    command = [sys.executable, "-m", "rfdesign", "serve", "--port", "0", "--db", db, "--workers", str(WORKERS),
               "--log-level", "warning"]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, start_new_session=True)
    assert process.stderr is not None
    line = process.stderr.readline()
    match = re.search(r"listening on (http://\S+?)/? ", line)
    if not match:
        process.kill()
        raise SystemExit(f"the server did not start: {line}")
    url = match.group(1)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/readyz").json()["workers"] >= WORKERS:
                return process, url
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.kill()
    raise SystemExit("the server's workers did not start")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


async def load(url: str, body: dict, expected: str, requests: int, concurrency: int) -> dict:
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120) as client:
        queue: asyncio.Queue[int] = asyncio.Queue()
        for index in range(requests):
            queue.put_nowait(index)

        async def worker() -> None:
            nonlocal errors
            while True:
                try:
                    queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                start = time.perf_counter()
                try:
                    response = await client.post("/v1/analyze", json=body)
                    ok = response.status_code == 200 and response.text == expected
                except httpx.HTTPError:
                    ok = False
                latencies.append(time.perf_counter() - start)
                errors += not ok

        await client.post("/v1/analyze", json=body)  # warm: connections, the server's first analysis
        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - start
    return {"rate": requests / wall, "p50": percentile(latencies, 0.5), "p99": percentile(latencies, 0.99),
            "errors": errors, "requests": requests}


def in_process(text: str, calls: int) -> dict:
    from rfdesign.commands.analyze import analysis_output
    from rfdesign.spec.load import parse_spec

    analysis_output(parse_spec(text, SPEC_NAME), "json")
    latencies = []
    start = time.perf_counter()
    for _ in range(calls):
        begin = time.perf_counter()
        analysis_output(parse_spec(text, SPEC_NAME), "json")
        latencies.append(time.perf_counter() - begin)
    wall = time.perf_counter() - start
    return {"rate": calls / wall, "p50": percentile(latencies, 0.5), "p99": percentile(latencies, 0.99),
            "errors": 0, "requests": calls}


def best(runs: list[dict]) -> dict:
    return max(runs, key=lambda run: run["rate"])


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests (a smoke run)")
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs per figure")
    args = parser.parse_args()
    scale = 0.25 if args.quick else 1.0
    text = (ROOT / SPEC_NAME).read_text()
    body = {"spec": text, "filename": SPEC_NAME, "format": "json"}
    from rfdesign.commands.analyze import analysis_output
    from rfdesign.spec.load import parse_spec

    expected = analysis_output(parse_spec(text, SPEC_NAME), "json")
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    rows = []
    local = best([in_process(text, int(100 * scale)) for _ in range(args.repeat)])
    with tempfile.TemporaryDirectory() as folder:
        process, url = start_server(os.path.join(folder, "jobs.sqlite3"))
        try:
            idle = {}
            for concurrency, requests in ((1, 100), (8, 200), (64, 320)):
                count = max(concurrency, int(requests * scale))
                idle[concurrency] = best([asyncio.run(load(url, body, expected, count, concurrency))
                                          for _ in range(args.repeat)])
            solves = [httpx.post(url + "/v1/solve", json={"spec": LONG_SOLVE.read_text(), "filename": f"long{i}",
                                                          "timeout": 600, "method": "z3"}).json()["id"]
                      for i in range(WORKERS)]
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and httpx.get(url + "/readyz").json()["running"] < WORKERS:
                time.sleep(0.1)
            time.sleep(1.0)  # the solvers are in z3 by now
            busy = best([asyncio.run(load(url, body, expected, max(1, int(100 * scale)), 1))
                         for _ in range(args.repeat)])
            running = httpx.get(url + "/readyz").json()["running"]
            for job in solves:
                httpx.delete(f"{url}/v1/jobs/{job}")
        finally:
            process.terminate()
            process.wait(timeout=30)
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print()
    print(f"POST /v1/analyze, {SPEC_NAME} (YAML in, JSON out, {len(expected):,} bytes), server with {WORKERS} "
          "workers, best of", args.repeat)
    print()
    print("| client | concurrency | requests/s | p50 ms | p99 ms | errors |")
    print("|---|---|---|---|---|---|")
    print(f"| in-process (parse, analyse, render) | 1 | {local['rate']:.1f} | {ms(local['p50'])} | {ms(local['p99'])} "
          f"| - |")
    for concurrency, run in idle.items():
        print(f"| HTTP | {concurrency} | {run['rate']:.1f} | {ms(run['p50'])} | {ms(run['p99'])} | "
              f"{run['errors']} of {run['requests']} |")
    print(f"| HTTP, {running} long solves running | 1 | {busy['rate']:.1f} | {ms(busy['p50'])} | {ms(busy['p99'])} "
          f"| {busy['errors']} of {busy['requests']} |")
    print()
    overhead = local["rate"] / idle[1]["rate"]
    print(f"service overhead at concurrency 1: {overhead:.2f}x the in-process time per request")
    print(f"p99 while {running} solves run: {ms(busy['p99'])} ms vs {ms(idle[1]['p99'])} ms idle "
          f"({busy['p99'] / idle[1]['p99']:.2f}x)")
    failures = sum(run["errors"] for run in idle.values()) + busy["errors"]
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
