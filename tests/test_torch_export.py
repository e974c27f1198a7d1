"""rfdesign.io.torch_export: the generated module runs, gives the engine's sizes, and reads back the same.

* every spec in specs/zoo/ (globbed at test time): exported, executed, built
  on the meta device and run at the spec's input size (every output's shape
  against the engine's ``output_size``, parameter totals against the
  engine's); run for real (CPU, float32) at a reduced input size, against
  ``analyze(graph, that size)`` (at the spec's size when a ``linear`` layer
  fixes it, if that pass is cheap);
* round trip: spec -> code -> ``import_torch`` of the generated class (from a
  temporary module) -> analyze gives the same output size, channels, receptive
  field, effective stride and effective padding at every node that exists in
  both (every node the spec's outputs depend on, except the lines of
  ``forward`` that are not submodules), and torch.fx traces every generated
  module;
* hand-written specs covering every op (TensorFlow ``same`` everywhere,
  asymmetric and oversized pooling padding, ceil_mode, transposed
  convolutions with output_padding and ``same``, dilated average pooling,
  crops, pads, pixel shuffles in 1-D/2-D/3-D, resampling, gates, blocks with
  several inputs and outputs, several graph outputs) and a proposal of the
  real solver: every submodule's output shape against the engine, at the
  spec's size and at another size (runtime ``same`` padding).
"""

from __future__ import annotations

import importlib
import re
import sys

import pytest

torch = pytest.importorskip("torch")

from conftest import ZOO  # noqa: E402
from rfdesign.errors import SpecError  # noqa: E402
from rfdesign.io.torch_export import export_pytorch, module_paths  # noqa: E402
from rfdesign.io.torch_import import import_torch  # noqa: E402
from rfdesign.rf import analyze  # noqa: E402
from rfdesign.spec import INPUT, load_spec, parse_spec  # noqa: E402

pytestmark = pytest.mark.torch

ZOO_SPECS = sorted(ZOO.glob("*.yaml"))
#: a real forward pass at the spec's own size is skipped above this many multiply-adds
MAX_REAL_FLOPS = 1_000_000_000
#: specs expanding to more nodes than this are marked slow (about a second each on a loaded machine)
SLOW_NODES = 400


def zoo_params() -> list[object]:
    params = []
    for path in ZOO_SPECS:
        marks = [pytest.mark.slow] if len(load_spec(str(path)).nodes) > SLOW_NODES else []
        params.append(pytest.param(path, id=path.stem, marks=marks))
    return params


ZOO_PARAMS = zoo_params()


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread: much faster on a loaded machine; restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def generated(tmp_path, monkeypatch):
    """Write generated code as an importable module; returns (module name, module)."""
    monkeypatch.syspath_prepend(str(tmp_path))
    made = []

    def write(code: str, name: str):  # noqa: ANN202
        module_name = "rfgen_" + re.sub(r"\W", "_", name)
        (tmp_path / f"{module_name}.py").write_text(code)
        importlib.invalidate_caches()
        made.append(module_name)
        return module_name, importlib.import_module(module_name)

    yield write
    for name in made:
        sys.modules.pop(name, None)


# --------------------------------------------------------------------------------------------------
# checks
# --------------------------------------------------------------------------------------------------


def expected(analysis, name: str) -> tuple[int, ...]:  # noqa: ANN001
    layer = analysis.layers[name]
    return (1, layer.channels) + tuple(layer.output_size)


def run_and_compare(net, graph, size, device: str = "cpu") -> int:  # noqa: ANN001
    """Forward at ``size``: every output, and every node that is a submodule's output, against the engine."""
    analysis = analyze(graph, tuple(size))
    paths = module_paths(graph)
    modules = dict(net.named_modules())
    seen: dict[str, tuple[int, ...]] = {}
    handles = [
        modules[path].register_forward_hook(lambda m, a, out, name=name: seen.__setitem__(name, tuple(out.shape)))
        for name, path in paths.items()
    ]
    x = (torch.randn if device == "cpu" else torch.empty)(1, graph.input_channels, *size, device=device)
    try:
        with torch.no_grad():
            result = net(x)
    finally:
        for handle in handles:
            handle.remove()
    outputs = result if isinstance(result, tuple) else (result,)
    assert len(outputs) == len(graph.outputs)
    for name, tensor in zip(graph.outputs, outputs):
        assert tuple(tensor.shape) == expected(analysis, name), f"output `{name}`"
    wrong = []
    for name, shape in seen.items():
        want = expected(analysis, name)
        node = graph.nodes[name]
        if node.op == "linear":  # nn.Linear's own output is flat; forward restores the size-1 axes
            want = want[:2]
        if shape != want:
            wrong.append(f"`{name}` ({paths[name]}): torch {shape}, engine {want}")
    assert not wrong, "\n".join(wrong)
    return len(seen)


def build(module, device: str = "cpu"):  # noqa: ANN001, ANN201
    with torch.device(device):
        return module.Net().eval()


def ancestors(graph, names) -> set[str]:  # noqa: ANN001
    seen: set[str] = set()
    stack = list(names)
    while stack:
        name = stack.pop()
        if name == INPUT or name in seen:
            continue
        seen.add(name)
        node = graph.nodes[name]
        stack.extend(node.dependencies())
    return seen


def round_trip(graph, write) -> int:  # noqa: ANN001
    """spec -> code -> import_torch -> analyze: the same figures at every node present in both."""
    module_name, _ = write(export_pytorch(graph, "Net"), graph.name)
    imported = import_torch(f"{module_name}:Net", graph.input_size)
    assert all("(torch.fx)" in node.note for node in imported.nodes.values()), "torch.fx must trace it"
    a, b = analyze(graph), analyze(imported)
    needed = ancestors(graph, graph.outputs)
    compared, wrong = 0, []
    for name, path in module_paths(graph).items():
        if path not in b.layers:
            assert name not in needed, f"`{name}` ({path}) feeds an output but was not imported"
            continue
        compared += 1
        mine, theirs = a.layers[name], b.layers[path]
        figures = [
            (layer.output_size, layer.channels)
            + tuple(tuple(layer.axis_values(k)) for k in ("receptive_field", "effective_stride", "effective_padding"))
            for layer in (mine, theirs)
        ]
        if figures[0] != figures[1]:
            wrong.append(f"`{name}` / `{path}`: spec {figures[0]}, imported {figures[1]}")
    assert not wrong, "\n".join(wrong[:10])
    return compared


def reduced_size(graph) -> tuple[int, ...] | None:  # noqa: ANN001
    """The smallest input, from a quarter of the spec's up, at which the engine finds every layer non-empty."""
    sizes = graph.input_size
    for m in range(max(min(sizes) // 4, 1), min(sizes) + 1):
        candidate = tuple(max(1, round(n * m / min(sizes))) for n in sizes)
        try:
            analyze(graph, candidate)
        except SpecError:
            continue
        return candidate
    return None


# --------------------------------------------------------------------------------------------------
# the zoo
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ZOO_PARAMS)
def test_zoo_on_meta_at_full_size(path, generated):
    graph = load_spec(str(path))
    _, module = generated(export_pytorch(graph, "Net"), path.stem)
    net = build(module, "meta")
    assert run_and_compare(net, graph, graph.input_size, "meta") > 0
    assert sum(p.numel() for p in net.parameters()) == analyze(graph).params


@pytest.mark.parametrize("path", ZOO_PARAMS)
def test_zoo_for_real_at_a_reduced_size(path, generated):
    graph = load_spec(str(path))
    if any(node.op == "linear" for node in graph.nodes.values()):  # a dense layer fixes the input size
        flops = analyze(graph).flops
        if flops > MAX_REAL_FLOPS:
            pytest.skip(
                f"a linear layer fixes the input size, where a CPU pass is {flops / 1e9:.1f} G multiply-adds;"
                " the meta-device test runs it at that size"
            )
        size = graph.input_size
    else:
        size = reduced_size(graph)
    assert size is not None
    _, module = generated(export_pytorch(graph, "Net"), path.stem + "_real")
    run_and_compare(build(module), graph, size)


@pytest.mark.parametrize("path", ZOO_PARAMS)
def test_zoo_round_trip(path, generated):
    graph = load_spec(str(path))
    assert round_trip(graph, generated) >= len(graph.nodes) // 2


# --------------------------------------------------------------------------------------------------
# hand-written specs covering every op
# --------------------------------------------------------------------------------------------------

WINDOWS = """name: windows
input: {size: [37, 41], channels: 3}
layers:
  - {name: stem, op: conv, out: 8, kernel: 3, stride: 2, padding: same}
  - {name: stem/act, op: relu6}
  - {name: dw, op: conv, kernel: 3, padding: [[0, 1], [2, 0]], dilation: 2, groups: depthwise, bias: false}
  - {name: bn, op: batchnorm, affine: false}
  - {name: keep, op: conv, out: 12, kernel: [3, 5], padding: same, groups: 4}
  - {name: gelu, op: gelu}
  - {name: up1, op: conv_transpose, out: 8, kernel: 3, stride: 2, padding: 1, output_padding: 1}
  - {name: up2, op: conv_transpose, out: 8, kernel: 4, stride: 2, padding: same}
  - {name: up3, op: conv_transpose, out: 8, kernel: 2, stride: 3, padding: same}
  - {name: up4, op: deconv, out: 8, kernel: 3, stride: [1, 2], padding: [[1, 0], [0, 2]], dilation: [2, 1]}
  - {name: pool1, op: maxpool, kernel: 3, stride: 2, padding: same}
  - {name: pool2, op: maxpool, kernel: 3, stride: 2, padding: 1, ceil_mode: true}
  - {name: pool3, op: maxpool, kernel: 2, stride: 1, padding: [[2, 1], [0, 3]], dilation: 2, ceil_mode: true}
  - {name: silu, op: silu}
  - {name: pool4, op: avgpool, kernel: 3, stride: 2, padding: same}
  - {name: pool5, op: avgpool, kernel: 3, stride: 1, dilation: 2, padding: 1}
  - {name: pool6, op: avgpool, kernel: [2, 3], stride: 2, padding: [0, 1], ceil_mode: true}
  - {name: tail, op: conv, out: 6, kernel: 1}
  - {name: swish, op: swish}
  - {name: sig, op: sigmoid}
  - {name: tanh, op: tanh}
  - {name: leaky, op: leaky_relu}
  - {name: hsw, op: hardswish}
  - {name: mish, op: mish}
  - {name: elu, op: elu}
  - {name: drop, op: dropout}
  - {name: prelu, op: prelu}
  - {name: soft, op: softmax}
  - {name: pooled, op: global_pool, mode: max}
  - {name: fc, op: linear, out: 5}
  - {name: fc/bn, op: batchnorm}
  - {name: logits, op: fc, out: 3, bias: false}
output: [tail, logits]
"""

MERGES = """name: merges
input: {size: [40, 48], channels: 4}
blocks:
  unit:                      # a residual unit with a squeeze-and-excitation gate
    params: {out: null}
    layers:
      - {name: conv1, op: conv, out: $out, kernel: 3, padding: 1, bias: false}
      - {name: bn1, op: batchnorm}
      - {name: relu, op: relu}
      - {name: squeeze, op: global_avgpool}
      - {name: fc1, op: conv, out: 4, kernel: 1}
      - {name: fc2, op: conv, out: $out, kernel: 1}
      - {name: gate, op: hardsigmoid}
      - {name: scaled, op: mul, from: [relu, gate]}
      - {name: sum, op: add, from: [input, scaled]}
  up:                        # U-Net style: two inputs, crop the skip to the upsampled size
    inputs: [x, skip]
    params: {out: null}
    layers:
      - {name: up, op: upsample, from: x, factor: 2}
      - {name: crop, op: crop, from: up, like: skip}
      - {name: cat, op: concat, from: [skip, crop]}
      - {name: conv, op: conv, out: $out, kernel: 3}
layers:
  - {name: stem, op: conv, out: 16, kernel: 3, padding: 1}
  - {name: stage/unit, block: unit, out: 16, repeat: 2}
  - {name: half, op: select, start: 0, stop: 8}
  - {name: rest, op: select, from: stage/unit, start: 8}
  - {name: joined, op: concat, from: [rest, half]}
  - {name: down, op: maxpool, kernel: 2}
  - {name: padded, op: pad, padding: [[1, 2], [0, 1]]}
  - {name: trimmed, op: crop, crop: [[0, 1], [1, 0]]}
  - {name: s2d, op: space_to_depth, factor: 2}
  - {name: mid, op: conv, out: 64, kernel: 1}
  - {name: d2s, op: depth_to_space, factor: 2}
  - {name: decode, block: up, from: [d2s, stage/unit], out: 8}
  - {name: resized, op: upsample, size: [30, 33], mode: bilinear, align_corners: true}
  - {name: lin, op: resize, from: decode, factor: [1, 2], mode: bilinear}
  - {name: head, op: conv, from: decode, out: 2, kernel: 1}
output: [head, resized, lin]
"""

ONEDIM = """name: onedim
input: {size: 90, channels: 2}
layers:
  - {name: c1, op: conv1d, out: 8, kernel: 5, padding: [[4, 0]], dilation: 1}
  - {name: c2, op: conv, out: 8, kernel: 3, dilation: 4, padding: same}
  - {name: s2d, op: space_to_depth, factor: 3}
  - {name: c3, op: conv, out: 12, kernel: 3, stride: 2, padding: same}
  - {name: d2s, op: depth_to_space, factor: 2}
  - {name: up, op: upsample, factor: 3, mode: linear}
  - {name: crop, op: crop, from: c1, like: up}
  - {name: cat, op: concat, from: [crop, up]}
  - {name: pool, op: avgpool, kernel: 4, stride: 3, ceil_mode: true}
  - {name: out, op: conv, out: 3, kernel: 1}
"""

THREEDIM = """name: threedim
input: {size: [8, 20, 22], channels: 3}
layers:
  - {name: c1, op: conv3d, out: 8, kernel: [3, 5, 5], stride: [1, 2, 2], padding: [1, 2, 2]}
  - {name: bn, op: batchnorm}
  - {name: pool, op: maxpool, kernel: 3, stride: 2, padding: 1, ceil_mode: true}
  - {name: c2, op: conv, out: 16, kernel: 3, padding: same, stride: [1, 2, 2]}
  - {name: d2s, op: depth_to_space, factor: [1, 2, 2]}
  - {name: up, op: upsample, size: [6, 9, 9], mode: trilinear}
  - {name: t, op: conv_transpose, out: 4, kernel: [1, 3, 3], stride: [1, 2, 2], padding: same}
  - {name: gp, op: global_avgpool}
  - {name: fc, op: linear, out: 7}
output: [t, fc]
"""

HAND = {"windows": WINDOWS, "merges": MERGES, "onedim": ONEDIM, "threedim": THREEDIM}
#: another input size for each (None: a linear layer fixes the size)
OTHER_SIZE = {"windows": None, "merges": (36, 52), "onedim": (120,), "threedim": None}


def solver_proposal():  # noqa: ANN201
    """A proposal of the real solver: a chain of `centred` convolutions with norms, strides and dilations."""
    from rfdesign.io.yaml_export import dump
    from rfdesign.solve.fill import without_dropped
    from rfdesign.solve.problem import build_problem
    from rfdesign.solve.propose import ProposeRequest, template
    from rfdesign.solve.search import solve

    request = ProposeRequest(
        input_size=(61, 64), input_channels=3, receptive_field=(40, 48), output_size=(8, 8), depth=(3, 6),
        kernels=(1, 3, 5), strides=(1, 2), dilations=(1, 2), channels=(8, 32),
    )  # fmt: skip
    problem = build_problem(parse_spec(dump(template(request)), "template.yaml"))
    result = solve(problem, timeout=30)
    assert result.proposals, result.reasons
    graph = without_dropped(problem, result.proposals[0].assignment)
    assert all(node.attrs.padding == "centred" for node in graph.nodes.values() if node.op == "conv")
    assert any(s > 1 for node in graph.nodes.values() for s in node.attrs.stride)
    return graph


def hand_graph(name: str):  # noqa: ANN201
    if name == "solver":
        return solver_proposal()
    return parse_spec(HAND[name], f"{name}.yaml")


@pytest.mark.parametrize("name", [*HAND, "solver"])
def test_hand_written(name, generated):
    graph = hand_graph(name)
    code = export_pytorch(graph, "Net")
    imports = [line for line in code.splitlines() if line.startswith(("import ", "from "))]
    assert imports == ["import torch", "import torch.nn.functional as F", "from torch import nn"]
    _, module = generated(code, name)
    net = build(module)
    assert run_and_compare(net, graph, graph.input_size) >= len(graph.nodes) // 2
    assert sum(p.numel() for p in net.parameters()) == analyze(graph).params
    other = (61, 50) if name == "solver" else OTHER_SIZE[name]
    if other is not None:  # runtime `same` padding, crops to another tensor's size ...
        run_and_compare(net, graph, other)
    assert round_trip(graph, generated) >= len(graph.nodes) // 2


def test_generated_code_reads_like_the_spec():
    code = export_pytorch(hand_graph("windows"), "Net")
    for line in (
        "def same_pad(x, kernel, stride, dilation, value=0.0):",
        "self.stem = nn.Conv2d(3, 8, kernel_size=3, stride=2)",
        "stem = self.stem(same_pad(x, (3, 3), (2, 2), (1, 1)))  # 8x19x21",
        "self.stem_act = nn.ReLU6()  # stem/act",
        "self.dw = nn.Conv2d(8, 8, kernel_size=3, dilation=2, groups=8, bias=False)",
        "dw = self.dw(F.pad(stem_act, (2, 0, 0, 1)))",
        "self.bn = nn.BatchNorm2d(8, affine=False)",
        "self.keep = nn.Conv2d(8, 12, kernel_size=(3, 5), padding='same', groups=4)",
        "self.up1 = nn.ConvTranspose2d(12, 8, kernel_size=3, stride=2, padding=1, output_padding=1)",
        "up2 = same_transpose(self.up2(up1), up1, (4, 4), (2, 2), (1, 1))",
        "self.pool2 = nn.MaxPool2d(kernel_size=3, stride=2, padding=1, ceil_mode=True)",
        "pool1 = self.pool1(same_pad(up4, (3, 3), (2, 2), (1, 1), value=float('-inf')))",
        "pool4 = same_avg_pool(silu, (3, 3), (2, 2), (1, 1))",
        "self.fc = nn.Linear(6, 5)",
        "fc = self.fc(pooled.flatten(1)).unflatten(1, (5, 1, 1))",
        "self.logits = nn.Linear(5, 3, bias=False)",
        "self.soft = nn.Softmax(dim=1)",
        "self.prelu = nn.Identity()",
        "return tail, logits",
    ):
        assert line in code, line
    merges = export_pytorch(hand_graph("merges"))
    for line in (
        "class Unit(nn.Module):",
        "self.unit_1 = Unit()  # stage/unit_1",
        "scaled = relu * gate  # 16x40x48",
        "out = x + scaled  # 16x40x48",  # a block's output takes the use's name: `out` inside the block
        "class Merges(nn.Module):",
        "stage_unit_2 = self.stage(stem)",
        "half_ = stage_unit_2[:, 0:8]  # 8x40x48, half",  # `half` is an nn.Module method
        "self.s2d = nn.PixelUnshuffle(2)",
        "trimmed = crop(padded, ((0, 1), (1, 0)))",
        "crop_ = centre_crop(up, x1)  # 16x40x48, crop",
        "decode = self.decode(stage_unit_2, d2s)",
        "self.resized = nn.Upsample(size=(30, 33), mode='bilinear', align_corners=True)",
        "return head, resized, lin",
    ):
        assert line in merges, line


def test_blocks_become_parameterised_classes():
    code = export_pytorch(load_spec(str(ZOO / "torchvision_densenet121.yaml")))
    assert "class Denselayer(nn.Module):\n    def __init__(self, in_channels):" in code
    assert "self.denselayer_16 = Denselayer(in_channels=992)  # features/denseblock4/denselayer_16" in code
    assert code.count("\nclass ") <= 10


def test_runs_as_a_script(tmp_path, capsys):
    import runpy

    path = tmp_path / "net.py"
    path.write_text(export_pytorch(hand_graph("onedim")))
    runpy.run_path(str(path), run_name="__main__")
    assert capsys.readouterr().out.strip() == "(1, 3, 30)"


def test_free_choices_and_bad_names_are_refused():
    template = parse_spec(
        "name: t\ninput: {size: 32}\nlayers:\n  - {name: c, op: conv, kernel: {choose: [1, 3]}}\n", "t.yaml"
    )
    with pytest.raises(SpecError, match="`kernel` is still a free choice"):
        export_pytorch(template)
    with pytest.raises(SpecError, match="is not a Python class name"):
        export_pytorch(hand_graph("onedim"), "not valid")


def test_awkward_names_stay_valid_python():
    text = (
        'name: "we\\"ird\\"\\"\\" \\\\ net"\ninput: {size: 8}\nlayers:\n'
        '  - {name: "a\\"\\"\\"b", op: conv, kernel: 3}\n  - {name: in, op: relu}\n  - {name: "0", op: gelu}\n'
        "  - {name: forward, op: relu}\n  - {name: x, op: tanh}\n"
    )
    graph = parse_spec(text, 'x"""y.yaml')
    code = export_pytorch(graph)
    namespace: dict[str, object] = {}
    exec(compile(code, "generated.py", "exec"), namespace)  # noqa: S102 - our own generated code
    assert "self.in_ = nn.ReLU()  # in" in code and "self.n_0 = nn.GELU()  # 0" in code
    assert "self.forward_ = nn.ReLU()  # forward" in code and "x_ = self.x_(forward_)" in code
    net = namespace["WeIrdNet"]()
    assert tuple(net(torch.randn(1, 3, 8)).shape) == (1, 3, 6)
