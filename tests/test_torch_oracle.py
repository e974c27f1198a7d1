"""The engine (rfdesign.rf) against receptive fields measured by gradients (rfdesign.verify).

rfdesign.verify builds the spec as a torch probe (positive constant weights,
float64) and reads each layer's field off the gradient of single output units;
it shares no code with the engine. Here every measured figure must equal the
engine's at the input size the measurement used:

(a) hand-written small specs covering every op, every layer, both probes
    (one channel with strided-slice windows, and full channels with torch's
    own convolutions and pixel shuffles);
(b) every spec in specs/zoo/ (globbed when the tests run): the output and a
    sample of intermediate layers, at an enlarged input when the field is
    larger than the input;
(c) random 2-D chains and DAGs (hypothesis), every layer.

A second oracle, for output sizes: the faithful module (real torch layers)
gives every node the engine's output size and channel count.
"""

from __future__ import annotations

import subprocess
import sys
from fractions import Fraction

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ZOO
from rfdesign.errors import MissingExtraError
from rfdesign.verify import probe
from rfdesign.verify.probe import build_module, infer_shapes
from rfdesign.rf import analyze
from rfdesign.rf.coords import unit_box
from rfdesign.spec import load_spec, parse_spec
from rfdesign.verify import AxisMeasurement, measure

pytestmark = pytest.mark.torch

# ---------------------------------------------------------------------------
# comparison
# ---------------------------------------------------------------------------


def _strides_differ(layer, axis: int) -> bool:  # noqa: ANN001
    """Paths of different strides reach this layer along ``axis`` (the engine keeps one group per stride).

    Its units' regions are then not periodic: the engine's receptive field and stride
    summarise all units (the largest), so only unit boxes are compared.
    """
    return len(layer.regions[axis]) > 1


def compare(graph, results: dict[str, list[AxisMeasurement]]) -> tuple[int, list[str]]:  # noqa: ANN001
    """Check every measurement against the engine at the same input size; (count, problems)."""
    analyses: dict[tuple[int, ...], object] = {}
    problems: list[str] = []
    count = 0
    for name, axes in results.items():
        for m in axes:
            count += 1
            where = f"{graph.name}:{name} axis {m.axis + 1} at {list(m.input_size)}"
            if not m.measured:
                problems.append(f"{where}: not measured ({m.note})")
                continue
            if m.input_size not in analyses:
                analyses[m.input_size] = analyze(graph, m.input_size)
            layer = analyses[m.input_size].layers[name]  # type: ignore[attr-defined]
            figures = layer.axes[m.axis]
            if any(axis.receptive_field == 0 for axis in layer.axes):
                # every unit reads only holes along some axis (e.g. a dilated window stepping over
                # a transposed conv's outputs): in a real network it sees nothing at all
                if any(region is not None for _, region in m.units):
                    problems.append(f"{where}: the engine says this layer sees nothing, measured {m.units[:3]}")
                continue
            for u, region in m.units:
                index = list(m.unit)
                index[m.axis] = u
                box = unit_box(layer, tuple(index))[m.axis]
                if not m.clipped:
                    if box != region:
                        problems.append(f"{where}: unit {u} sees {region}, engine box {box}")
                    continue
                # a unit that could not be kept off the border: the engine's axis is infinite, a real
                # image is not (zero padding, clamped resampling), so a real unit sees part of its box
                # (a unit over padding sees nothing at all, whatever its virtual box)
                if region is not None and (box is None or not box[0] <= region[0] <= region[1] <= box[1]):
                    problems.append(f"{where}: border unit {u} sees {region}, outside the engine box {box}")
            if m.clipped or _strides_differ(layer, m.axis):
                continue
            mine = (m.receptive_field, m.receptive_field_position_min, m.effective_stride, m.effective_padding)
            theirs = (
                figures.receptive_field,
                figures.receptive_field_position_min,
                figures.effective_stride,
                figures.effective_padding,
            )
            if mine != theirs:
                problems.append(
                    f"{where}: measured (rf, rf_position_min, stride, padding) = {mine}, engine {theirs} {m.note}"
                )
    return count, problems


def check(graph, layers=None, **kwargs) -> dict[str, list[AxisMeasurement]]:  # noqa: ANN001
    results = measure(graph, layers=layers, **kwargs)
    count, problems = compare(graph, results)
    assert count == len(results) * graph.dims
    assert not problems, "\n".join(problems[:20])
    return results


def check_faithful_shapes(graph, device: str = "cpu") -> None:  # noqa: ANN001
    """Real torch layers give every node the engine's output size and channels."""
    module = build_module(graph, device=device)
    x = (torch.randn if device == "cpu" else torch.empty)(1, graph.input_channels, *graph.input_size, device=device)
    with torch.no_grad():
        outputs = module(x)
    analysis = analyze(graph)
    wrong = []
    for name, tensor in outputs.items():
        layer = analysis.layers[name]
        got = (tensor.shape[1], tuple(tensor.shape[2:]))
        if got != (layer.channels, layer.output_size):
            wrong.append(f"{name}: torch {got}, engine {(layer.channels, layer.output_size)}")
    assert len(outputs) == len(graph.nodes)
    assert not wrong, "\n".join(wrong[:20])


# ---------------------------------------------------------------------------
# (a) hand-written specs, every op
# ---------------------------------------------------------------------------

SPECS: dict[str, str] = {
    "dilation": """
input: {size: [37, 29], channels: 2}
layers:
  - {op: conv, out: 4, kernel: 3, dilation: 2, padding: 2}
  - {op: relu}
  - {op: conv, kernel: 3, dilation: 3}
  - {op: conv, kernel: 2, dilation: 4, stride: 2}
  - {op: conv, kernel: [3, 2], dilation: [1, 5], padding: [[1, 0], [2, 3]]}
""",
    "anisotropic": """
input: {size: [20, 40], channels: 1}
layers:
  - {op: conv, out: 3, kernel: [1, 7], padding: [0, 3]}
  - {op: conv, kernel: [7, 1], padding: [3, 0]}
  - {op: conv, kernel: [3, 5], stride: [1, 2], padding: [[0, 2], [1, 1]]}
  - {op: maxpool, kernel: [2, 3], stride: [2, 1]}
""",
    "stride_above_kernel": """
input: {size: [40, 37], channels: 1}
layers:
  - {op: conv, out: 2, kernel: 1, stride: 3}
  - {op: conv, kernel: 2, stride: 3, padding: 1}
  - {op: conv, kernel: 3}
  - {op: avgpool, kernel: 1, stride: 2}
""",
    "ceil_mode": """
input: {size: [33, 30], channels: 2}
layers:
  - {op: maxpool, kernel: 3, stride: 2, ceil_mode: true}
  - {op: avgpool, kernel: 2, stride: 2, padding: 1, ceil_mode: true}
  - {op: conv, kernel: 3, padding: 1}
  - {op: maxpool, kernel: 3, stride: 3, padding: 1, ceil_mode: true}
""",
    "same_even_odd": """
input: {size: [32, 31], channels: 2}
layers:
  - {op: conv, kernel: 3, stride: 2, padding: same}
  - {op: conv, kernel: 4, stride: 2, padding: same}
  - {op: maxpool, kernel: 3, stride: 2, padding: same}
  - {op: avgpool, kernel: 2, stride: 3, padding: same}
  - {op: conv, kernel: 5, dilation: 2, padding: same}
  - {op: conv, kernel: [2, 3], stride: [1, 3], padding: same}
""",
    "conv_transpose": """
input: {size: [9, 11], channels: 3}
layers:
  - {op: conv_transpose, out: 4, kernel: 3, stride: 2, padding: 1, output_padding: 1}
  - {op: conv_transpose, kernel: 4, stride: 2, padding: 1}
  - {op: conv, kernel: 3, stride: 4}
  - {op: conv_transpose, kernel: 2, stride: 3}
  - {op: conv, kernel: 3, stride: [3, 2]}
""",
    "conv_transpose_same_dilated": """
input: {size: [9, 11], channels: 3}
layers:
  - {op: conv_transpose, out: 4, kernel: 3, stride: 2, padding: same}
  - {op: conv_transpose, kernel: [1, 2], stride: [3, 2], padding: same}
  - {op: conv, kernel: 2, stride: 3}
  - {op: conv_transpose, kernel: 3, stride: 2, dilation: 2, padding: [[1, 0], [0, 2]], output_padding: 1}
""",
    "upsample": """
input: {size: [10, 13], channels: 1}
layers:
  - {op: upsample, factor: 2}
  - {op: conv, kernel: 3}
  - {op: upsample, factor: [2, 3], mode: bilinear}
  - {op: conv, kernel: 2, stride: 3}
  - {op: upsample, factor: 2, mode: bilinear, align_corners: true}
  - {op: conv, kernel: 3, stride: 2}
  - {op: upsample, factor: [3, 1], mode: bilinear}
""",
    "resample_chain": """
input: {size: [10, 13], channels: 1}
layers:
  - {op: upsample, factor: 2}
  - {op: conv, kernel: 3}
  - {op: upsample, factor: [2, 3], mode: bilinear}
  - {op: conv, kernel: 2, stride: 3}
  - {op: upsample, size: [50, 61], mode: bilinear, align_corners: true}
  - {op: upsample, factor: 2, mode: bilinear, align_corners: true}
  - {op: conv, kernel: 3, stride: 2}
  - {op: upsample, size: [37, 40]}
  - {op: conv, kernel: 2, stride: 2}
""",
    "resize": """
input: {size: [10, 13], channels: 1}
layers:
  - {op: upsample, size: [25, 20]}
  - {op: conv, kernel: 3}
  - {op: upsample, size: [30, 16], mode: bilinear}
  - {op: conv, kernel: 2, stride: 2}
  - {name: corners, op: upsample, size: [29, 8], mode: bilinear, align_corners: true, from: input}
  - {op: conv, kernel: 3, padding: 1}
""",
    "pad_crop": """
input: {size: [20, 25], channels: 2}
layers:
  - {name: padded, op: pad, padding: [[1, 2], [3, 0]]}
  - {op: conv, kernel: 3}
  - {op: crop, crop: [[2, 1], [0, 3]]}
  - {name: small, op: conv, kernel: 3, stride: 2}
  - {name: big, op: conv, from: padded, kernel: 5, stride: 2, padding: 2}
  - {name: cropped, op: crop, from: big, like: small}
  - {op: concat, from: [small, cropped]}
""",
    "branches": """
input: {size: [30, 30], channels: 2}
layers:
  - {name: a, op: conv, from: input, kernel: 3, padding: 1}
  - {name: b, op: conv, from: input, kernel: 5, padding: 2}
  - {name: c, op: conv, from: input, kernel: 3, padding: [[0, 2], [2, 0]]}
  - {name: sum, op: add, from: [a, b, c]}
  - {name: cat, op: concat, from: [sum, a]}
  - {name: main, op: conv, kernel: 3, stride: 2, padding: 1}
  - {name: shortcut, op: conv, from: cat, kernel: 1, stride: 2}
  - {name: res, op: add, from: [main, shortcut]}
  - {name: pooled, op: maxpool, from: res, kernel: 3, stride: 1, padding: 1}
  - {name: cat2, op: concat, from: [pooled, res, main]}
""",
    "depthwise": """
input: {size: [28, 28], channels: 8}
layers:
  - {op: conv, groups: depthwise, kernel: 3, stride: 2, padding: 1}
  - {op: batchnorm}
  - {op: relu6}
  - {op: conv, groups: 2, out: 4, kernel: 3}
  - {op: conv, out: 8, kernel: 1}
  - {op: conv, groups: depthwise, kernel: 5, dilation: 2, padding: same}
""",
    "one_d": """
input: {size: 50, channels: 1}
layers:
  - {op: conv, out: 2, kernel: 5, dilation: 3, padding: [[12, 0]]}
  - {op: maxpool, kernel: 2, stride: 2}
  - {op: conv_transpose, kernel: 3, stride: 2}
  - {op: upsample, factor: 3, mode: linear}
  - {op: conv, kernel: 3, stride: 2, padding: same}
  - {op: avgpool, kernel: 3, stride: 2, ceil_mode: true}
""",
    "three_d": """
input: {size: [8, 12, 10], channels: 1}
layers:
  - {op: conv, out: 2, kernel: [3, 1, 1], padding: [1, 0, 0]}
  - {op: conv, kernel: [1, 3, 3], stride: [1, 2, 2], padding: [0, 1, 1]}
  - {op: maxpool, kernel: 2}
  - {op: upsample, factor: 2, mode: trilinear}
  - {op: conv, kernel: 3, padding: same}
  - {op: conv_transpose, kernel: [2, 3, 1], stride: [2, 1, 3]}
""",
    "space_depth": """
input: {size: [16, 24], channels: 4}
layers:
  - {op: conv, kernel: 3, padding: 1}
  - {op: space_to_depth, factor: 2}
  - {op: conv, out: 16, kernel: 3, padding: 1}
  - {op: depth_to_space, factor: 2}
  - {op: conv, kernel: 1}
  - {op: space_to_depth, factor: [1, 2]}
  - {op: conv, kernel: 2}
""",
    "global_linear_gate": """
input: {size: [17, 15], channels: 3}
layers:
  - {name: feat, op: conv, out: 4, kernel: 3, stride: 2}
  - {name: squeeze, op: global_pool}
  - {name: excite, op: conv, kernel: 1}
  - {op: sigmoid}
  - {name: gated, op: mul, from: [feat, sigmoid_1]}
  - {op: conv, kernel: 3, padding: 1}
  - {op: global_pool, mode: max}
  - {name: up, op: upsample, size: [5, 4]}
  - {op: linear, out: 5, from: gated}
""",
    "pool_padding_and_dilation": """
input: {size: [21, 22], channels: 2}
layers:
  - {op: maxpool, kernel: 3, stride: 1, dilation: 2, padding: 2}
  - {op: avgpool, kernel: 3, stride: 2, padding: [[0, 2], [1, 1]]}
  - {op: avgpool, kernel: 2, stride: 1, dilation: 2}
  - {op: maxpool, kernel: 2, stride: 2, padding: [[1, 0], [0, 1]], ceil_mode: true}
""",
    "dilation_over_holes": """
input: {size: 20, channels: 1}
layers:
  - {op: conv_transpose, kernel: 1, stride: 2}
  - {op: conv, kernel: 3, dilation: 3}
  - {op: conv, kernel: 2, dilation: 2}
""",
    "dead_along_one_axis": """
input: {size: [12, 18], channels: 2}
layers:
  - {op: conv_transpose, kernel: [2, 5], stride: 4, dilation: [1, 2], padding: same}
  - {op: avgpool, kernel: [2, 4], stride: [3, 4], dilation: 2, padding: same}
""",
    "misaligned_strides": """
input: {size: [16, 16], channels: 1}
layers:
  - {name: a, op: conv, from: input, kernel: 1, stride: 2}
  - {name: b, op: conv, from: input, kernel: 9}
  - {name: sum, op: add, from: [a, b]}
  - {op: conv, kernel: 3, padding: 1}
""",
}


@pytest.fixture(autouse=True, scope="module")
def _one_thread():  # noqa: ANN202
    """These tensors are small: one thread is faster, and two spin badly on a busy machine."""
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)


def _spec(name: str):  # noqa: ANN202
    return parse_spec(f"name: {name}\n" + SPECS[name], f"<{name}>")


def _no_unshuffle_then_shuffle(graph) -> bool:  # noqa: ANN001
    """The one-channel probe equals the full one unless a space_to_depth feeds a depth_to_space directly."""
    return not any(
        node.op == "depth_to_space" and graph.nodes.get(node.inputs[0]) is not None
        and graph.nodes[node.inputs[0]].op == "space_to_depth"
        for node in graph.nodes.values()
    )


@pytest.mark.parametrize("name", sorted(SPECS))
def test_hand_written_every_layer(name: str) -> None:
    graph = _spec(name)
    results = check(graph)
    assert all(m.measured for axes in results.values() for m in axes)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_full_channel_probe_agrees(name: str) -> None:
    """Torch's own convolutions, groups and pixel shuffles measure the same as the one-channel probe."""
    graph = _spec(name)
    assert _no_unshuffle_then_shuffle(graph)
    assert measure(graph, channels="full") == measure(graph)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_faithful_shapes_hand_written(name: str) -> None:
    check_faithful_shapes(_spec(name))


def test_holes_are_seen() -> None:
    """Stride above kernel: the region has holes, the engine reports its extent, so does the measure."""
    graph = _spec("stride_above_kernel")
    m = measure(graph, layers=["conv_2"])["conv_2"][0]
    assert (m.receptive_field, m.effective_stride, m.effective_padding) == (4, Fraction(9), 3)


def test_fractional_stride_and_position_min() -> None:
    """Worked by hand: a 3-tap stride-2 transposed conv gives even outputs 2 inputs, odd ones 1."""
    graph = parse_spec(
        "name: frac\ninput: {size: 12, channels: 1}\nlayers:\n"
        "  - {name: up, op: conv_transpose, kernel: 3, stride: 2}\n"
        "  - {name: smooth, op: upsample, factor: 2, mode: linear, from: input}\n"
    )
    results = check(graph)
    up = results["up"][0]
    # unit 2k reads inputs k-1 and k (taps 2 and 0), unit 2k+1 reads input k (tap 1); unit 0: [-1, 0]
    assert (up.receptive_field, up.receptive_field_position_min) == (2, 1)
    assert (up.effective_stride, up.effective_padding) == (Fraction(1, 2), 1)
    smooth = results["smooth"][0]
    # unit v reads source (v + 1/2)/2 - 1/2: two non-zero taps everywhere; unit 0 reads -1 and 0
    assert (smooth.receptive_field, smooth.receptive_field_position_min) == (2, 2)
    assert (smooth.effective_stride, smooth.effective_padding) == (Fraction(1, 2), 1)


def test_field_larger_than_input_is_measured_at_a_larger_size() -> None:
    graph = parse_spec(
        "name: deep\ninput: {size: [12, 10], channels: 1}\nlayers:\n"
        "  - {op: conv, kernel: 5, padding: 2, repeat: 8}\n"
    )
    last = list(graph.nodes)[-1]
    results = check(graph, layers=[last])
    for m in results[last]:
        assert m.receptive_field == 33
        assert m.input_size[m.axis] > graph.input_size[m.axis]


def test_engine_and_measure_use_the_same_size_with_same_padding() -> None:
    """`same` padding depends on the input size: the comparison must be at the measured size."""
    graph = parse_spec(
        "name: same\ninput: {size: [9, 9], channels: 1}\nlayers:\n"
        "  - {op: conv, kernel: 4, stride: 2, padding: same, repeat: 4}\n"
    )
    results = check(graph)
    sizes = {m.input_size for axes in results.values() for m in axes}
    assert any(size != (9, 9) for size in sizes)


# ---------------------------------------------------------------------------
# (b) the zoo
# ---------------------------------------------------------------------------

ZOO_SPECS = sorted(ZOO.glob("*.yaml"))
#: fields larger than this (pixels) make a zoo case slow
SLOW_FIELD = 1000
#: the probe's input is capped here; a field that needs more is too big for memory
MAX_PIXELS = 40_000_000


def _sample(graph, count: int = 10) -> list[str]:  # noqa: ANN001
    names = list(graph.nodes)
    step = max(1, len(names) // (count + 1))
    picked = list(graph.outputs) + [names[i] for i in range(step - 1, len(names), step)][:count]
    return list(dict.fromkeys(picked))


def _zoo_params():  # noqa: ANN202
    params = []
    for path in ZOO_SPECS:
        marks = []
        try:
            graph = load_spec(str(path))
            field = max(analyze(graph).output.axis_values("receptive_field"))
        except Exception:  # noqa: BLE001 - a spec being written may be broken; the test reports it
            field = 0
        if field > SLOW_FIELD:
            marks.append(pytest.mark.slow)
        params.append(pytest.param(path, id=path.stem, marks=marks))
    return params


@pytest.mark.parametrize("path", _zoo_params())
def test_zoo(path) -> None:  # noqa: ANN001
    graph = load_spec(str(path))
    layers = _sample(graph)
    results = measure(graph, layers=layers, max_pixels=MAX_PIXELS)
    unmeasured = [m for axes in results.values() for m in axes if not m.measured]
    if unmeasured:
        pytest.skip(
            f"{path.name}: too big for memory: the field of {len(unmeasured)} layer-axes needs an input of more "
            f"than {MAX_PIXELS} float64 pixels ({unmeasured[0].note})"
        )
    count, problems = compare(graph, results)
    assert count == len(layers) * graph.dims
    assert not problems, "\n".join(problems[:20])


@pytest.mark.parametrize("path", [pytest.param(p, id=p.stem) for p in ZOO_SPECS])
def test_zoo_faithful_shapes(path) -> None:  # noqa: ANN001
    """Torch's own shape rules (meta device: no memory, no compute) agree with the engine on every node."""
    check_faithful_shapes(load_spec(str(path)), device="meta")


# ---------------------------------------------------------------------------
# (c) random 2-D chains and DAGs
# ---------------------------------------------------------------------------


def _per_axis(draw, strategy):  # noqa: ANN001, ANN202
    a, b = draw(strategy), draw(strategy)
    return a if a == b else [a, b]


@st.composite
def random_net(draw):  # noqa: ANN001, ANN201, C901
    size = [draw(st.integers(6, 30)), draw(st.integers(6, 30))]
    lines = [f"input: {{size: {size}, channels: 1}}", "layers:"]
    count = draw(st.integers(1, 7))
    current = "input"
    index = 0

    def name() -> str:
        nonlocal index
        index += 1
        return f"n{index}"

    def emit(text: str, source: str) -> str:
        node = name()
        lines.append(f"  - {{name: {node}, from: {source}, {text}}}")
        return node

    def size_preserving(source: str) -> str:
        """A stride-1 conv keeping the size, its padding split at random (misaligned centres)."""
        parts = []
        for _ in range(2):
            k = draw(st.integers(1, 5))
            d = draw(st.integers(1, 2))
            total = d * (k - 1)
            before = draw(st.integers(0, total))
            parts.append((k, d, [before, total - before]))
        kernel = [p[0] for p in parts]
        dilation = [p[1] for p in parts]
        padding = [p[2] for p in parts]
        return emit(f"op: conv, kernel: {kernel}, dilation: {dilation}, padding: {padding}", source)

    for _ in range(count):
        kind = draw(st.sampled_from(["conv", "conv", "pool", "upsample", "deconv", "pad_crop", "branch"]))
        if max(size) > 60:
            kind = "pool"
        if kind == "conv":
            k = _per_axis(draw, st.integers(1, 5))
            s = _per_axis(draw, st.integers(1, 3))
            d = _per_axis(draw, st.integers(1, 2))
            if draw(st.booleans()):
                current = emit(f"op: conv, kernel: {k}, stride: {s}, dilation: {d}, padding: same", current)
                ks = k if isinstance(k, list) else [k, k]
                ss = s if isinstance(s, list) else [s, s]
                size = [-(-n // st_) for n, st_ in zip(size, ss)]
            else:
                ks = k if isinstance(k, list) else [k, k]
                ss = s if isinstance(s, list) else [s, s]
                ds = d if isinstance(d, list) else [d, d]
                pads = []
                for axis in range(2):
                    k_eff = ds[axis] * (ks[axis] - 1) + 1
                    lo = max(0, k_eff - size[axis])
                    before = draw(st.integers(0, k_eff))
                    after = max(draw(st.integers(0, k_eff)), lo - before)
                    pads.append([before, after])
                current = emit(f"op: conv, kernel: {k}, stride: {s}, dilation: {d}, padding: {pads}", current)
                size = [
                    (n + p[0] + p[1] - (dd * (kk - 1) + 1)) // sst + 1
                    for n, p, kk, sst, dd in zip(size, pads, ks, ss, ds)
                ]
        elif kind == "pool":
            k = draw(st.integers(2, 3))
            s = draw(st.integers(1, 3))
            p = draw(st.integers(0, k // 2))
            op = draw(st.sampled_from(["maxpool", "avgpool"]))
            ceil = draw(st.booleans())
            if min(size) + 2 * p < k:
                continue
            current = emit(
                f"op: {op}, kernel: {k}, stride: {s}, padding: {p}, ceil_mode: {str(ceil).lower()}", current
            )
            shapes = infer_shapes(parse_spec("name: r\n" + "\n".join(lines)))
            size = list(shapes[current][1])
        elif kind == "upsample":
            mode = draw(st.sampled_from(["nearest", "bilinear"]))
            corners = mode == "bilinear" and draw(st.booleans())
            f = _per_axis(draw, st.integers(1, 3))
            current = emit(f"op: upsample, factor: {f}, mode: {mode}, align_corners: {str(corners).lower()}", current)
            fs = f if isinstance(f, list) else [f, f]
            size = [n * ff for n, ff in zip(size, fs)]
        elif kind == "deconv":
            k = draw(st.integers(1, 4))
            s = draw(st.integers(1, 3))
            if draw(st.booleans()):
                current = emit(f"op: conv_transpose, kernel: {k}, stride: {s}, padding: same", current)
                size = [n * s for n in size]
            else:
                p = draw(st.integers(0, (k - 1) // 2))
                current = emit(f"op: conv_transpose, kernel: {k}, stride: {s}, padding: {p}", current)
                size = [(n - 1) * s - 2 * p + k for n in size]
        elif kind == "pad_crop":
            b, a = draw(st.integers(0, 3)), draw(st.integers(0, 3))
            if draw(st.booleans()) or min(size) <= b + a + 1:
                current = emit(f"op: pad, padding: [[{b}, {a}], [{a}, {b}]]", current)
                size = [n + b + a for n in size]
            else:
                current = emit(f"op: crop, crop: [[{b}, {a}], [{a}, {b}]]", current)
                size = [n - b - a for n in size]
        else:  # branch: two size-preserving paths (one maybe down- and up-sampled), merged
            left = size_preserving(current)
            if draw(st.booleans()):
                left = size_preserving(left)
            if all(n % 2 == 0 for n in size) and draw(st.booleans()):
                down = emit("op: avgpool, kernel: 2, stride: 2", current)
                mode = draw(st.sampled_from(["nearest", "bilinear"]))
                right = emit(f"op: upsample, factor: 2, mode: {mode}", down)
            else:
                right = size_preserving(current)
            merge = draw(st.sampled_from(["add", "concat"]))
            current = emit(f"op: {merge}", f"[{left}, {right}]")
        if min(size) < 1:
            break
    return "name: random\n" + "\n".join(lines) + "\n"


@settings(
    max_examples=80,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(random_net())
def test_random_nets(text: str) -> None:
    from hypothesis import assume

    from rfdesign.errors import SpecError

    try:
        graph = parse_spec(text)
        analyze(graph)
    except SpecError:
        assume(False)
        return
    check(graph)
    check_faithful_shapes(graph)


# ---------------------------------------------------------------------------
# the optional extra
# ---------------------------------------------------------------------------


def test_importing_the_builder_does_not_import_torch() -> None:
    code = "import sys, rfdesign, rfdesign.io.torch_build, rfdesign.verify.probe, rfdesign.verify; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_torch_is_a_clear_error(monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(probe, "_IMPL", {})
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'rfdesign\[torch\]'"):
        build_module(_spec("dilation"))
