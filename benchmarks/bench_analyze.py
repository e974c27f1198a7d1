"""Speed of the forward analysis and of the whole CLI path: the figures the README quotes.

Prints, for generated DenseNet-like DAGs of 1k, 10k and 100k nodes, the time
to analyze them (one topological pass, the engine) and the growth per 10x
nodes; then the same specs end to end through the CLI, one fresh process per
run (`rfdesign analyze` as table, markdown and JSON, and `rfdesign check`):
wall time, peak RSS of that process, the output's size, and the ratio
end-to-end / engine (the figure to drive toward 1); the time to load and
validate a 10k-layer chain; and, with the [torch] extra, the analysis time of
ResNet-152 against one forward + backward pass of the same network in
PyTorch (how gradient-based tools measure an RF), as a ratio measured in the
same run.

``--profile`` prints instead where the time of the largest spec goes: each
stage of the CLI path timed in one process (read, YAML, expansion, analysis,
report, rendering, review), then the top of a cProfile of ``rfdesign analyze
-f json`` and of ``rfdesign check``.

    python benchmarks/bench_analyze.py [--quick] [--profile]
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import pathlib
import pstats
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from rfdesign.rf import analyze
from rfdesign.spec.graph import Graph
from rfdesign.spec.load import parse_spec

ROOT = pathlib.Path(__file__).resolve().parent.parent


def densenet_spec_text(n_nodes: int, layers_per_block: int = 12, growth: int = 32) -> str:
    """A DenseNet-like DAG as spec text: dense blocks (each layer reads the concat of all earlier ones), transitions.

    Written the way a generator would write it, one flow mapping per layer, so that the same text exercises the
    YAML loader, validation, expansion, the analysis and every renderer.
    """
    lines = [
        "name: densenet_like",
        "input: {size: [224, 224], channels: 3}",
        "layers:",
        "  - {name: stem, op: conv, out: 64, kernel: 7, stride: 2, padding: 3}",
    ]
    count, current, block = 1, "stem", 0
    while count < n_nodes:
        block += 1
        features = [current]
        for i in range(layers_per_block):
            joined = features[0]
            if len(features) > 1:
                joined = f"b{block}/l{i}/cat"
                lines.append(f"  - {{name: {joined}, op: concat, from: [{', '.join(features)}]}}")
                count += 1
            conv = f"b{block}/l{i}/conv"
            lines.append(f"  - {{name: {conv}, op: conv, from: {joined}, out: {growth}, kernel: 3, padding: 1}}")
            count += 1
            features.append(conv)
        lines.append(f"  - {{name: b{block}/out, op: concat, from: [{', '.join(features)}]}}")
        lines.append(f"  - {{name: t{block}/conv, op: conv, out: 64, kernel: 1}}")
        count += 2
        current = f"t{block}/conv"
        if block % 3 == 0:  # a 1x1 pooling now and then (the graph keeps its size: no axis ever shrinks below 1)
            lines.append(f"  - {{name: t{block}/pool, op: avgpool, kernel: 1}}")
            count += 1
            current = f"t{block}/pool"
    return "\n".join(lines) + "\n"


def densenet_graph(n_nodes: int) -> Graph:
    """The DenseNet-like DAG of :func:`densenet_spec_text`, loaded through the spec language."""
    return parse_spec(densenet_spec_text(n_nodes), "<generated>")


def chain_spec_text(n_layers: int) -> str:
    lines = ["name: long_chain", "input: {size: [224, 224], channels: 16}", "layers:"]
    for i in range(n_layers):
        lines.append(f"  - {{name: conv{i}, op: conv, out: 16, kernel: 3, padding: 1}}")
    return "\n".join(lines) + "\n"


def best_of(repeats: int, function) -> float:  # noqa: ANN001
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_dag(sizes: list[int]) -> None:
    print("DenseNet-like DAG analysis (one topological pass)")
    previous = None
    for size in sizes:
        graph = densenet_graph(size)
        edges = sum(len(node.inputs) for node in graph.nodes.values())
        seconds = best_of(3, lambda: analyze(graph))
        growth = f"  x{seconds / previous:.1f} for 10x nodes" if previous else ""
        print(f"  {len(graph.nodes):>7} nodes {edges:>8} edges  {seconds:8.3f} s{growth}")
        previous = seconds


def bench_load(n_layers: int) -> None:
    text = chain_spec_text(n_layers)
    seconds = best_of(3, lambda: parse_spec(text, "<generated>"))
    print(f"Load + validate + expand a {n_layers}-layer spec: {seconds:.3f} s ({len(text) / 1e6:.1f} MB of YAML)")


def bench_torch_ratio() -> None:
    try:
        import torch
    except ImportError:
        print("ResNet-152 vs PyTorch gradients: skipped (pip install 'rfdesign[torch]')")
        return
    from rfdesign.verify.probe import build_module  # noqa: F401 - needs the [torch] extra
    from rfdesign.spec import load_spec

    spec = ROOT / "specs" / "zoo" / "resnet_v1_152.yaml"
    graph = load_spec(str(spec))
    analysis_seconds = best_of(5, lambda: analyze(graph))
    module = build_module(graph)  # the real network (float32, every channel), as gradient-based tools run it
    torch.set_num_threads(1)
    x = torch.ones((1, graph.input_channels, *graph.input_size), requires_grad=True)

    def gradient_pass() -> None:
        out = module(x, outputs=[graph.output])[graph.output]
        centre = tuple(n // 2 for n in out.shape[2:])
        out[(0, slice(None)) + centre].sum().backward()
        x.grad = None

    torch_seconds = best_of(3, gradient_pass)
    print(
        f"ResNet-152 at 224: analysis {analysis_seconds * 1000:.1f} ms, one forward+backward in PyTorch "
        f"{torch_seconds * 1000:.0f} ms (float32, 1 CPU thread): analysis is {torch_seconds / analysis_seconds:.0f}x faster"
    )


COMMANDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("analyze (table)", ("analyze",)),
    ("analyze -f markdown", ("analyze", "-f", "markdown")),
    ("analyze -f json", ("analyze", "-f", "json")),
    ("check", ("check",)),
)


# Runs the CLI and, at exit, writes the process's peak RSS (VmHWM: this process's own memory, unlike
# ru_maxrss, which on Linux also counts the parent's pages copied by fork before the exec) to argv[1].
_RUNNER = """
import atexit, sys
def _peak(path=sys.argv[1]):
    with open('/proc/self/status') as status, open(path, 'w') as out:
        out.write(next(line.split()[1] for line in status if line.startswith('VmHWM:')))
atexit.register(_peak)
sys.argv = ['rfdesign'] + sys.argv[2:]
from rfdesign.cli import main
main()
"""


def run_cli(arguments: tuple[str, ...], stdout_path: pathlib.Path) -> tuple[float, int, int]:
    """One fresh ``rfdesign`` process: (wall seconds, peak RSS in bytes, exit code); stdout goes to a file."""
    peak_path = stdout_path.with_suffix(".peak")
    with open(stdout_path, "wb") as out:
        start = time.perf_counter()
        process = subprocess.run(
            [sys.executable, "-c", _RUNNER, str(peak_path), *arguments], stdout=out, stderr=subprocess.PIPE
        )
        seconds = time.perf_counter() - start
    if process.returncode not in (0, 1):  # check exits 1 on error-level findings
        raise RuntimeError(f"rfdesign {' '.join(arguments)} failed ({process.returncode}): {process.stderr[-2000:]}")
    return seconds, int(peak_path.read_text()) * 1024, process.returncode  # VmHWM is in kB


def _megabytes(count: float) -> str:
    return f"{count / 1e6:.1f} MB"


def bench_end_to_end(sizes: list[int]) -> None:
    print("End to end through the CLI (a fresh process per run, best of 3, 2 at 100k; peak RSS of that process)")
    header = (
        f"  {'nodes':>7}  {'engine':>8}  {'command':<20} {'wall':>8}  {'/engine':>7}  {'growth':>6}"
        f"  {'peak RSS':>9}  {'output':>8}  {'RSS/output':>10}"
    )
    print(header)
    previous: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as scratch:
        folder = pathlib.Path(scratch)
        for size in sizes:
            text = densenet_spec_text(size)
            spec = folder / f"densenet_{size}.yaml"
            spec.write_text(text)
            graph = parse_spec(text, str(spec))
            engine = best_of(3, lambda: analyze(graph))
            del graph
            repeats = 2 if size >= 100_000 else 3
            for label, command in COMMANDS:
                out = folder / "out.txt"
                runs = [run_cli((*command, str(spec)), out) for _ in range(repeats)]
                seconds = min(run[0] for run in runs)
                rss = min(run[1] for run in runs)
                written = out.stat().st_size
                growth = f"x{seconds / previous[label]:.1f}" if label in previous else ""
                ratio = f"{rss / written:.1f}x" if label != "check" else "-"  # a review's output is a few lines
                previous[label] = seconds
                print(
                    f"  {size:>7}  {engine:7.3f}s  {label:<20} {seconds:7.2f}s  {seconds / engine:6.1f}x  {growth:>6}"
                    f"  {_megabytes(rss):>9}  {_megabytes(written):>8}  {ratio:>10}",
                    flush=True,
                )


def _stage(label: str, function: Callable[[], Any]) -> Any:
    start = time.perf_counter()
    result = function()
    print(f"  {label:<28} {time.perf_counter() - start:7.3f} s", flush=True)
    return result


def profile(size: int, top: int = 25) -> None:
    """Where the time of the CLI path goes on a ``size``-node spec: stages, then cProfile of two commands."""
    from rfdesign.cli import main as cli_main
    from rfdesign.commands import render
    from rfdesign.review.runner import review, spec_config
    from rfdesign.rf.report import analysis_data
    from rfdesign.spec.expand import build_graph
    from rfdesign.spec.yamlload import load_yaml, read_text

    with tempfile.TemporaryDirectory() as scratch:
        spec = pathlib.Path(scratch) / f"densenet_{size}.yaml"
        spec.write_text(densenet_spec_text(size))
        path = str(spec)
        print(f"Stages of the CLI path, {size}-node DenseNet-like spec ({spec.stat().st_size / 1e6:.1f} MB of YAML)")
        text = _stage("read", lambda: read_text(path))
        data, positions = _stage("YAML with positions", lambda: load_yaml(text, path))
        graph = _stage("validate + expand", lambda: build_graph(data, positions, path))
        analysis = _stage("analysis (the engine)", lambda: analyze(graph))
        report = _stage("report data", lambda: analysis_data(analysis))
        _stage("JSON text", lambda: render.json_text(report))
        layers = list(analysis.layers.values())
        _stage("table text", lambda: render.table(analysis, layers, analysis.output))
        _stage("markdown text", lambda: render.markdown(analysis, layers, analysis.output))
        _stage("check: every rule", lambda: review(graph, spec_config(graph), analysis))
        del data, positions, graph, analysis, report, layers
        for arguments in (("analyze", "-f", "json", path), ("check", path)):
            print(f"\ncProfile of `rfdesign {' '.join(arguments[:-1])} SPEC`, top {top} by own time")
            profiler = cProfile.Profile()
            sink = io.StringIO()
            with contextlib.redirect_stdout(sink):
                profiler.enable()
                try:
                    cli_main(list(arguments), standalone_mode=False)
                except SystemExit:
                    pass
                profiler.disable()
            del sink
            stats = io.StringIO()
            pstats.Stats(profiler, stream=stats).sort_stats("tottime").print_stats(top)
            print("\n".join(line for line in stats.getvalue().splitlines() if line.strip()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the 100k-node DAG")
    parser.add_argument("--profile", action="store_true", help="profile the CLI path on the largest spec instead")
    args = parser.parse_args()
    sizes = [1_000, 10_000] if args.quick else [1_000, 10_000, 100_000]
    if args.profile:
        profile(sizes[-1])
        return 0
    bench_dag(sizes)
    bench_end_to_end(sizes)
    bench_load(10_000)
    bench_torch_ratio()
    return 0


if __name__ == "__main__":
    sys.exit(main())
