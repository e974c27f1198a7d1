"""Darknet cfg import, checked against an independent cfg walker written here.

The walker shares no code with :mod:`rfdesign.io.darknet` or the engine. It
reads the cfg itself and follows Darknet's C sources layer by layer:

* output sizes with Darknet's own formulas (``convolutional_out_height``,
  ``make_maxpool_layer``, ``local_out_height`` ...);
* the Distill recurrences (Araujo et al. 2019): ``r += (k - 1) * d * j``,
  ``j *= s``, upsampling divides ``j``, and merges (route, shortcut) take the
  max over paths;
* an exact per-unit map: for every layer and axis, output unit ``u`` sees
  input pixels ``[lo(u), hi(u)]`` where ``lo``/``hi`` are periodic-affine
  (``lo(u + P) = lo(u) + J``), so a table of ``P`` values describes all units.
  Merges take the union (the largest extent over units is the receptive
  field, which exceeds the Distill max over paths when branches are not
  centred on each other, e.g. after nearest upsampling);
* parameter counts as PyTorch counts the equivalent modules (conv weights,
  plus a bias, or plus scale and shift when batch-normalised).

For every fixture, each head's (or the classifier output's) receptive field,
effective stride and output size must equal the walker's exact figures, and
the Distill receptive field must not exceed them.
"""

from __future__ import annotations

import pathlib
import time
from dataclasses import dataclass
from fractions import Fraction
from math import gcd

import pytest

from conftest import FIXTURES, ZOO
from rfdesign.errors import SpecError
from rfdesign.io.darknet import import_darknet
from rfdesign.rf import analyze
from rfdesign.spec import load_spec
from rfdesign.spec.load import parse_spec

DARKNET = FIXTURES / "darknet"
CFGS = sorted(DARKNET.glob("*/*.cfg"))


# -- the independent walker ----------------------------------------------------------------------------


def read_cfg(path: pathlib.Path) -> list[tuple[str, dict[str, str]]]:
    sections: list[tuple[str, dict[str, str]]] = []
    for raw in path.read_text().splitlines():
        line = "".join(raw.split())
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            sections.append((line, {}))
        elif "=" in line:
            key, value = line.split("=", 1)
            sections[-1][1].setdefault(key, value.split("#")[0])
    return sections


@dataclass
class Axis:
    """Exact per-unit map of one axis: unit u sees [lo(u), hi(u)]; lo(u + period) = lo(u) + jump."""

    period: int
    jump: int
    lo: list[int]
    hi: list[int]

    def lo_at(self, u: int) -> int:
        q, r = divmod(u, self.period)
        return self.lo[r] + q * self.jump

    def hi_at(self, u: int) -> int:
        q, r = divmod(u, self.period)
        return self.hi[r] + q * self.jump

    def window(self, stride: int, before: int, span: int) -> Axis:
        """Unit u reads units u*stride - before ... u*stride - before + span - 1."""
        period = self.period // gcd(self.period, stride)
        jump = self.jump * period * stride // self.period
        lo = [self.lo_at(v * stride - before) for v in range(period)]
        hi = [self.hi_at(v * stride - before + span - 1) for v in range(period)]
        return Axis(period, jump, lo, hi)

    def upsample(self, factor: int) -> Axis:
        period = self.period * factor
        return Axis(period, self.jump, [self.lo_at(v // factor) for v in range(period)],
                    [self.hi_at(v // factor) for v in range(period)])  # fmt: skip

    def whole(self, n: int) -> Axis:
        """One unit that sees all n units (a global pool: a window of n with stride n)."""
        return self.window(n, 0, n)

    def rf(self, n: int) -> int:
        return max(self.hi_at(u) - self.lo_at(u) + 1 for u in range(min(self.period, n)))

    @property
    def stride(self) -> Fraction:
        return Fraction(self.jump, self.period)


def union(axes: list[Axis]) -> Axis:
    period = 1
    for a in axes:
        period = period * a.period // gcd(period, a.period)
    jumps = {a.jump * period // a.period for a in axes}
    assert len(jumps) == 1, "merged branches have different strides"
    lo = [min(a.lo_at(v) for a in axes) for v in range(period)]
    hi = [max(a.hi_at(v) for a in axes) for v in range(period)]
    return Axis(period, jumps.pop(), lo, hi)


@dataclass
class Layer:
    h: int
    w: int
    c: int
    axes: tuple[Axis, Axis]
    r: tuple[Fraction, Fraction]  # Distill receptive field (max over paths)
    j: tuple[Fraction, Fraction]  # Distill jump


def walk(path: pathlib.Path, size: tuple[int, int] | None = None) -> tuple[list[Layer], list[int], int]:
    """Layers, the indices of the detection heads' inputs, and the parameter count."""
    sections = read_cfg(path)
    net = sections[0][1]
    h, w = size or (int(net["height"]), int(net["width"]))
    c = int(net["channels"])
    start = Axis(1, 1, [0], [0])
    prev = Layer(h, w, c, (start, start), (Fraction(1), Fraction(1)), (Fraction(1), Fraction(1)))
    layers: list[Layer] = []
    heads: list[int] = []
    params = 0

    def ref(i: int, text: str) -> Layer:
        k = int(text)
        return layers[i + k] if k < 0 else layers[k]

    for i, (kind, o) in enumerate(sections[1:]):
        def get(key: str, default: int) -> int:
            return int(o[key]) if key in o else default

        n = (prev.h, prev.w)
        if kind in ("[convolutional]", "[local]"):
            k, f = get("size", 1), get("filters", 1)
            s = get("stride", 1)
            sy, sx = get("stride_y", s), get("stride_x", s)
            d = get("dilation", 1) if k > 1 and kind != "[local]" else 1
            groups = get("groups", 1)
            pad = k // 2 if get("pad", 0) else get("padding", 0)
            if kind == "[local]":
                out = [((m - 1) if get("pad", 0) else (m - k)) // st + 1 for m, st in zip(n, (sy, sx))]
            else:
                out = [(m + 2 * pad - k) // st + 1 for m, st in zip(n, (sy, sx))]
            span = d * (k - 1) + 1
            axes = tuple(a.window(st, pad * d, span) for a, st in zip(prev.axes, (sy, sx)))
            r = tuple(rr + (span - 1) * jj for rr, jj in zip(prev.r, prev.j))
            j = tuple(jj * st for jj, st in zip(prev.j, (sy, sx)))
            bn = get("batch_normalize", 0)
            params += prev.c // groups * k * k * f + (2 * f if bn else f)
            layer = Layer(out[0], out[1], f, axes, r, j)  # type: ignore[arg-type]
        elif kind == "[maxpool]" or kind == "[local_avgpool]":
            s = get("stride", 1)
            sy, sx = get("stride_y", s), get("stride_x", s)
            k = get("size", s)
            padding = get("padding", k - 1)
            if get("maxpool_depth", 0):
                layer = Layer(prev.h, prev.w, get("out_channels", 1), prev.axes, prev.r, prev.j)
            else:
                out = [(m + padding - k) // st + 1 for m, st in zip(n, (sy, sx))]
                axes = tuple(a.window(st, padding // 2, k) for a, st in zip(prev.axes, (sy, sx)))
                r = tuple(rr + (k - 1) * jj for rr, jj in zip(prev.r, prev.j))
                j = tuple(jj * st for jj, st in zip(prev.j, (sy, sx)))
                layer = Layer(out[0], out[1], prev.c, axes, r, j)  # type: ignore[arg-type]
        elif kind in ("[avgpool]", "[connected]"):
            axes = tuple(a.whole(m) for a, m in zip(prev.axes, n))
            r = tuple(rr + (m - 1) * jj for rr, jj, m in zip(prev.r, prev.j, n))
            c_out = prev.c
            if kind == "[connected]":
                c_out = get("output", 1)
                bn = get("batch_normalize", 0)
                params += prev.h * prev.w * prev.c * c_out + (2 * c_out if bn else c_out)
            j = tuple(jj * m for jj, m in zip(prev.j, n))
            layer = Layer(1, 1, c_out, axes, r, j)  # type: ignore[arg-type]
        elif kind == "[route]":
            srcs = [ref(i, t) for t in o["layers"].split(",")]
            groups = get("groups", 1)
            layer = Layer(
                srcs[0].h,
                srcs[0].w,
                sum(src.c // groups for src in srcs),
                (union([s_.axes[0] for s_ in srcs]), union([s_.axes[1] for s_ in srcs])),
                (max(s_.r[0] for s_ in srcs), max(s_.r[1] for s_ in srcs)),
                (max(s_.j[0] for s_ in srcs), max(s_.j[1] for s_ in srcs)),
            )
        elif kind == "[shortcut]":
            srcs = [prev]
            for t in o["from"].split(","):
                src = ref(i, t)
                step = src.w // prev.w
                if step > 1:  # pjreddie's shortcut_cpu samples every step-th pixel of the larger input
                    src = Layer(prev.h, prev.w, src.c, tuple(a.window(step, 0, 1) for a in src.axes), src.r,
                                tuple(jj * step for jj in src.j))  # type: ignore[arg-type]  # fmt: skip
                srcs.append(src)
            layer = Layer(
                prev.h,
                prev.w,
                prev.c,
                (union([s_.axes[0] for s_ in srcs]), union([s_.axes[1] for s_ in srcs])),
                (max(s_.r[0] for s_ in srcs), max(s_.r[1] for s_ in srcs)),
                (max(s_.j[0] for s_ in srcs), max(s_.j[1] for s_ in srcs)),
            )
        elif kind == "[scale_channels]":  # the 1x1 previous layer is a global gate; the map is `from`
            src = ref(i, o["from"])
            layer = Layer(src.h, src.w, src.c, src.axes, src.r, src.j)
        elif kind == "[sam]":
            src = ref(i, o["from"])
            layer = Layer(src.h, src.w, src.c, tuple(union([a, b]) for a, b in zip(src.axes, prev.axes)),
                          tuple(max(a, b) for a, b in zip(src.r, prev.r)), src.j)  # type: ignore[arg-type]  # fmt: skip
        elif kind == "[upsample]":
            f = get("stride", 2)
            assert f > 0
            layer = Layer(prev.h * f, prev.w * f, prev.c, tuple(a.upsample(f) for a in prev.axes), prev.r,
                          tuple(jj / f for jj in prev.j))  # type: ignore[arg-type]  # fmt: skip
        elif kind in ("[reorg]", "[reorg3d]"):
            s = get("stride", 1)
            layer = Layer(prev.h // s, prev.w // s, prev.c * s * s, tuple(a.window(s, 0, s) for a in prev.axes),
                          tuple(rr + (s - 1) * jj for rr, jj in zip(prev.r, prev.j)),
                          tuple(jj * s for jj in prev.j))  # type: ignore[arg-type]  # fmt: skip
        elif kind == "[crop]":
            ch, cw = get("crop_height", 1), get("crop_width", 1)
            dh, dw = (prev.h - ch) // 2, (prev.w - cw) // 2
            layer = Layer(ch, cw, prev.c, (prev.axes[0].window(1, -dh, 1), prev.axes[1].window(1, -dw, 1)), prev.r,
                          prev.j)  # fmt: skip
        else:
            if kind in ("[yolo]", "[region]", "[detection]"):
                heads.append(i - 1)
            layer = Layer(prev.h, prev.w, prev.c, prev.axes, prev.r, prev.j)
        layers.append(layer)
        prev = layer
    return layers, heads, params


def expected_outputs(path: pathlib.Path, size: tuple[int, int] | None = None) -> list[tuple[int, Layer]]:
    layers, heads, _ = walk(path, size)
    if heads:
        return [(i, layers[i]) for i in heads]
    i = len(layers) - 1
    while layers[i].h == 1 and layers[i].w == 1:  # walk back over the global pool / dense head
        i -= 1
    return [(i, layers[i])]


# -- every fixture -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def imported():
    cache = {}

    def get(path: pathlib.Path, size: tuple[int, int] | None = None):
        key = (path, size)
        if key not in cache:
            graph = import_darknet(str(path), input_size=size)
            cache[key] = (graph, analyze(graph))
        return cache[key]

    return get


def _id(path: pathlib.Path) -> str:
    return f"{path.parent.name}/{path.name}"


@pytest.mark.parametrize("path", CFGS, ids=_id)
def test_heads_match_the_independent_walker(path, imported):
    graph, analysis = imported(path)
    expected = expected_outputs(path)
    assert len(graph.outputs) == len(expected)
    for name, (index, layer) in zip(graph.outputs, expected):
        assert name.endswith(f"_{index}"), (name, index)  # the head's input layer, by Darknet's index
        result = analysis.layers[name]
        assert result.output_size == (layer.h, layer.w)
        assert result.channels == layer.c
        n = (layer.h, layer.w)
        assert result.axis_values("receptive_field") == [a.rf(m) for a, m in zip(layer.axes, n)]
        assert result.axis_values("effective_stride") == [a.stride for a in layer.axes]
        assert result.axis_values("effective_stride") == list(layer.j)
        box = (layer.axes[0].lo_at(0), layer.axes[0].hi_at(0))
        assert result.axes[0].box == box


@pytest.mark.parametrize("path", CFGS, ids=_id)
def test_every_layer_size_and_parameter_count(path, imported):
    graph, analysis = imported(path)
    layers, _, params = walk(path)
    for index, layer in enumerate(layers):
        names = [n for n in graph.nodes if n.rsplit("_", 1)[-1] == str(index) and "/" not in n]
        assert len(names) == 1, (index, names)
        result = analysis.layers[names[0]]
        assert result.output_size == (layer.h, layer.w), names[0]
        assert result.channels == layer.c, names[0]
    assert analysis.params == params


NO_UPSAMPLING = [path for path in CFGS if "[upsample]" not in {section for section, _ in read_cfg(path)}]


@pytest.mark.parametrize("path", NO_UPSAMPLING, ids=_id)
def test_without_upsampling_the_distill_recurrences_agree(path, imported):
    """Without upsampling every unit of a layer sees a region of the same size, centred alike on every path,
    so the Distill recurrences (max over paths) give the receptive field exactly.

    With nearest upsampling they do not: neighbouring units see regions of different sizes and branches are
    off-centre, so the union's extent differs (YOLOv3's stride-8 head: 981 exact, 965 by the recurrences).
    """
    graph, analysis = imported(path)
    for name, (_, layer) in zip(graph.outputs, expected_outputs(path)):
        assert analysis.layers[name].axis_values("receptive_field") == [int(r) for r in layer.r]
        assert analysis.layers[name].axis_values("effective_stride") == [int(j) for j in layer.j]


def test_upsampling_heads_differ_from_distill_where_expected(imported):
    path = DARKNET / "pjreddie" / "yolov3.cfg"
    graph, analysis = imported(path, (416, 416))
    distill = [int(layer.r[0]) for _, layer in expected_outputs(path, (416, 416))]
    assert distill == [917, 949, 965]
    assert [analysis.layers[o].axis_values("receptive_field")[0] for o in graph.outputs] == [917, 949, 981]


# -- known figures ---------------------------------------------------------------------------------------


def test_yolov3_heads_at_416(imported):
    for repo in ("pjreddie", "alexeyab"):
        graph, analysis = imported(DARKNET / repo / "yolov3.cfg", (416, 416))
        assert graph.outputs == ("conv_81", "conv_93", "conv_105")
        figures = [
            (analysis.layers[o].output_size, analysis.layers[o].axis_values("effective_stride")) for o in graph.outputs
        ]
        assert figures == [((13, 13), [32, 32]), ((26, 26), [16, 16]), ((52, 52), [8, 8])]
        assert analysis.params == 61_949_149  # the published YOLOv3 (COCO, 80 classes) parameter count
        for o in graph.outputs:
            assert analysis.layers[o].channels == 255
            assert graph.nodes[o].op == "conv" and graph.nodes[o].attrs.bias  # the head conv has no batch norm


def test_pjreddie_cfg_size_and_override(imported):
    graph, analysis = imported(DARKNET / "pjreddie" / "yolov3.cfg")
    assert graph.input_size == (608, 608)
    assert [analysis.layers[o].output_size for o in graph.outputs] == [(19, 19), (38, 38), (76, 76)]
    graph2, analysis2 = imported(DARKNET / "pjreddie" / "yolov3.cfg", (320, 416))
    assert graph2.input_size == (320, 416)
    assert [analysis2.layers[o].output_size for o in graph2.outputs] == [(10, 13), (20, 26), (40, 52)]


def test_vgg16_matches_the_torchvision_zoo_spec(imported):
    graph, analysis = imported(DARKNET / "pjreddie" / "vgg-16.cfg")
    zoo = analyze(load_spec(str(ZOO / "torchvision_vgg16.yaml")))
    mine, theirs = analysis.layers[graph.outputs[0]], zoo.output
    assert graph.outputs == ("maxpool_18",)
    assert mine.output_size == theirs.output_size == (7, 7)
    assert mine.axis_values("receptive_field") == theirs.axis_values("receptive_field") == [212, 212]
    assert mine.axis_values("effective_stride") == theirs.axis_values("effective_stride") == [32, 32]
    # Darknet's test-time centre crop 256 -> 224 moves the origin by 16 pixels
    assert mine.axis_values("effective_padding") == [p - 16 for p in theirs.axis_values("effective_padding")]
    assert analysis.params == zoo.params == 138_357_544


def test_yolov4_tiny_grouped_route_is_a_channel_slice(imported):
    graph, analysis = imported(DARKNET / "alexeyab" / "yolov4-tiny.cfg")
    node = graph.nodes["route_3"]
    assert node.op == "select" and (node.attrs.start, node.attrs.stop) == (32, 64)
    assert node.inputs == ("conv_2",)
    assert analysis.layers["route_3"].channels == 32
    assert graph.nodes["route_6"].op == "concat" and graph.nodes["route_6"].inputs == ("conv_5", "conv_4")


def test_names_notes_and_locations(imported):
    path = DARKNET / "pjreddie" / "yolov3.cfg"
    graph, _ = imported(path)
    lines = path.read_text().splitlines()
    conv = graph.nodes["conv_0/conv"]
    assert conv.location.file == str(path)
    assert lines[conv.location.line - 1].strip() == "[convolutional]"
    assert conv.note == f"[convolutional] #0, line {conv.location.line}"
    assert conv.op == "conv" and not conv.attrs.bias  # batch-normalised: Darknet's bias is the norm's shift
    assert graph.nodes["conv_0"].op == "norm" and graph.nodes["conv_0"].location == conv.location
    assert graph.nodes["yolo_82"].inputs == ("conv_81",)
    assert graph.nodes["route_83"].op == "identity" and graph.nodes["route_83"].inputs == ("conv_79",)
    assert graph.nodes["route_86"].op == "concat" and graph.nodes["route_86"].inputs == ("upsample_85", "shortcut_61")
    assert graph.nodes["shortcut_4"].op == "add" and graph.nodes["shortcut_4"].inputs == ("conv_3", "conv_1")


def test_resnet_shortcuts_follow_shortcut_cpu(imported):
    graph, analysis = imported(DARKNET / "pjreddie" / "resnet18.cfg")
    sampled = [n for n in graph.nodes.values() if n.name.endswith("/from0")]
    assert sampled and all(n.op == "maxpool" and n.attrs.kernel == (1, 1) and n.attrs.stride == (2, 2) for n in sampled)
    graph, analysis = imported(DARKNET / "pjreddie" / "resnet50.cfg")
    node = graph.nodes["shortcut_5"]  # 64 channels of the maxpool added into the first 64 of 256
    assert node.op == "concat"
    assert analysis.layers["shortcut_5"].channels == 256


def test_output_override_and_classifier_default(imported):
    path = DARKNET / "pjreddie" / "darknet53.cfg"
    graph = import_darknet(str(path), output="conv_10")
    assert graph.outputs[0] == "conv_10"
    graph, analysis = imported(path)
    assert graph.outputs == ("shortcut_74",)  # the 8x8 map before [avgpool]
    with pytest.raises(SpecError) as info:
        import_darknet(str(path), output="conv_100000")
    assert "no layer named `conv_100000`" in info.value.message
    with pytest.raises(SpecError) as info:
        import_darknet(str(path), output="conv10")
    assert info.value.hint == "did you mean `conv_10`?"


def test_yolov1_head_is_the_dense_layer(imported):
    graph, analysis = imported(DARKNET / "pjreddie" / "yolov1.cfg")
    assert graph.outputs == ("connected_30",)
    assert "locally connected" in graph.nodes["local_28"].note
    assert analysis.layers["connected_30"].axis_values("receptive_field")[0] >= 448


def test_round_trip_through_yaml(imported):
    from rfdesign.io.yaml_export import dump, spec_dict

    for path in (DARKNET / "alexeyab" / "yolov4-tiny.cfg", DARKNET / "pjreddie" / "resnet50.cfg"):
        graph, analysis = imported(path)
        again = analyze(parse_spec(dump(spec_dict(graph)), "roundtrip.yaml"))
        assert again.params == analysis.params
        for name in graph.outputs:
            assert again.layers[name].axes == analysis.layers[name].axes


# -- errors ------------------------------------------------------------------------------------------------


def _write(tmp_path, text: str) -> str:
    path = tmp_path / "net.cfg"
    path.write_text(text)
    return str(path)


NET = "[net]\nwidth=64\nheight=64\nchannels=3\n\n"


@pytest.mark.parametrize(
    "body, line, words",
    [
        ("[convolutional]\nfilters=8\nsize=3\nstride=1\npad=1\n\n[lstm]\noutput=4\n", 12, "unsupported Darknet layer"),
        ("[convolutional]\nfilters=8\nsize=3\n\n[convolutinal]\nfilters=4\n", 10, "did you mean"),
        ("[route]\nlayers=-3\n", 7, "not an earlier layer"),
        ("[convolutional]\nfilters=8\nsize=3\n\n[route]\nlayers=-1\ngroups=2\ngroup_id=2\n", 13, "group_id"),
        ("[convolutional]\nfilters=8\nsize=3\nstride=1\npad=1\n\n[shortcut]\nfrom=banana\n", 13, "comma-separated"),
        ("[convolutional]\nfilters=8\nsize=99\nstride=1\n", 8, "empty"),
        ("[convolutional]\nfilters=9\nsize=3\ngroups=2\npad=1\n", 9, "groups=2"),
    ],
)
def test_bad_cfgs_are_located_errors(tmp_path, body, line, words):
    path = _write(tmp_path, NET + body)
    with pytest.raises(SpecError) as info:
        import_darknet(path)
    assert info.value.location is not None and info.value.location.file == path
    assert info.value.location.line == line, info.value.render()
    if words == "did you mean":
        assert info.value.hint == "did you mean `[convolutional]`?"
    elif words:
        assert words in info.value.render()


def test_missing_file_and_not_a_cfg(tmp_path):
    with pytest.raises(SpecError) as info:
        import_darknet(str(tmp_path / "nope.cfg"))
    assert "cannot read" in info.value.message
    with pytest.raises(SpecError) as info:
        import_darknet(_write(tmp_path, "width=3\n"))
    assert "before the first section" in info.value.message
    binary = tmp_path / "b.cfg"
    binary.write_bytes(b"\xff\xfe\x00[net]")
    with pytest.raises(SpecError):
        import_darknet(str(binary))
    with pytest.raises(SpecError) as info:
        import_darknet(_write(tmp_path, "[convolutional]\nfilters=3\n"))
    assert "not [net]" in info.value.message


def test_route_of_different_sizes_is_an_error(tmp_path):
    path = _write(tmp_path, NET + "[convolutional]\nfilters=8\nsize=3\nstride=2\npad=1\n\n[route]\nlayers=-1,-2\n")
    # layer -2 does not exist for layer 1: only layer 0 comes before it
    with pytest.raises(SpecError):
        import_darknet(path)
    path = _write(
        tmp_path,
        NET
        + "[convolutional]\nfilters=8\nsize=3\nstride=1\npad=1\n\n"
        + "[maxpool]\nsize=2\nstride=2\n\n[route]\nlayers=-1,-2\n",
    )
    with pytest.raises(SpecError) as info:
        import_darknet(path)
    assert "differ in size" in info.value.message and info.value.location.line == 17


def test_darknet_parsing_details(tmp_path):
    """Whitespace anywhere, comments, first option wins, inline comments, stride_x/stride_y, maxpool padding."""
    text = (
        "[net]\n w i d t h = 6 4 \nheight=48\nchannels=3\n# comment\n; another\n\n"
        "[convolutional]\nfilters = 8 # eight\nfilters=16\nsize=3\nstride_x=2\nstride_y=1\npad=1\n\n"
        "[maxpool]\nsize=2\nstride=1\n"
    )
    graph = import_darknet(_write(tmp_path, text))
    analysis = analyze(graph)
    assert graph.input_size == (48, 64)
    assert analysis.layers["conv_0"].output_size == (48, 32) and analysis.layers["conv_0"].channels == 8
    assert graph.nodes["maxpool_1"].attrs.padding == ((0, 1), (0, 1))  # padding = size - 1, the odd pixel after
    assert analysis.layers["maxpool_1"].output_size == (48, 32)


def test_dilated_darknet_conv_pads_pad_times_dilation(tmp_path):
    text = NET + "[convolutional]\nfilters=4\nsize=3\nstride=1\npad=1\ndilation=3\n"
    graph = import_darknet(_write(tmp_path, text))
    assert graph.nodes["conv_0"].attrs.padding == ((3, 3), (3, 3))
    assert analyze(graph).layers["conv_0"].axis_values("receptive_field") == [7, 7]
    bad = NET + "[convolutional]\nfilters=4\nsize=3\nstride=1\ndilation=3\n"
    with pytest.raises(SpecError) as info:
        import_darknet(_write(tmp_path, bad))
    assert "ignores dilation" in info.value.hint


def test_all_fixtures_are_fast():
    start = time.perf_counter()
    for path in CFGS:
        analyze(import_darknet(str(path)))
    assert time.perf_counter() - start < 10


def test_mutated_cfgs_give_spec_errors_not_tracebacks(tmp_path):
    """Random damage to real cfgs: every failure is a located SpecError (a fixed seed keeps it reproducible)."""
    import random

    rng = random.Random(11)
    sources = [(DARKNET / repo / name).read_text().splitlines() for repo, name in
               (("pjreddie", "yolov3-tiny.cfg"), ("alexeyab", "yolov4-tiny.cfg"), ("pjreddie", "resnet18.cfg"))]  # fmt: skip
    inserts = ["[route]", "layers=-100", "[shortcut]", "from=-2", "[upsample]", "stride=0", "[reorg]", "[net]",
               "groups=3", "group_id=5", "dilation=2", "padding=-3", "filters=0", "size=0", "[crop]"]  # fmt: skip
    path = tmp_path / "mutated.cfg"
    for _ in range(300):
        lines = list(rng.choice(sources))
        i = rng.randrange(len(lines))
        choice = rng.randrange(3)
        if choice == 0:
            del lines[i]
        elif choice == 1 and "=" in lines[i]:
            lines[i] = lines[i].split("=")[0] + "=" + rng.choice(["0", "-1", "-7", "3", "x", "", "1,2", "2.5"])
        else:
            lines.insert(i, rng.choice(inserts))
        path.write_text("\n".join(lines))
        try:
            analyze(import_darknet(str(path)))
        except SpecError as error:
            assert error.location is not None and error.location.file == str(path)
