"""ONNX import: real files from the ONNX project, torch exports, and hand-built graphs.

Oracles that share no code with :mod:`rfdesign.io.onnx_import`:

* ``onnx.shape_inference`` (the ONNX project's own shape rules) for the size
  and channels of every imported feature map;
* each single-op test graph's declared output shape, and receptive fields
  computed by hand below from the op's attributes;
* the project's zoo specs (torchvision ResNet-50 and DenseNet-121 give the
  same receptive field, stride, padding and parameter count as the ONNX
  model zoo's Caffe2 conversions), published parameter counts;
* small torch modules exported with ``torch.onnx.export`` and the same
  networks written by hand as specs: every node's figures must agree.
"""

from __future__ import annotations

import re
import sys
import warnings

import pytest

from conftest import FIXTURES, ZOO
from rfdesign.errors import MissingExtraError, SpecError
from rfdesign.rf import analyze, unit_box
from rfdesign.spec import load_spec
from rfdesign.spec.load import parse_spec

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402

from rfdesign.io.onnx_import import import_onnx  # noqa: E402

try:
    import torch
    from torch import nn
    from torch.nn import functional as F
except ImportError:  # the torch-export tests are skipped
    torch = nn = F = None

needs_torch = pytest.mark.skipif(torch is None, reason="needs torch (the [torch] extra)")
_Module = nn.Module if nn is not None else object

ONNX = FIXTURES / "onnx"
MODELS = sorted(ONNX.glob("**/*.onnx"))


def _id(path) -> str:
    return str(path.relative_to(ONNX).parent if path.name == "model.onnx" else path.relative_to(ONNX))


@pytest.fixture(scope="module")
def imported():
    cache = {}

    def get(path, size=None):
        key = (str(path), size)
        if key not in cache:
            graph = import_onnx(str(path), input_size=size)
            cache[key] = (graph, analyze(graph))
        return cache[key]

    return get


def figures(layer):
    return (
        layer.output_size,
        layer.axis_values("receptive_field"),
        layer.axis_values("effective_stride"),
        layer.axis_values("effective_padding"),
    )


# -- every fixture: sizes against ONNX's own shape inference ---------------------------------------------


@pytest.mark.parametrize("path", MODELS, ids=_id)
def test_every_feature_map_matches_onnx_shape_inference(path, imported):
    graph, analysis = imported(path)
    model = onnx.load(str(path))
    inferred = onnx.shape_inference.infer_shapes(model)
    shapes = {
        value.name: [d.dim_value for d in value.type.tensor_type.shape.dim]
        for value in list(inferred.graph.value_info) + list(inferred.graph.output)
    }
    checked = 0
    for node in model.graph.node:
        name = node.name or node.output[0]
        shape = shapes.get(node.output[0])
        if name not in graph.nodes or shape is None or len(shape) != 2 + len(graph.input_size):
            continue
        layer = analysis.layers[name]
        assert layer.output_size == tuple(shape[2:]), name
        assert layer.channels == shape[1], name
        assert graph.nodes[name].note.startswith(f"{node.op_type} node '{name}' (onnx)")
        assert graph.nodes[name].location.file == str(path)
        checked += 1
    assert checked >= 1
    for output in graph.outputs:
        assert output in graph.nodes


# -- single-op test graphs: declared output shapes and hand-computed receptive fields ---------------------

# (output size, receptive field, effective stride, effective padding, parameters), from the attributes:
# RF of one window op = dilation * (kernel - 1) + 1; a transposed conv with stride s and kernel k makes an
# output pixel read ceil(k / s) or floor(k / s) inputs, so its field is that many pixels, at stride 1/s.
SINGLE_OPS = {
    # AveragePool k2 s2 on 6x6: (6 - 2) / 2 + 1 = 3
    "pytorch-converted/test_AvgPool2d_stride": ((3, 3), [2, 2], [2, 2], [0, 0], 0),
    # Conv1d k3 d2 on 10: 10 - 5 + 1 = 6; 5 * 4 * 3 + 5 parameters
    "pytorch-converted/test_Conv1d_dilated": ((6,), [5], [1], [0], 65),
    # depthwise k3 s2 on 6: (6 - 3) / 2 + 1 = 2; 4 * 1 * 9 + 4
    "pytorch-converted/test_Conv2d_depthwise_strided": ((2, 2), [3, 3], [2, 2], [0, 0], 40),
    # k3 d2 s2 p1 on 8: (8 + 2 - 5) / 2 + 1 = 3; 2 * 3 * 9 + 2
    "pytorch-converted/test_Conv2d_dilated": ((3, 3), [5, 5], [2, 2], [1, 1], 56),
    # k3 s2 p1 on 6: (6 + 2 - 3) / 2 + 1 = 3; 4 * 3 * 9 + 4
    "pytorch-converted/test_Conv2d_padding": ((3, 3), [3, 3], [2, 2], [1, 1], 112),
    "pytorch-converted/test_Conv2d_strided": ((2, 2), [3, 3], [2, 2], [0, 0], 112),
    # k3 s(3, 2) p1 output_padding 1 on 7x6: (7 - 1) * 3 - 2 + 3 + 1 = 20, (6 - 1) * 2 - 2 + 3 + 1 = 12
    "pytorch-converted/test_ConvTranspose2d": ((20, 12), [1, 2], [1 / 3, 1 / 2], [0, 0], 3 * 4 * 9 + 4),
    # k200 d10 s10 p100 on 220000: effective kernel 1991, (220000 + 200 - 1991) / 10 + 1 = 21821
    "pytorch-converted/test_MaxPool1d_stride_padding_dilation": ((21821,), [1991], [10], [100], 0),
    # k(60, 80) d10 s10 p(10, 20): effective (591, 791); (1000 + 20 - 591) / 10 + 1 = 43, (1040 - 791) / 10 + 1 = 25
    "pytorch-converted/test_MaxPool2d_stride_padding_dilation": ((43, 25), [591, 791], [10, 10], [10, 20], 0),
    # k3 s3 p1 output_padding 2 on 4x5: 3 * 3 - 2 + 3 + 2 = 12, 4 * 3 - 2 + 3 + 2 = 15; no bias
    "pytorch-operator/test_operator_convtranspose": ((12, 15), [1, 1], [1 / 3, 1 / 3], [0, 0], 81),
}


@pytest.mark.parametrize("name", sorted(SINGLE_OPS))
def test_single_op_graphs(name, imported):
    path = ONNX / name / "model.onnx"
    graph, analysis = imported(path)
    model = onnx.load(str(path))
    declared = [d.dim_value for d in model.graph.output[0].type.tensor_type.shape.dim]
    size, rf, stride, padding, params = SINGLE_OPS[name]
    assert len(graph.nodes) == 1 and graph.outputs == (model.graph.output[0].name,)
    layer = analysis.output
    assert layer.output_size == tuple(declared[2:]) == size
    assert layer.channels == declared[1]
    assert layer.axis_values("receptive_field") == rf
    assert [float(s) for s in layer.axis_values("effective_stride")] == pytest.approx(stride)
    assert layer.axis_values("effective_padding") == padding
    assert analysis.params == params


# -- model-zoo graphs against the project's zoo and published figures ----------------------------------------


@pytest.mark.parametrize(
    "model, zoo",
    [("light_resnet50.onnx", "torchvision_resnet50.yaml"), ("light_densenet121.onnx", "torchvision_densenet121.yaml")],
)
def test_zoo_models_match_the_torchvision_specs(model, zoo, imported):
    graph, analysis = imported(ONNX / "light" / model)
    spec = analyze(load_spec(str(ZOO / zoo)))
    mine = analysis.layers[graph.outputs[0]]
    assert figures(mine) == figures(spec.output)
    assert mine.channels == spec.output.channels
    assert analysis.params == spec.params  # 25,557,032 and 7,978,856


def test_resnet50_every_stage_matches(imported):
    graph, analysis = imported(ONNX / "light" / "light_resnet50.onnx")
    spec = analyze(load_spec(str(ZOO / "torchvision_resnet50.yaml")))
    # the block outputs (the ReLU after each residual Sum) in order, against the zoo's
    sums = [name for name, node in graph.nodes.items() if node.op == "add"]
    relus = [next(n for n, node in graph.nodes.items() if node.inputs == (s,)) for s in sums]
    zoo_blocks = [name for name in spec.layers if re.fullmatch(r"layer\d/block_\d+", name)]  # the blocks' outputs
    assert len(relus) == len(zoo_blocks) == 16
    for mine, theirs in zip(relus, zoo_blocks):
        assert figures(analysis.layers[mine]) == figures(spec.layers[theirs]), (mine, theirs)
    stem = [name for name, node in graph.nodes.items() if node.op == "maxpool"][0]
    assert figures(analysis.layers[stem]) == figures(spec.layers["maxpool"])


def test_vgg19_shares_vgg16s_first_two_blocks(imported):
    graph, analysis = imported(ONNX / "light" / "light_vgg19.onnx")
    pools = [name for name, node in graph.nodes.items() if node.op == "maxpool"]
    assert len(pools) == 5 and graph.outputs == (pools[-1],)
    for zoo, names in (("torchvision_vgg16.yaml", ["features/pool1", "features/pool2"]),
                       ("vgg_16.yaml", ["vgg_16/pool1", "vgg_16/pool2"])):  # fmt: skip
        spec = analyze(load_spec(str(ZOO / zoo)))
        for mine, theirs in zip(pools, names):
            assert figures(analysis.layers[mine]) == figures(spec.layers[theirs])
    # pool5 by the recurrences: 2 convs at j=1, 2 at j=2, 4 at j=4, 4 at j=8, 4 at j=16, pools adding j each
    assert figures(analysis.layers[pools[-1]]) == ((7, 7), [268, 268], [32, 32], [118, 118])
    assert analysis.params == 143_667_240  # torchvision's published VGG-19 count


def test_inception_v2_matches_tf_slim_receptive_field(imported):
    graph, analysis = imported(ONNX / "light" / "light_inception_v2.onnx")
    spec = analyze(load_spec(str(ZOO / "inception_v2.yaml")))
    mine = analysis.layers[graph.outputs[0]]
    assert mine.output_size == spec.output.output_size == (7, 7)
    assert mine.axis_values("receptive_field") == spec.output.axis_values("receptive_field") == [699, 699]
    assert mine.axis_values("effective_stride") == [32, 32]
    # Caffe pads symmetrically, TF-slim's SAME puts the odd pixel after: the origin differs
    assert mine.axis_values("effective_padding") == [343, 343] != spec.output.axis_values("effective_padding")


@pytest.mark.parametrize(
    "model, params, output, size",
    [
        ("light_bvlc_alexnet.onnx", 60_965_224, "n14", (6, 6)),  # Caffe AlexNet (groups of 2)
        ("light_squeezenet.onnx", 1_235_496, "n63", (13, 13)),  # = torchvision squeezenet1_1
        ("light_inception_v1.onnx", 6_998_552, "n137", (6, 6)),  # BVLC GoogLeNet without the aux heads
    ],
)
def test_published_parameter_counts_and_default_outputs(model, params, output, size, imported):
    graph, analysis = imported(ONNX / "light" / model)
    assert analysis.params == params
    assert graph.outputs == (output,)
    assert analysis.layers[output].output_size == size
    after = list(graph.nodes)[list(graph.nodes).index(output) + 1 :]
    # only the head follows: the Reshape before the Gemm (an identity of the map) and nodes of size 1 x 1
    flatten = {name for name in after if graph.nodes[name].inputs == (output,) and graph.nodes[name].op == "identity"}
    assert after and all(analysis.layers[name].output_size == (1, 1) for name in after if name not in flatten)


def test_shufflenet_channel_shuffle_is_identity(imported):
    graph, analysis = imported(ONNX / "light" / "light_shufflenet.onnx")
    model = onnx.load(str(ONNX / "light" / "light_shufflenet.onnx"))
    transposes = [n.name for n in model.graph.node if n.op_type == "Transpose"]
    assert len(transposes) == 16
    for name in transposes:
        node = graph.nodes[name]
        assert node.op == "identity"
        assert analysis.layers[name].axes == analysis.layers[node.inputs[0]].axes
    with pytest.raises(SpecError) as info:
        import_onnx(str(ONNX / "light" / "light_shufflenet.onnx"), input_size=(256, 256))
    assert "declared input size" in info.value.hint  # its Reshapes hard-code 224's sizes


def test_input_size_override(imported):
    # DenseNet's head (global pool, 1x1 conv) runs at any size
    graph, analysis = imported(ONNX / "light" / "light_densenet121.onnx", (320, 256))
    assert graph.input_size == (320, 256)
    assert analysis.layers[graph.outputs[0]].output_size == (10, 8)
    # ResNet-50's head (7x7 average pool, Reshape to 2048 features) does not: import at 224, analyze at 320
    with pytest.raises(SpecError) as info:
        import_onnx(str(ONNX / "light" / "light_resnet50.onnx"), input_size=(320, 256))
    assert "declared input size" in info.value.hint
    graph, _ = imported(ONNX / "light" / "light_resnet50.onnx")
    assert analyze(graph, (320, 256)).layers[graph.outputs[0]].output_size == (10, 8)
    with pytest.raises(SpecError) as info:
        import_onnx(str(ONNX / "light" / "light_resnet50.onnx"), input_size=(224, 224, 3))
    assert "2 positive" in info.value.hint
    # one size means the same on every spatial axis
    assert import_onnx(str(ONNX / "light" / "light_resnet50.onnx"), input_size=(224,)).input_size == (224, 224)


def test_round_trip_through_yaml(imported):
    from rfdesign.io.yaml_export import dump, spec_dict

    for model in ("light_shufflenet.onnx", "light_inception_v1.onnx"):
        graph, analysis = imported(ONNX / "light" / model)
        again = analyze(parse_spec(dump(spec_dict(graph)), "roundtrip.yaml"))
        assert again.params == analysis.params
        assert [figures(again.layers[n]) for n in graph.nodes] == [figures(analysis.layers[n]) for n in graph.nodes]


# -- hand-built graphs: attribute semantics -----------------------------------------------------------------


def _model(tmp_path, nodes, shape=(1, 3, 7, 7), inits=(), opset=13, out_rank=None, name="g"):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))
    y = helper.make_tensor_value_info(nodes[-1].output[0], TensorProto.FLOAT, None)
    graph = helper.make_graph(nodes, name, [x], [y], initializer=list(inits))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    path = tmp_path / f"{name}.onnx"
    onnx.save(model, str(path))
    return str(path)


def _weight(name, shape):
    count = 1
    for d in shape:
        count *= d
    return helper.make_tensor(name, TensorProto.FLOAT, list(shape), [0.0] * count)


def _ints(name, values):
    return helper.make_tensor(name, TensorProto.INT64, [len(values)], list(values))


def _floats(name, values):
    return helper.make_tensor(name, TensorProto.FLOAT, [len(values)], list(values))


@pytest.mark.parametrize(
    "auto_pad, size, padding",
    [
        # n=7, k=4, s=2: out ceil(7/2) = 4, total padding 3 * 2 + 4 - 7 = 3
        ("SAME_UPPER", (4, 4), [1, 1]),  # (1, 2): the odd pixel after
        ("SAME_LOWER", (4, 4), [2, 2]),  # (2, 1): the odd pixel before
        ("VALID", (2, 2), [0, 0]),  # (7 - 4) // 2 + 1
        ("NOTSET", (3, 3), [1, 1]),  # pads 1, 1: (7 + 2 - 4) // 2 + 1
    ],
)
def test_conv_auto_pad(tmp_path, auto_pad, size, padding):
    attrs = {"kernel_shape": [4, 4], "strides": [2, 2], "auto_pad": auto_pad}
    if auto_pad == "NOTSET":
        attrs["pads"] = [1, 1, 1, 1]
    conv = helper.make_node("Conv", ["x", "w"], ["y"], name="conv", **attrs)
    graph = import_onnx(_model(tmp_path, [conv], inits=[_weight("w", (5, 3, 4, 4))]))
    layer = analyze(graph).layers["conv"]
    assert layer.output_size == size and layer.channels == 5
    assert layer.axis_values("effective_padding") == padding
    assert layer.axis_values("receptive_field") == [4, 4]
    assert graph.nodes["conv"].attrs.padding == ("same" if auto_pad == "SAME_UPPER" else graph.nodes["conv"].attrs.padding)
    assert analyze(graph, (9, 9)).layers["conv"].output_size[0] in (5, 3, 4)


def test_pool_same_upper_follows_the_input_size(tmp_path):
    pool = helper.make_node("MaxPool", ["x"], ["y"], name="pool", kernel_shape=[3, 3], strides=[2, 2],
                            auto_pad="SAME_UPPER")  # fmt: skip
    graph = import_onnx(_model(tmp_path, [pool], shape=(1, 3, 8, 8)))
    assert graph.nodes["pool"].attrs.padding == "same" and graph.nodes["pool"].attrs.stride == (2, 2)
    assert analyze(graph).layers["pool"].output_size == (4, 4)
    assert analyze(graph, (11, 11)).layers["pool"].output_size == (6, 6)


def test_pool_ceil_mode(tmp_path):
    # k3 s2 on 8 with ceil_mode: ceil((8 - 3) / 2) + 1 = 4 (the last window starts inside the input)
    pool = helper.make_node("MaxPool", ["x"], ["y"], name="pool", kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)
    layer = analyze(import_onnx(_model(tmp_path, [pool], shape=(1, 3, 8, 8)))).layers["pool"]
    assert layer.output_size == (4, 4)


def test_pad_constant_input_and_negative_pads(tmp_path):
    nodes = [
        helper.make_node("Pad", ["x", "p"], ["a"], name="pad"),  # H: (1, 2), W: (0, 3)
        helper.make_node("Pad", ["a", "q"], ["y"], name="crop"),  # H: (-1, 0), W: (0, -2)
    ]
    inits = [_ints("p", [0, 0, 1, 0, 0, 0, 2, 3]), _ints("q", [0, 0, -1, 0, 0, 0, 0, -2])]
    graph = import_onnx(_model(tmp_path, nodes, inits=inits, opset=13))
    analysis = analyze(graph)
    assert graph.nodes["pad"].op == "pad" and graph.nodes["pad"].attrs.padding == ((1, 2), (0, 3))
    assert graph.nodes["crop"].op == "crop" and graph.nodes["crop"].attrs.crop == ((1, 0), (0, 2))
    assert analysis.layers["pad"].output_size == (10, 10)
    assert analysis.layers["crop"].output_size == (9, 8)
    assert analysis.layers["crop"].axis_values("effective_padding") == [0, 0]
    # opset 2: pads as an attribute; channel padding is refused
    old = helper.make_node("Pad", ["x"], ["y"], name="pad", pads=[0, 1, 0, 0, 0, 0, 0, 0])
    with pytest.raises(SpecError) as info:
        import_onnx(_model(tmp_path, [old], opset=9, name="old"))
    assert "channel axis" in info.value.message


def _resize(tmp_path, mode, transform, nearest="round_prefer_floor", scales=None, sizes=None, shape=(1, 3, 5, 5)):
    inputs = ["x", "r", "s" if scales else "", "z" if sizes else ""]
    attrs = {"mode": mode, "coordinate_transformation_mode": transform, "nearest_mode": nearest}
    node = helper.make_node("Resize", inputs, ["y"], name="up", **attrs)
    inits = [_floats("r", [])] + ([_floats("s", scales)] if scales else []) + ([_ints("z", sizes)] if sizes else [])
    opset = 11 if transform == "tf_half_pixel_for_nn" else 13  # a mode of opsets 11 and 12 only
    return _model(tmp_path, [node], shape=shape, inits=inits, opset=opset, name=f"{mode}_{transform}")


@pytest.mark.parametrize(
    "mode, transform, nearest, scales, sizes, expect",
    [
        ("nearest", "half_pixel", "round_prefer_floor", [1, 1, 2, 2], None, ("factor", (2, 2), False)),
        ("nearest", "asymmetric", "floor", [1, 1, 3, 3], None, ("factor", (3, 3), False)),
        ("nearest", "tf_half_pixel_for_nn", "floor", [1, 1, 2, 2], None, ("factor", (2, 2), False)),
        ("nearest", "asymmetric", "floor", None, [1, 3, 8, 8], ("size", (8, 8), False)),  # floor(v * 5 / 8)
        ("linear", "half_pixel", "round_prefer_floor", [1, 1, 2, 2], None, ("factor", (2, 2), False)),
        ("linear", "align_corners", "round_prefer_floor", None, [1, 3, 9, 9], ("factor", (9, 9), True)),
        ("linear", "pytorch_half_pixel", "round_prefer_floor", None, [1, 3, 8, 8], ("size", (8, 8), False)),
    ],
)
def test_resize_modes_read_the_same_pixels(tmp_path, mode, transform, nearest, scales, sizes, expect):
    graph = import_onnx(_resize(tmp_path, mode, transform, nearest, scales, sizes))
    node = graph.nodes["up"]
    kind, values, align = expect
    out = analyze(graph).layers["up"].output_size
    if kind == "factor" and values != (9, 9):
        assert node.attrs.factor == values and out == tuple(5 * v for v in values)
    else:
        assert out == values
    assert node.attrs.mode == ("nearest" if mode == "nearest" else "linear") and node.attrs.align_corners is align


@pytest.mark.parametrize(
    "mode, transform, nearest, scales, sizes",
    [
        ("nearest", "half_pixel", "round_prefer_floor", [1, 1, 1, 2], None),
        ("nearest", "pytorch_half_pixel", "round_prefer_ceil", [1, 1, 1, 3], None),
        ("nearest", "asymmetric", "floor", None, [1, 1, 1, 8]),
        ("nearest", "asymmetric", "floor", None, [1, 1, 1, 3]),  # downsampling 5 -> 3
        ("linear", "half_pixel", "floor", [1, 1, 1, 2], None),
        ("linear", "half_pixel", "floor", [1, 1, 1, 4], None),
        ("linear", "align_corners", "floor", None, [1, 1, 1, 9]),
        ("linear", "align_corners", "floor", None, [1, 1, 1, 12]),
        ("linear", "pytorch_half_pixel", "floor", None, [1, 1, 1, 8]),
    ],
)
def test_resize_boxes_are_the_pixels_onnx_reads(tmp_path, mode, transform, nearest, scales, sizes):
    """Each output pixel's box is exactly the input pixels it depends on in ONNX's reference implementation."""
    import numpy as np
    from onnx.reference import ReferenceEvaluator

    n = 5
    path = _resize(tmp_path, mode, transform, nearest, scales, sizes, shape=(1, 1, 1, n))
    layer = analyze(import_onnx(path)).output
    evaluator = ReferenceEvaluator(path)
    reads: dict[int, list[int]] = {}
    for pixel in range(n):
        x = np.zeros((1, 1, 1, n), np.float32)
        x[..., pixel] = 1.0
        y = evaluator.run(None, {"x": x})[0][0, 0, 0]
        for v in np.nonzero(y)[0]:
            reads.setdefault(int(v), []).append(pixel)
    assert layer.output_size == (1, len(y))
    for v in range(len(y)):
        first, last = unit_box(layer, (0, v))[1]
        assert (max(first, 0), min(last, n - 1)) == (min(reads[v]), max(reads[v])), v


@pytest.mark.parametrize(
    "mode, transform, nearest, words",
    [
        ("nearest", "asymmetric", "round_prefer_ceil", "asymmetric"),  # v=1 reads pixel 1, not floor(1/2)
        ("linear", "asymmetric", "floor", "asymmetric"),
        ("cubic", "half_pixel", "floor", "cubic"),
        ("linear", "tf_crop_and_resize", "floor", "tf_crop_and_resize"),
    ],
)
def test_resize_modes_rfdesign_cannot_express_are_refused(tmp_path, mode, transform, nearest, words):
    with pytest.raises(SpecError) as info:
        import_onnx(_resize(tmp_path, mode, transform, nearest, [1, 1, 2, 2]))
    assert words in info.value.message and "Resize node 'up'" in info.value.message


def test_upsample_opset9(tmp_path):
    node = helper.make_node("Upsample", ["x", "s"], ["y"], name="up", mode="nearest")
    graph = import_onnx(_model(tmp_path, [node], inits=[_floats("s", [1, 1, 2, 2])], opset=9))
    assert graph.nodes["up"].attrs.factor == (2, 2)
    assert analyze(graph).layers["up"].output_size == (14, 14)


def test_dense_head_matmul_add_is_one_linear_with_bias(tmp_path):
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="conv", kernel_shape=[3, 3]),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("Flatten", ["r"], ["f"], name="flatten", axis=1),
        helper.make_node("MatMul", ["f", "m"], ["mm"], name="fc"),
        helper.make_node("Add", ["mm", "b"], ["y"], name="bias"),
    ]
    inits = [_weight("w", (4, 3, 3, 3)), _weight("m", (4 * 5 * 5, 10)), _weight("b", (10,))]
    graph = import_onnx(_model(tmp_path, nodes, inits=inits))
    analysis = analyze(graph)
    assert graph.nodes["fc"].op == "linear" and graph.nodes["fc"].attrs.bias and graph.nodes["fc"].attrs.out == 10
    assert analysis.params == 4 * 27 + 100 * 10 + 10  # the conv has no bias input
    assert graph.outputs == ("relu",)  # the last feature map before Flatten
    assert analysis.layers["fc"].axis_values("receptive_field") == [7, 7]


def test_global_reduce_split_depth_to_space(tmp_path):
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="conv", kernel_shape=[1, 1]),
        helper.make_node("Split", ["c", "parts"], ["a", "b"], name="split", axis=1),
        helper.make_node("DepthToSpace", ["b"], ["d"], name="d2s", blocksize=2),
        helper.make_node("SpaceToDepth", ["d"], ["s"], name="s2d", blocksize=2),
        helper.make_node("Concat", ["a", "s"], ["cat"], name="cat", axis=1),
        helper.make_node("ReduceMean", ["cat"], ["y"], name="mean", axes=[2, 3], keepdims=0),
    ]
    inits = [_weight("w", (12, 3, 1, 1)), _ints("parts", [4, 8])]
    graph = import_onnx(_model(tmp_path, nodes, shape=(1, 3, 6, 6), inits=inits))
    analysis = analyze(graph)
    assert [graph.nodes[n].op for n in ("split/0", "split/1", "d2s", "s2d", "cat", "mean")] == [
        "select", "select", "depth_to_space", "space_to_depth", "concat", "global_pool",
    ]  # fmt: skip
    assert (graph.nodes["split/1"].attrs.start, graph.nodes["split/1"].attrs.stop) == (4, 12)
    assert analysis.layers["d2s"].output_size == (12, 12) and analysis.layers["d2s"].channels == 2
    assert analysis.layers["cat"].channels == 12
    assert analysis.layers["mean"].output_size == (1, 1)
    assert graph.outputs == ("cat",)


def reference_shape(path, shape):
    """The output shape ONNX's reference implementation computes (an oracle independent of the importer)."""
    import numpy as np
    from onnx.reference import ReferenceEvaluator

    return ReferenceEvaluator(str(path)).run(None, {"x": np.zeros(shape, np.float32)})[0].shape


@pytest.mark.parametrize("n, expected", [(5, 3), (6, 4), (7, 4)])
def test_pool_ceil_mode_follows_the_reference_implementation(tmp_path, n, expected):
    # k2 s2 pads (1, 1): the plain ceil formula gives 4, 4, 5; a last window starting in the right padding
    # is dropped (PyTorch, and ONNX's reference implementation; ONNX shape inference still says 4 for n = 5)
    pool = helper.make_node("MaxPool", ["x"], ["y"], name="pool", kernel_shape=[2], strides=[2], pads=[1, 1],
                            ceil_mode=1)  # fmt: skip
    path = _model(tmp_path, [pool], shape=(1, 1, n), opset=19)
    assert analyze(import_onnx(path)).output.output_size == (expected,) == tuple(reference_shape(path, (1, 1, n))[2:])


@pytest.mark.parametrize(
    "attrs",
    [
        {"strides": [2, 2], "output_shape": [15, 16]},
        {"strides": [2, 2], "auto_pad": "SAME_UPPER"},
        {"strides": [2, 2], "auto_pad": "SAME_LOWER"},
        {"strides": [3, 2], "pads": [1, 0, 2, 1], "output_padding": [1, 0]},
        {"strides": [2, 2], "group": 3},
    ],
    ids=["output_shape", "same_upper", "same_lower", "pads", "groups"],
)
def test_conv_transpose_sizes_follow_the_reference_implementation(tmp_path, attrs):
    group = attrs.get("group", 1)
    node = helper.make_node("ConvTranspose", ["x", "w"], ["y"], name="up", kernel_shape=[3, 3], **attrs)
    path = _model(tmp_path, [node], inits=[_weight("w", (3, 6 // group, 3, 3))])
    analysis = analyze(import_onnx(path))
    # the reference implementation cannot run a grouped ConvTranspose: (7 - 1) * 2 + 3 = 15 by hand
    expected = (1, 6, 15, 15) if group > 1 else reference_shape(path, (1, 3, 7, 7))
    assert analysis.output.output_size == tuple(expected[2:]) and analysis.output.channels == expected[1]
    assert analysis.params == 3 * (6 // group) * 9


def test_conv_auto_pad_sizes_follow_the_reference_implementation(tmp_path):
    for auto_pad in ("SAME_UPPER", "SAME_LOWER", "VALID"):
        conv = helper.make_node("Conv", ["x", "w"], ["y"], name="conv", kernel_shape=[4, 3], strides=[2, 3],
                                dilations=[1, 2], auto_pad=auto_pad)  # fmt: skip
        path = _model(tmp_path, [conv], inits=[_weight("w", (2, 3, 4, 3))], shape=(1, 3, 9, 11), name=auto_pad)
        assert analyze(import_onnx(path)).output.output_size == tuple(reference_shape(path, (1, 3, 9, 11))[2:])


def test_channels_last_input(tmp_path):
    """A TensorFlow conversion: NHWC input, Transpose to NCHW, convolutions, Transpose back, ops on channels last."""
    nodes = [
        helper.make_node("Transpose", ["x"], ["t"], name="to_nchw", perm=[0, 3, 1, 2]),
        helper.make_node("Conv", ["t", "w"], ["c"], name="conv", kernel_shape=[3, 3], strides=[2, 2]),
        helper.make_node("Transpose", ["c"], ["l"], name="to_nhwc", perm=[0, 2, 3, 1]),
        helper.make_node("Softmax", ["l"], ["s"], name="softmax", axis=-1),
        helper.make_node("ReduceMean", ["s"], ["y"], name="mean", axes=[1, 2], keepdims=1),
    ]
    path = _model(tmp_path, nodes, shape=(1, 17, 17, 3), inits=[_weight("w", (5, 3, 3, 3))])
    graph = import_onnx(path)
    analysis = analyze(graph)
    assert graph.input_size == (17, 17) and graph.input_channels == 3
    assert analysis.layers["conv"].output_size == (8, 8) and analysis.layers["softmax"].channels == 5
    assert graph.nodes["mean"].op == "global_pool"
    assert graph.outputs == ("softmax",)
    assert analysis.output.axis_values("receptive_field") == [3, 3]


# -- errors ------------------------------------------------------------------------------------------------


def test_unsupported_op_names_op_and_node(tmp_path):
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="conv", kernel_shape=[1, 1]),
        helper.make_node("NonMaxSuppression", ["c", "c"], ["y"], name="x"),
    ]
    with pytest.raises(SpecError) as info:
        import_onnx(_model(tmp_path, nodes, inits=[_weight("w", (4, 3, 1, 1))]))
    assert info.value.message.startswith("unsupported ONNX op 'NonMaxSuppression' (node 'x', graph.node[")
    assert info.value.location.file.endswith("g.onnx") and info.value.hint


def test_softmax_over_space_is_refused(tmp_path):
    node = helper.make_node("Softmax", ["x"], ["y"], name="sm", axis=3)
    with pytest.raises(SpecError) as info:
        import_onnx(_model(tmp_path, [node]))
    assert "mixes positions" in info.value.message
    node = helper.make_node("Softmax", ["x"], ["y"], name="sm", axis=1)
    assert import_onnx(_model(tmp_path, [node], name="ok")).nodes["sm"].op == "identity"


def test_symbolic_input_needs_a_size(tmp_path):
    conv = helper.make_node("Conv", ["x", "w"], ["y"], name="conv", kernel_shape=[3, 3])
    path = _model(tmp_path, [conv], shape=("N", 3, "H", "W"), inits=[_weight("w", (2, 3, 3, 3))])
    with pytest.raises(SpecError) as info:
        import_onnx(path)
    assert "symbolic" in info.value.message and "input size" in info.value.hint
    graph = import_onnx(path, input_size=(32, 40))
    assert graph.input_size == (32, 40) and analyze(graph).output.output_size == (30, 38)


def test_output_override_and_unknown_name(imported):
    path = str(ONNX / "light" / "light_resnet50.onnx")
    graph = import_onnx(path, output="n3")
    assert graph.outputs[0] == "n3"
    with pytest.raises(SpecError) as info:
        import_onnx(path, output="n3x")
    assert "no layer named `n3x`" in info.value.message and info.value.hint.startswith("did you mean")


def test_bad_files(tmp_path):
    with pytest.raises(SpecError) as info:
        import_onnx(str(tmp_path / "missing.onnx"))
    assert "cannot read" in info.value.message
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x08\x07\xff\xff not a protobuf")
    with pytest.raises(SpecError) as info:
        import_onnx(str(junk))
    assert info.value.location.file == str(junk)


def test_missing_onnx_says_which_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(MissingExtraError) as info:
        import_onnx(str(ONNX / "light" / "light_resnet50.onnx"))
    assert "pip install 'rfdesign[onnx]'" in str(info.value)


# -- torch exports against the same networks written as specs -------------------------------------------


def _export(module, shape, path, opset):
    module.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kwargs = {"opset_version": opset, "do_constant_folding": False}
        try:
            torch.onnx.export(module, (torch.zeros(*shape),), str(path), dynamo=False, **kwargs)
        except TypeError:  # an older torch without the dynamo switch
            torch.onnx.export(module, (torch.zeros(*shape),), str(path), **kwargs)
    return str(path)


def _signature(analysis):
    """Every node's op and figures, independent of names and order (pass-through nodes left out)."""
    rows = []
    for layer in analysis.layers.values():
        if layer.op in ("identity",):
            continue
        rows.append((layer.op, layer.output_size, layer.channels, layer.params, *map(tuple, figures(layer)[1:])))
    return sorted(rows, key=repr)


class Mixed(_Module):
    """Stem, BN, dilated depthwise conv, SE gate, residual, channel shuffle, split, transposed conv,
    three upsamplings, concat, F.pad, slicing crop, max pool."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 16, 3, stride=2, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(16)
        self.dw = nn.Conv2d(16, 16, 3, padding=2, dilation=2, groups=16)
        self.se1, self.se2 = nn.Conv2d(16, 4, 1), nn.Conv2d(4, 16, 1)
        self.up = nn.ConvTranspose2d(8, 8, 4, stride=2, padding=1)
        self.head = nn.Conv2d(24, 12, 3, padding=1)

    def forward(self, x):
        y = F.relu(self.bn(self.stem(x)))
        z = self.dw(y)
        gate = torch.sigmoid(self.se2(F.relu(self.se1(F.adaptive_avg_pool2d(z, 1)))))
        z = z * gate + y
        n, c, h, w = z.shape
        z = z.view(n, 4, c // 4, h, w).transpose(1, 2).reshape(n, c, h, w)
        a, b = torch.chunk(z, 2, dim=1)
        near = F.interpolate(b, scale_factor=2, mode="nearest")
        bil = F.interpolate(b, scale_factor=2, mode="bilinear", align_corners=False)
        corners = F.interpolate(b, size=(2 * h, 2 * w), mode="bilinear", align_corners=True)
        t = torch.cat([self.up(a), near, bil + corners], 1)
        t = F.pad(t, (1, 2, 0, 1))[:, :, 1:, :-2]
        return F.max_pool2d(self.head(t), 2)


MIXED_SPEC = """
name: mixed
input: {size: [32, 32], channels: 3}
layers:
  - {name: stem, op: conv, out: 16, kernel: 3, stride: 2, padding: 1, bias: false}
  - {name: bn, op: batchnorm}
  - {name: relu, op: relu}
  - {name: dw, op: conv, out: 16, kernel: 3, padding: 2, dilation: 2, groups: 16}
  - {name: gap, op: global_pool}
  - {name: se1, op: conv, out: 4, kernel: 1}
  - {name: se2, op: conv, out: 16, kernel: 1}
  - {name: gated, op: mul, from: [dw, se2]}
  - {name: res, op: add, from: [gated, relu]}
  - {name: a, op: select, from: res, start: 0, stop: 8}
  - {name: b, op: select, from: res, start: 8, stop: 16}
  - {name: up, op: conv_transpose, from: a, out: 8, kernel: 4, stride: 2, padding: 1}
  - {name: near, op: upsample, from: b, factor: 2}
  - {name: bil, op: upsample, from: b, factor: 2, mode: bilinear}
  - {name: corners, op: upsample, from: b, size: [32, 32], mode: bilinear, align_corners: true}
  - {name: sum, op: add, from: [bil, corners]}
  - {name: cat, op: concat, from: [up, near, sum]}
  - {name: pad, op: pad, padding: [[0, 1], [1, 2]]}
  - {name: crop_h, op: crop, crop: [[1, 0], [0, 0]]}
  - {name: crop_w, op: crop, crop: [[0, 0], [0, 2]]}
  - {name: head, op: conv, out: 12, kernel: 3, padding: 1}
  - {name: pool, op: maxpool, kernel: 2}
"""


class Classifier(_Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 5, stride=2, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2, 1, ceil_mode=True),
            nn.Conv2d(8, 16, 3, padding=2, dilation=2), nn.ReLU(), nn.AvgPool2d(2),
        )  # fmt: skip
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(16 * 4 * 4, 32), nn.ReLU(), nn.Dropout(), nn.Linear(32, 10))

    def forward(self, x):
        return self.head(self.features(x))


CLASSIFIER_SPEC = """
name: classifier
input: {size: [30, 30], channels: 3}
layers:
  - {name: c1, op: conv, out: 8, kernel: 5, stride: 2, padding: 2}
  - {op: relu}
  - {name: p1, op: maxpool, kernel: 3, stride: 2, padding: 1, ceil_mode: true}
  - {name: c2, op: conv, out: 16, kernel: 3, padding: 2, dilation: 2}
  - {op: relu}
  - {name: p2, op: avgpool, kernel: 2}
  - {name: fc1, op: linear, out: 32}
  - {name: fc2, op: linear, out: 10}
output: p2
"""


class OneD(_Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv1d(2, 4, 5, stride=2, padding=2, dilation=3)
        self.b = nn.ConvTranspose1d(4, 4, 3, stride=2, padding=1, output_padding=1)
        self.c = nn.Conv1d(4, 4, 3)

    def forward(self, x):
        return self.c(F.avg_pool1d(self.b(F.max_pool1d(self.a(x), 3, 2, ceil_mode=True)), 2))


ONE_D_SPEC = """
name: one_d
input: {size: 64, channels: 2}
layers:
  - {op: conv, out: 4, kernel: 5, stride: 2, padding: 2, dilation: 3}
  - {op: maxpool, kernel: 3, stride: 2, ceil_mode: true}
  - {op: conv_transpose, out: 4, kernel: 3, stride: 2, padding: 1, output_padding: 1}
  - {op: avgpool, kernel: 2}
  - {op: conv, out: 4, kernel: 3}
"""


class ThreeD(_Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv3d(1, 4, (3, 5, 5), stride=(1, 2, 2), padding=(1, 2, 2))
        self.b = nn.Conv3d(4, 4, 3, padding=1)

    def forward(self, x):
        return self.b(F.max_pool3d(self.a(x), (1, 2, 2)))


THREE_D_SPEC = """
name: three_d
input: {size: [8, 16, 16], channels: 1}
layers:
  - {op: conv, out: 4, kernel: [3, 5, 5], stride: [1, 2, 2], padding: [1, 2, 2]}
  - {op: maxpool, kernel: [1, 2, 2]}
  - {op: conv, out: 4, kernel: 3, padding: 1}
"""


@needs_torch
@pytest.mark.parametrize("opset", [13, 17])
@pytest.mark.parametrize(
    "module, shape, spec",
    [
        (Mixed, (1, 3, 32, 32), MIXED_SPEC),
        (Classifier, (1, 3, 30, 30), CLASSIFIER_SPEC),
        (OneD, (1, 2, 64), ONE_D_SPEC),
        (ThreeD, (1, 1, 8, 16, 16), THREE_D_SPEC),
    ],
    ids=["mixed", "classifier", "1d", "3d"],
)
def test_torch_exports_match_hand_written_specs(tmp_path, module, shape, spec, opset):
    torch.manual_seed(0)
    path = _export(module(), shape, tmp_path / "m.onnx", opset)
    graph = import_onnx(path)
    mine, theirs = analyze(graph), analyze(parse_spec(spec, "spec.yaml"))
    assert mine.params == theirs.params == sum(p.numel() for p in module().parameters())
    assert _signature(mine) == _signature(theirs)
    assert figures(mine.output) == figures(theirs.output)
    with torch.no_grad():
        out = module().eval()(torch.zeros(*shape))
    if module is not Classifier:
        assert mine.output.output_size == tuple(out.shape[2:])


def test_mutated_models_give_spec_errors_not_tracebacks(tmp_path):
    """Random damage to small real models: every failure is a SpecError (a fixed seed keeps it reproducible)."""
    import copy
    import random

    rng = random.Random(7)
    sources = [onnx.load(str(path)) for path in MODELS if "light" not in str(path)]
    sources.append(onnx.load(str(ONNX / "light" / "light_squeezenet.onnx")))
    path = str(tmp_path / "mutated.onnx")
    for _ in range(150):
        model = copy.deepcopy(rng.choice(sources))
        nodes = model.graph.node
        node = nodes[rng.randrange(len(nodes))]
        choice = rng.randrange(4)
        if choice == 0 and node.attribute:
            attribute = rng.choice(list(node.attribute))
            if attribute.type == onnx.AttributeProto.INTS and attribute.ints:
                attribute.ints[rng.randrange(len(attribute.ints))] = rng.choice([0, -1, 2, 100])
            elif attribute.type == onnx.AttributeProto.INT:
                attribute.i = rng.choice([0, -1, 3, 100])
        elif choice == 1 and node.input:
            node.input[rng.randrange(len(node.input))] = rng.choice(["", "missing", model.graph.input[0].name])
        elif choice == 2 and model.graph.initializer:
            model.graph.initializer.remove(rng.choice(list(model.graph.initializer)))
        else:
            node.op_type = rng.choice(["Conv", "MaxPool", "Resize", "Reshape", "Gemm", "Split", "Pad", "TopK"])
        onnx.save(model, path)
        try:
            analyze(import_onnx(path))
        except SpecError as error:
            assert error.location is not None and error.location.file == path
