"""Speed of the forward analysis: the figures the README quotes.

Prints, for generated DenseNet-like DAGs of 1k, 10k and 100k nodes, the time
to analyze them (one topological pass) and the growth per 10x nodes; the time
to load and validate a 10k-layer spec from YAML text; and, with the [torch]
extra, the analysis time of ResNet-152 against one forward + backward pass of
the same network in PyTorch (how gradient-based tools measure an RF), as a
ratio measured in the same run.

    python benchmarks/bench_analyze.py [--quick]
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

from rfdesign.errors import Location
from rfdesign.rf import analyze
from rfdesign.ops import op_for
from rfdesign.spec.graph import Graph, Node
from rfdesign.spec.load import parse_spec

ROOT = pathlib.Path(__file__).resolve().parent.parent


def densenet_graph(n_nodes: int, layers_per_block: int = 12, growth: int = 32) -> Graph:
    """A DenseNet-like DAG: dense blocks (each layer reads the concat of all earlier ones), transitions between."""
    nodes: dict[str, Node] = {}
    here = Location("<generated>")

    def add(node: Node) -> str:
        nodes[node.name] = node
        return node.name

    def conv_attrs(**values: object) -> object:
        return op_for("conv").make(2, **values)

    def pool_attrs(**values: object) -> object:
        return op_for("avgpool").make(2, **values)

    current = add(Node("stem", "conv", ("input",), here, attrs=conv_attrs(kernel=(7, 7), stride=(2, 2),
                       padding=((3, 3), (3, 3)), out=64)))
    block = 0
    while len(nodes) < n_nodes:
        block += 1
        features = [current]
        for i in range(layers_per_block):
            if len(features) > 1:
                joined = add(Node(f"b{block}/l{i}/cat", "concat", tuple(features), here))
            else:
                joined = features[0]
            conv = add(Node(f"b{block}/l{i}/conv", "conv", (joined,), here, attrs=conv_attrs(kernel=(3, 3),
                            padding=((1, 1), (1, 1)), out=growth)))
            features.append(conv)
        current = add(Node(f"b{block}/out", "concat", tuple(features), here))
        current = add(Node(f"t{block}/conv", "conv", (current,), here, attrs=conv_attrs(kernel=(1, 1), out=64)))
        if block % 3 == 0:  # downsample now and then, never below 1x1
            current = add(Node(f"t{block}/pool", "avgpool", (current,), here, attrs=pool_attrs(kernel=(1, 1))))
    return Graph("densenet_like", (224, 224), 3, nodes, (current,))


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
    from rfdesign.io.torch_build import build_module  # noqa: F401 - needs the [torch] extra
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the 100k-node DAG")
    args = parser.parse_args()
    bench_dag([1_000, 10_000] if args.quick else [1_000, 10_000, 100_000])
    bench_load(10_000)
    bench_torch_ratio()
    return 0


if __name__ == "__main__":
    sys.exit(main())
