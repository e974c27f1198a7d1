"""rfdesign.io.torch_import against the real modules it reads (tests/torch_models.py).

For each hand-written model (ResNet with projection shortcuts, Inception
concat of 1x1/3x3/5x5/pool branches, U-Net with transposed convs and cropped
skips, dilated causal 1-D TCN, MobileNet blocks with squeeze-and-excitation
gates, a 3-D video net, a model with data-dependent control flow that forces
the hook fallback, and one with assorted ops):

* every leaf module call's output shape in a real forward pass equals the
  engine's output size and channels at the node named after that module;
* the receptive field at the graph's output, measured here by gradients
  (a float64 copy with positive constant weights, no biases, norms and
  activations removed, max pooling replaced by an equal-window average,
  squeeze-and-excitation gates detached; backprop from interior units; the
  non-zero extent of the input gradient per axis), equals the engine's box
  for each measured unit, and its receptive field, stride and padding;
* the parameter total equals ``sum(p.numel())`` of the module (BatchNorm's
  running statistics are buffers, as in the engine; none of these models
  holds parameters the engine does not count, e.g. a PReLU slope).

The probe shares nothing with rfdesign.verify (its probe builder included).
"""

from __future__ import annotations

import copy
import math
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

TESTS = Path(__file__).resolve().parent
if str(TESTS) not in sys.path:  # the factories are imported by name, as `torch_models:<factory>()`
    sys.path.insert(0, str(TESTS))

import torch_models  # noqa: E402

from rfdesign.errors import SpecError  # noqa: E402
from rfdesign.io.sources import load_graph  # noqa: E402
from rfdesign.io.torch_import import import_torch  # noqa: E402
from rfdesign.io.yaml_export import dump, spec_dict  # noqa: E402
from rfdesign.rf import analyze  # noqa: E402
from rfdesign.rf.coords import unit_box  # noqa: E402
from rfdesign.spec import parse_spec  # noqa: E402

pytestmark = pytest.mark.torch


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread: much faster on a loaded machine; restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# factory: (input size given to the importer (None: the default), input size of the gradient probe,
# node probed (None: the graph's output)). The probe size is large enough for interior units to see
# no padding; a model whose graph holds sizes fixed at import (crops, adaptive windows) is probed at
# its import size, the others may be probed at another size (the graph analysed at that size).
MODELS = {
    "resnet": (None, (256, 256), None),
    "inception": ((128,), (128, 128), None),
    "unet": ((92,), (92, 92), None),
    "tcn": ((120,), (120,), None),
    "mobilenet": ((64,), (64, 64), None),
    "video3d": ((16, 96, 96), (16, 96, 96), None),
    "dynamic": ((40,), (40, 40), None),
    "assorted": ((94, 94), (94, 94), "up"),  # after the adaptive pool every unit sees half the image
}


def build(factory: str) -> nn.Module:
    model = getattr(torch_models, factory)()
    torch.manual_seed(0)
    for p in model.parameters():  # any values: only shapes and supports matter here
        p.data.uniform_(-1, 1)
    return model.eval()


def leaf_modules(model: nn.Module) -> dict[str, nn.Module]:
    leaves = {}
    for name, module in model.named_modules():
        if type(module).__module__.startswith("torch.nn") and not isinstance(module, nn.Sequential) and name:
            leaves[name] = module
    return leaves


def call_shapes(model: nn.Module, x) -> tuple[dict[str, tuple[str, tuple[int, ...]]], list[nn.Module]]:  # noqa: ANN001
    """Output shape of every leaf module call, named as the importer names calls (``name``, ``name_2`` ...),
    and the modules called."""
    shapes: dict[str, tuple[int, ...]] = {}
    counts: dict[str, int] = {}
    called: dict[int, nn.Module] = {}
    handles = []
    for name, module in leaf_modules(model).items():

        def hook(mod, args, out, name=name):  # noqa: ANN001, ANN202
            counts[name] = counts.get(name, 0) + 1
            called[id(mod)] = mod
            key = name if counts[name] == 1 else f"{name}_{counts[name]}"
            value = out[0] if isinstance(out, tuple) else out
            shapes[key] = (type(mod).__name__, tuple(value.shape))

        handles.append(module.register_forward_hook(hook))
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return shapes, list(called.values())


def layout_agrees(shape: tuple[int, ...], channels: int, size: tuple[int, ...]) -> bool:
    """A torch shape holds (channels, size) as a map, channels-last, or a flat vector of a size-1 map."""
    return (
        shape == (1, channels) + size
        or shape == (1,) + size + (channels,)
        or (shape == (1, channels) and all(n == 1 for n in size))
    )


# --------------------------------------------------------------------------------------------------
# the gradient probe
# --------------------------------------------------------------------------------------------------


class WindowMean(nn.Module):
    """A max pool's window as a mean: same kernel, stride, padding, dilation and ceil_mode output size."""

    def __init__(self, pool: nn.Module):
        super().__init__()
        self.pool = pool

    def forward(self, x):  # noqa: ANN001, ANN201
        dims = x.dim() - 2
        out = self.pool(x).shape[2:]

        def tup(v):  # noqa: ANN001, ANN202
            return tuple(v) if isinstance(v, (tuple, list)) else (v,) * dims

        k, s, p, d = tup(self.pool.kernel_size), tup(self.pool.stride), tup(self.pool.padding), tup(self.pool.dilation)
        pads = []
        for axis in reversed(range(dims)):
            need = (out[axis] - 1) * s[axis] + d[axis] * (k[axis] - 1) + 1 - (x.shape[2 + axis] + 2 * p[axis])
            pads += [p[axis], p[axis] + max(need, 0)]
        y = F.pad(x, pads)
        c = x.shape[1]
        weight = torch.full((c, 1) + k, 1.0 / math.prod(k), dtype=x.dtype)
        y = getattr(F, f"conv{dims}d")(y, weight, stride=s, dilation=d, groups=c)
        for axis in range(dims):
            y = y.narrow(2 + axis, 0, out[axis])
        return y


PASS_THROUGH = (
    nn.ReLU, nn.ReLU6, nn.Hardswish, nn.Hardsigmoid, nn.GELU, nn.SiLU, nn.Sigmoid, nn.Tanh, nn.Dropout,
    nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.GroupNorm, nn.LayerNorm, nn.InstanceNorm2d,
)  # fmt: skip


def probe(model: nn.Module) -> nn.Module:
    """A float64 copy whose input gradient is non-zero exactly on the pixels each output unit depends on."""
    m = copy.deepcopy(model).double().eval()
    for name, module in list(m.named_modules()):
        if not name:
            continue
        replacement = None
        if isinstance(module, nn.modules.pooling._MaxPoolNd):
            replacement = WindowMean(module)
        elif isinstance(module, nn.AdaptiveMaxPool2d):
            replacement = nn.AdaptiveAvgPool2d(module.output_size)
        elif isinstance(module, PASS_THROUGH):
            replacement = nn.Identity()
        if replacement is not None:
            parent, _, attr = name.rpartition(".")
            setattr(m.get_submodule(parent) if parent else m, attr, replacement)
    for module in m.modules():
        if isinstance(module, (nn.modules.conv._ConvNd, nn.Linear)):
            fan = module.weight[0].numel()
            module.weight.data.fill_(1.0 / fan)
            if module.bias is not None:
                module.bias.data.zero_()
    for name, module in m.named_modules():
        if name.endswith(".gate"):  # a squeeze-and-excitation gate: global context, not receptive field
            module.register_forward_hook(lambda mod, args, out: out.detach())
    return m


def capture(model: nn.Module, node: str):  # noqa: ANN201
    """Hooks that keep the tensor of ``node``: a module call (``name`` or ``name_k``) or a module's last op."""
    leaves = dict(model.named_modules())
    candidates = []
    base, _, k = node.rpartition("_")
    if node in leaves:
        candidates.append((node, 1))
    if k.isdigit() and base in leaves:
        candidates.append((base, int(k)))
    parent = node.rpartition(".")[0]
    if parent in leaves:
        candidates.append((parent, 1))
    assert candidates, f"cannot find the tensor of `{node}` in the model"
    path, wanted = candidates[0]
    store: dict[str, object] = {"calls": 0}

    def hook(mod, args, out):  # noqa: ANN001, ANN202
        store["calls"] += 1
        if store["calls"] == wanted:
            store["value"] = out

    handle = leaves[path].register_forward_hook(hook)
    return store, handle


def measure_boxes(model: nn.Module, node: str, size: tuple[int, ...], channels: int, units: list):  # noqa: ANN201
    """For each output unit (index into the node's spatial map), the per-axis (first, last) input pixel it sees."""
    m = probe(model)
    store, handle = capture(m, node)
    boxes = []
    try:
        for unit in units:
            x = torch.ones((1, channels) + size, dtype=torch.float64, requires_grad=True)
            store.clear()
            store["calls"] = 0
            m(x)
            out = store["value"]
            index = (0, slice(None)) + tuple(unit)
            out[index].sum().backward()
            grad = x.grad[0].abs().sum(0)
            box = []
            for axis in range(len(size)):
                other = tuple(a for a in range(len(size)) if a != axis)
                line = grad.sum(other) if other else grad
                nz = torch.nonzero(line).flatten().tolist()
                box.append((nz[0], nz[-1]) if nz else None)
            boxes.append(tuple(box))
    finally:
        handle.remove()
    return boxes


# --------------------------------------------------------------------------------------------------
# the models
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("factory", list(MODELS))
def test_model_against_forward_and_gradients(factory):
    import_size, probe_size, probe_node = MODELS[factory]
    graph = import_torch(f"torch_models:{factory}()", import_size)
    size = graph.input_size
    analysis = analyze(graph)
    model = build(factory)
    channels = graph.input_channels

    # 1. every leaf module call: the engine's size and channels at the node of that name
    shapes, called = call_shapes(model, torch.randn((1, channels) + size))
    compared, wrong = 0, []
    for name, (kind, shape) in shapes.items():
        if kind in ("Flatten", "Unflatten"):
            assert name not in graph.nodes  # pure reshapes make no node
            continue
        assert name in graph.nodes, f"no node for module call `{name}` ({kind})"
        layer = analysis.layers[name]
        compared += 1
        if not layout_agrees(shape, layer.channels, tuple(layer.output_size)):
            wrong.append(f"{name} ({kind}): torch {shape}, engine {layer.channels} x {layer.output_size}")
    assert not wrong, "\n".join(wrong)
    assert compared >= 5

    # 2. receptive field: measured boxes against the engine's, at interior units
    node = probe_node or graph.output
    probed = analysis if probe_size == size else analyze(graph, probe_size)
    out = probed.layers[node]
    period = max(axis.period for axis in out.axes)
    centre = tuple(n // 2 for n in out.output_size)
    count = max(min(period, 4), 2)  # a whole period when short, else four neighbours
    units = [tuple(min(c + k, n - 1) for c, n in zip(centre, out.output_size)) for k in range(count)]
    measured = measure_boxes(model, node, probe_size, channels, units)
    for unit, boxes in zip(units, measured):
        engine = unit_box(out, unit)
        for axis, (box, n) in enumerate(zip(engine, probe_size)):
            assert box is not None and 0 <= box[0] <= box[1] < n, f"unit {unit} is not interior on axis {axis}: {box}"
        assert boxes == engine, f"{factory} `{node}` unit {unit}: measured {boxes}, engine {engine}"
    for axis, figures in enumerate(out.axes):
        extents = [b[axis][1] - b[axis][0] + 1 for b in measured]
        if figures.period == 1:
            (lo0, hi0), (lo1, _) = measured[0][axis], measured[1][axis]
            stride = lo1 - lo0
            assert hi0 - lo0 + 1 == figures.receptive_field
            assert stride == figures.effective_stride
            assert units[0][axis] * stride - lo0 == figures.effective_padding
        else:
            assert figures.receptive_field_position_min <= min(extents) <= max(extents) <= figures.receptive_field
            if count == figures.period:
                assert max(extents) == figures.receptive_field
                assert min(extents) == figures.receptive_field_position_min

    # 3. parameters: those of the modules the forward pass used (all of them, but for the branch
    # the data-dependent model did not take)
    used = sum(p.numel() for m in called for p in m.parameters(recurse=False))
    assert analysis.params == used
    if factory != "dynamic":
        assert used == sum(p.numel() for p in model.parameters())


def test_notes_and_names():
    graph = import_torch("torch_models:resnet()", (64,))
    assert graph.name == "resnet"
    assert graph.nodes["layer1.0.conv1"].note == "nn.Conv2d layer1.0.conv1 (torch.fx)"
    assert graph.nodes["layer1.0.add"].note == "operator.add in layer1.0 (torch.fx)"
    assert graph.nodes["layer1.0.relu_2"].inputs == ("layer1.0.add",)  # the second call of a module
    assert graph.nodes["layer2.0.downsample.0"].attrs.stride == (2, 2)
    assert graph.outputs == ("layer3.1.relu_2",)  # the feature map before global pooling
    assert graph.nodes["fc"].op == "linear" and graph.nodes["avgpool"].op == "global_pool"
    assert all(node.note.endswith("(torch.fx)") for node in graph.nodes.values())


def test_hook_fallback_says_so():
    graph = import_torch("torch_models:dynamic()", (40,))
    notes = [node.note for node in graph.nodes.values()]
    assert "torch.fx could not trace the model" in notes[0]
    assert all("(forward hooks" in note for note in notes)
    # functional ops between modules recovered by tensor identity
    assert graph.nodes["add"].op == "add" and set(graph.nodes["add"].inputs) == {"branch_a", "relu"}
    assert graph.nodes["cat"].inputs == ("add", "relu")
    assert graph.nodes["interpolate"].op == "upsample" and graph.nodes["interpolate"].attrs.factor == (2, 2)


def test_output_choice_and_did_you_mean():
    graph = import_torch("torch_models:resnet()", (64,), output="layer2.1.relu_2")
    assert graph.output == "layer2.1.relu_2"
    with pytest.raises(SpecError, match="did you mean `layer2.1.conv[12]`"):
        import_torch("torch_models:resnet()", (64,), output="layer2.1.conv")


def test_ops_read_from_the_assorted_model():
    graph = import_torch("torch_models:assorted()", (62,))
    nodes = graph.nodes
    assert nodes["conv1"].attrs.padding == ((1, 1), (1, 1))  # padding="same"
    assert nodes["pad"].op == "pad" and nodes["pad"].attrs.padding == ((0, 1), (1, 2))
    assert nodes["pool1"].attrs.ceil_mode and nodes["pool1"].attrs.dilation == (2, 2)
    assert [nodes[n].op for n in ("chunk/0", "chunk/1", "getitem", "getitem_2")] == ["select"] * 4
    assert (nodes["getitem"].attrs.start, nodes["getitem"].attrs.stop) == (2, 8)
    assert nodes["shuffle_down"].op == "space_to_depth" and nodes["shuffle_up"].op == "depth_to_space"
    assert nodes["norm_last"].op == "norm" and nodes["mix"].op == "conv"  # LayerNorm / Linear on channels-last
    assert nodes["up"].attrs.align_corners and nodes["up"].attrs.mode == "linear"
    assert nodes["getitem_3"].op == "avgpool" and nodes["getitem_3"].attrs.stride == (1, 2)  # x[:, :, 1:, ::2]
    assert nodes["pad_2"].op == "crop" and nodes["pad_2/pad"].op == "pad"  # F.pad with a negative amount
    assert nodes["adapt"].op == "maxpool" and nodes["adapt"].attrs.kernel == (31, 1)
    assert "reflection" in nodes["reflect"].note


@pytest.mark.parametrize("factory", list(MODELS))
def test_yaml_round_trip(factory):
    """`rfdesign import` writes the graph as a spec: the spec gives the same figures."""
    graph = import_torch(f"torch_models:{factory}()", MODELS[factory][0])
    text = dump(spec_dict(graph), "imported", notes_as_comments=True)
    again = parse_spec(text)
    a, b = analyze(graph), analyze(again)
    for name, layer in a.layers.items():
        other = b.layers[name]
        assert (layer.output_size, layer.channels, layer.axes) == (other.output_size, other.channels, other.axes)
    assert a.params == b.params


def test_sources_dispatch_and_defaults():
    graph = load_graph("torch_models:tcn()", input_size=(50,))
    assert graph.input_size == (50,) and graph.input_channels == 2
    assert import_torch("torch_models:video3d()").input_size == (16, 112, 112)  # the 3-D default


@pytest.mark.parametrize(
    ("source", "size", "message"),
    [
        ("torch_models:attention()", (16,), r"Tensor.flatten 'flatten': reshapes \[1, 8, 16, 16\] to \[1, 8, 256\]"),
        ("torch_models:not_a_module()", None, "returned a int, not a torch.nn.Module"),
        ("torch_models:resnett", None, "did you mean `resnet`"),
        ("no_such_package_xyz:model", None, "cannot import module 'no_such_package_xyz'"),
        ("torch_models:resnet()", (32, 32, 32), "does not fit a 2-D model"),
        ("torch_models:unet()", (20,), "running `unet` on a 1x1x20x20 input failed"),
        ("torch_models:adaptive()", (21,), "adaptive pooling from \\[19, 19\\] to \\[3, 3\\]: the sizes do not divide"),
        ("not a factory", None, "is not a PyTorch factory"),
    ],
)
def test_errors_are_spec_errors(source, size, message):
    with pytest.raises(SpecError, match=message):
        import_torch(source, size)


def test_unsupported_op_names_the_op_and_node():
    with pytest.raises(SpecError) as info:
        import_torch("torch_models:attention()", (16,))
    assert str(info.value).startswith("torch_models:attention(): error: Tensor.flatten 'flatten'")
    graph = import_torch("torch_models:attention()", (16,), output="conv")  # fine when the output is readable
    assert list(graph.nodes) == ["conv"] and graph.outputs == ("conv",)
    with pytest.raises(SpecError, match=r"F.grid_sample 'grid_sample': unsupported op F.grid_sample"):
        import_torch("torch_models:warp()", (16,))


def test_no_convolution():
    class_source = "torch_models_linear_only"
    module = type(sys)(class_source)
    module.mlp = lambda: nn.Sequential(nn.Flatten(), nn.Linear(12, 3))
    sys.modules[class_source] = module
    try:
        with pytest.raises(SpecError, match="found no convolution"):
            import_torch(f"{class_source}:mlp()")
    finally:
        del sys.modules[class_source]
