"""Zoo specs of torchvision models, the original U-Net, a 1-D WaveNet stack and R3D-18.

Oracles that share no code with rfdesign's engine:

* parameter counts: torchvision's published figures, and the same networks
  rebuilt here from ``torch.nn`` primitives (on the ``meta`` device, so no
  memory or compute), whose ``numel`` must agree with both;
* output sizes: a ``meta``-device forward pass of those rebuilt networks up to
  the spec's output node;
* receptive fields: a real float64 network with constant positive weights and
  average pooling instead of max pooling, so that every path adds a positive
  amount and no gradient cancels. The input pixels a unit depends on are then
  exactly the nonzero entries of the gradient of that unit with respect to the
  input. U-Net and WaveNet are measured with one channel per layer; the
  classification networks and R3D-18 on their one-channel 1-D view along each
  distinct axis (see :class:`Prims`), built by the same builders whose
  parameter counts are checked. The engine's per-unit boxes and its
  ``receptive_field`` (largest over positions), ``receptive_field_position_min``
  (smallest over positions) and ``receptive_field_min`` (smallest single path,
  U-Net and WaveNet) must match those measurements.

Inception v3 is counted with its AuxLogits branch (torchvision's default
``aux_logits=True``, which the pretrained weights need): 27,161,264
parameters, of which 3,326,696 are AuxLogits (23,834,568 without).
"""

from __future__ import annotations

import pytest

from conftest import ZOO
from rfdesign.rf import analyze, unit_box, units_seeing
from rfdesign.spec import load_spec

try:
    import torch
    import torch.nn.functional as F
    from torch import nn
except ImportError:  # the spec-only tests still run; the oracle tests are skipped
    torch = nn = F = None

needs_torch = pytest.mark.skipif(torch is None, reason="needs torch (the [torch] extra)")
_Module = nn.Module if nn is not None else object

# -- torch reference networks, written from the papers / torchvision's architecture tables --------------


class Prims:
    """Layer factories for one reference network.

    ``Prims(dims)`` builds the real network (2-D or 3-D). ``Prims(dims, axis)``
    builds its one-channel, 1-D view along ``axis`` for the gradient
    measurements: per-axis kernel/stride/padding values are projected onto the
    axis, every conv is ``Conv1d(1, 1)`` without bias, max pooling becomes
    average pooling, ReLU6 becomes ReLU (with positive weights every value is
    positive, so ReLU is an identity while ReLU6 would cut the gradient), batch norm and the classifier head disappear, and
    concatenation becomes a sum (a concat read by a conv with positive weights
    depends on the union of its inputs' supports, as a sum does). The receptive
    field is separable: along one axis every path of the 2-D network sees
    exactly what the same path of the 1-D view sees.
    """

    def __init__(self, dims=2, axis=None):
        self.dims, self.axis = dims, axis
        self.surrogate = axis is not None

    def _on_axis(self, value):
        return value[self.axis] if self.surrogate and isinstance(value, tuple) else value

    def conv(self, cin, cout, k, stride=1, padding=0, groups=1, bias=False):
        if self.surrogate:
            return nn.Conv1d(1, 1, self._on_axis(k), self._on_axis(stride), self._on_axis(padding), bias=False)
        cls = {2: nn.Conv2d, 3: nn.Conv3d}[self.dims]
        return cls(cin, cout, k, stride, padding, groups=groups, bias=bias)

    def bn(self, c, eps=1e-5):
        return nn.Identity() if self.surrogate else {2: nn.BatchNorm2d, 3: nn.BatchNorm3d}[self.dims](c, eps=eps)

    def maxpool(self, k, stride, padding=0):
        if self.surrogate:  # a max picks one input; an average depends on all of them
            return nn.AvgPool1d(k, stride, padding)
        return {2: nn.MaxPool2d, 3: nn.MaxPool3d}[self.dims](k, stride, padding)

    def avgpool(self, k, stride, padding=0):
        return (nn.AvgPool1d if self.surrogate else {2: nn.AvgPool2d, 3: nn.AvgPool3d}[self.dims])(k, stride, padding)

    def relu6(self):
        return nn.ReLU() if self.surrogate else nn.ReLU6()  # ReLU6 would saturate the surrogate's large values

    def join(self, tensors):
        return sum(tensors) if self.surrogate else torch.cat(tensors, 1)

    def head(self, make):
        """The classifier head (``make()`` returns its modules); absent from the surrogate."""
        return nn.Identity() if self.surrogate else nn.Sequential(*make())

    def gap(self):
        return {2: nn.AdaptiveAvgPool2d, 3: nn.AdaptiveAvgPool3d}[self.dims](1)


class _Residual(_Module):
    """body(x) + shortcut(x) (identity when shortcut is None), then an optional ReLU."""

    def __init__(self, body, shortcut=None, relu=True):
        super().__init__()
        self.body = body
        self.shortcut = shortcut
        self.relu = relu

    def forward(self, x):
        y = self.body(x) + (x if self.shortcut is None else self.shortcut(x))
        return torch.relu(y) if self.relu else y


class _Branches(_Module):
    """Apply each branch to the same input and join the results (concatenate along channels)."""

    def __init__(self, P, *branches):
        super().__init__()
        self.join = P.join
        self.branches = nn.ModuleList(branches)

    def forward(self, x):
        return self.join([branch(x) for branch in self.branches])


def ref_vgg16(P):
    layers, c = [], 3
    for v in (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"):
        if v == "M":
            layers.append(P.maxpool(2, 2))
        else:
            layers += [P.conv(c, v, 3, padding=1, bias=True), nn.ReLU()]
            c = v
    head = P.head(lambda: [
        nn.Flatten(),  # AdaptiveAvgPool2d((7, 7)) is an identity on the 7x7 map of a 224 input
        nn.Linear(512 * 7 * 7, 4096), nn.ReLU(), nn.Dropout(),
        nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(),
        nn.Linear(4096, 1000),
    ])  # fmt: skip
    return nn.Sequential(*layers), head


def _basic_block(P, cin, planes, stride):
    body = nn.Sequential(
        P.conv(cin, planes, 3, stride, 1), P.bn(planes), nn.ReLU(),
        P.conv(planes, planes, 3, 1, 1), P.bn(planes),
    )  # fmt: skip
    short = None
    if stride != 1 or cin != planes:
        short = nn.Sequential(P.conv(cin, planes, 1, stride), P.bn(planes))
    return _Residual(body, short), planes


def _bottleneck_block(P, cin, planes, stride):
    out = 4 * planes
    body = nn.Sequential(
        P.conv(cin, planes, 1), P.bn(planes), nn.ReLU(),
        P.conv(planes, planes, 3, stride, 1), P.bn(planes), nn.ReLU(),  # v1.5: stride on the 3x3
        P.conv(planes, out, 1), P.bn(out),
    )  # fmt: skip
    short = None
    if stride != 1 or cin != out:
        short = nn.Sequential(P.conv(cin, out, 1, stride), P.bn(out))
    return _Residual(body, short), out


def _resnet(P, unit, depths, stem, classes):
    layers, c = [stem], 64
    for stage, (planes, n) in enumerate(zip((64, 128, 256, 512), depths)):
        for j in range(n):
            block, c = unit(P, c, planes, 2 if stage > 0 and j == 0 else 1)
            layers.append(block)
    return nn.Sequential(*layers), P.head(lambda: [P.gap(), nn.Flatten(), nn.Linear(c, classes)])


def _resnet2d_stem(P):
    return nn.Sequential(P.conv(3, 64, 7, 2, 3), P.bn(64), nn.ReLU(), P.maxpool(3, 2, 1))


def ref_resnet18(P):
    return _resnet(P, _basic_block, (2, 2, 2, 2), _resnet2d_stem(P), 1000)


def ref_resnet50(P):
    return _resnet(P, _bottleneck_block, (3, 4, 6, 3), _resnet2d_stem(P), 1000)


def ref_r3d_18(P):
    stem = nn.Sequential(P.conv(3, 64, (3, 7, 7), (1, 2, 2), (1, 3, 3)), P.bn(64), nn.ReLU())  # no max pool
    return _resnet(P, _basic_block, (2, 2, 2, 2), stem, 400)


def ref_mobilenet_v2(P):
    def cbr(cin, cout, k, stride=1, groups=1):
        return [P.conv(cin, cout, k, stride, (k - 1) // 2, groups=groups), P.bn(cout), P.relu6()]

    layers, c = cbr(3, 32, 3, 2), 32
    for t, cout, n, s in ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)):
        for j in range(n):
            stride, hidden = (s if j == 0 else 1), c * t
            expand = [] if t == 1 else cbr(c, hidden, 1)
            body = nn.Sequential(*expand, *cbr(hidden, hidden, 3, stride, hidden), P.conv(hidden, cout, 1), P.bn(cout))
            layers.append(_Residual(body, relu=False) if stride == 1 and c == cout else body)
            c = cout
    layers += cbr(c, 1280, 1)
    return nn.Sequential(*layers), P.head(lambda: [P.gap(), nn.Flatten(), nn.Dropout(0.2), nn.Linear(1280, 1000)])


class _DenseLayer(_Module):
    def __init__(self, P, cin, growth=32, bottleneck=128):
        super().__init__()
        self.join = P.join
        self.new = nn.Sequential(
            P.bn(cin), nn.ReLU(), P.conv(cin, bottleneck, 1),
            P.bn(bottleneck), nn.ReLU(), P.conv(bottleneck, growth, 3, 1, 1),
        )  # fmt: skip

    def forward(self, x):
        return self.join([x, self.new(x)])


def ref_densenet121(P):
    layers, c = [P.conv(3, 64, 7, 2, 3), P.bn(64), nn.ReLU(), P.maxpool(3, 2, 1)], 64
    for i, n in enumerate((6, 12, 24, 16)):
        for _ in range(n):
            layers.append(_DenseLayer(P, c))
            c += 32
        if i < 3:
            layers += [P.bn(c), nn.ReLU(), P.conv(c, c // 2, 1), P.avgpool(2, 2)]
            c //= 2
    layers += [P.bn(c), nn.ReLU()]
    return nn.Sequential(*layers), P.head(lambda: [P.gap(), nn.Flatten(), nn.Linear(c, 1000)])


def ref_inception_v3(P):
    def bc(cin, cout, k=1, stride=1, padding=0):  # BasicConv2d: conv (no bias), BN(eps 0.001), ReLU
        return nn.Sequential(P.conv(cin, cout, k, stride, padding), P.bn(cout, eps=1e-3), nn.ReLU())

    seq = nn.Sequential
    row, col = ((1, 7), 1, (0, 3)), ((7, 1), 1, (3, 0))

    def a(cin, pool):
        return _Branches(
            P,
            bc(cin, 64),
            seq(bc(cin, 48), bc(48, 64, 5, 1, 2)),
            seq(bc(cin, 64), bc(64, 96, 3, 1, 1), bc(96, 96, 3, 1, 1)),
            seq(P.avgpool(3, 1, 1), bc(cin, pool)),
        )

    def b(cin):
        return _Branches(
            P, bc(cin, 384, 3, 2), seq(bc(cin, 64), bc(64, 96, 3, 1, 1), bc(96, 96, 3, 2)), P.maxpool(3, 2)
        )

    def c(cin, c7):
        return _Branches(
            P,
            bc(cin, 192),
            seq(bc(cin, c7), bc(c7, c7, *row), bc(c7, 192, *col)),
            seq(bc(cin, c7), bc(c7, c7, *col), bc(c7, c7, *row), bc(c7, c7, *col), bc(c7, 192, *row)),
            seq(P.avgpool(3, 1, 1), bc(cin, 192)),
        )

    def d(cin):
        return _Branches(
            P,
            seq(bc(cin, 192), bc(192, 320, 3, 2)),
            seq(bc(cin, 192), bc(192, 192, *row), bc(192, 192, *col), bc(192, 192, 3, 2)),
            P.maxpool(3, 2),
        )

    def e(cin):
        def split(ch):
            return _Branches(P, bc(ch, 384, (1, 3), 1, (0, 1)), bc(ch, 384, (3, 1), 1, (1, 0)))

        return _Branches(
            P,
            bc(cin, 320),
            seq(bc(cin, 384), split(384)),
            seq(bc(cin, 448), bc(448, 384, 3, 1, 1), split(384)),
            seq(P.avgpool(3, 1, 1), bc(cin, 192)),
        )

    features = seq(
        bc(3, 32, 3, 2), bc(32, 32, 3), bc(32, 64, 3, 1, 1), P.maxpool(3, 2),
        bc(64, 80), bc(80, 192, 3), P.maxpool(3, 2),
        a(192, 32), a(256, 64), a(288, 64), b(288),
        c(768, 128), c(768, 160), c(768, 160), c(768, 192),
        d(768), e(1280), e(2048),
    )  # fmt: skip
    head = P.head(lambda: [P.gap(), nn.Flatten(), nn.Dropout(), nn.Linear(2048, 1000)])
    aux = P.head(lambda: [P.avgpool(5, 3), bc(768, 128), bc(128, 768, 5), P.gap(), nn.Flatten(), nn.Linear(768, 1000)])
    return features, nn.ModuleList([head, aux])


class _UNet(_Module):
    """Ronneberger et al. 2015, Fig. 1; ``skip``/``up`` scale each decoder concat's inputs (bottom level first)."""

    def __init__(self, widths=(64, 128, 256, 512, 1024), classes=2, pool=None):
        super().__init__()
        pool = pool or nn.MaxPool2d
        self.down = nn.ModuleList()
        c = 1
        for w in widths:
            self.down.append(nn.Sequential(nn.Conv2d(c, w, 3), nn.ReLU(), nn.Conv2d(w, w, 3), nn.ReLU()))
            c = w
        self.pool = pool(2, 2)
        self.ups, self.convs = nn.ModuleList(), nn.ModuleList()
        for low, w in zip(widths[::-1], widths[::-1][1:]):
            self.ups.append(nn.ConvTranspose2d(low, w, 2, 2))
            self.convs.append(nn.Sequential(nn.Conv2d(2 * w, w, 3), nn.ReLU(), nn.Conv2d(w, w, 3), nn.ReLU()))
        self.classifier = nn.Conv2d(widths[0], classes, 1)
        self.skip = [1.0] * (len(widths) - 1)
        self.up = [1.0] * (len(widths) - 1)

    def forward(self, x):
        skips = []
        for i, block in enumerate(self.down):
            x = block(self.pool(x) if i else x)
            skips.append(x)
        x = skips.pop()
        for k, (up, convs) in enumerate(zip(self.ups, self.convs)):
            x = up(x) * self.up[k]
            s = skips.pop()
            top, left = (s.shape[-2] - x.shape[-2]) // 2, (s.shape[-1] - x.shape[-1]) // 2
            s = s[..., top : top + x.shape[-2], left : left + x.shape[-1]] * self.skip[k]
            x = convs(torch.cat([s, x], 1))
        return self.classifier(x)


def ref_unet(P):
    return _UNet(), nn.Identity()


class _WaveNet(_Module):
    """3 stacks x dilations 1..512, kernel 2, causal; ``gate_op`` joins the filter and gate halves."""

    def __init__(self, residual=64, gate=64, skip=256, classes=256, stacks=3, layers=10, gate_op=None):
        super().__init__()
        self.dilations = [2**i for _ in range(stacks) for i in range(layers)]
        self.gate_op = gate_op or (lambda f, g: torch.tanh(f) * torch.sigmoid(g))
        self.input_conv = nn.Conv1d(1, residual, 1)
        self.filters = nn.ModuleList(nn.Conv1d(residual, gate, 2, dilation=d) for d in self.dilations)
        self.gates = nn.ModuleList(nn.Conv1d(residual, gate, 2, dilation=d) for d in self.dilations)
        self.res = nn.ModuleList(nn.Conv1d(gate, residual, 1) for _ in self.dilations)
        self.skips = nn.ModuleList(nn.Conv1d(gate, skip, 1) for _ in self.dilations)
        self.post = nn.Sequential(nn.ReLU(), nn.Conv1d(skip, classes, 1), nn.ReLU(), nn.Conv1d(classes, classes, 1))
        self.skip_scale = [1.0] * len(self.dilations)

    def forward(self, x):
        x = self.input_conv(x)
        total = 0
        for i, d in enumerate(self.dilations):
            padded = F.pad(x, (d, 0))  # causal: pad before only
            z = self.gate_op(self.filters[i](padded), self.gates[i](padded))
            total = total + self.skips[i](z) * self.skip_scale[i]
            x = x + self.res[i](z)
        return self.post(total)


def ref_wavenet(P):
    return _WaveNet(), nn.Identity()


# -- the table of specs --------------------------------------------------------------------------------

#: spec file -> (published parameter count, reference builder, output size, output channels)
MODELS = {
    "torchvision_vgg16": (138_357_544, ref_vgg16, (7, 7), 512),
    "torchvision_resnet18": (11_689_512, ref_resnet18, (7, 7), 512),
    "torchvision_resnet50": (25_557_032, ref_resnet50, (7, 7), 2048),
    "torchvision_mobilenet_v2": (3_504_872, ref_mobilenet_v2, (7, 7), 1280),
    "torchvision_densenet121": (7_978_856, ref_densenet121, (7, 7), 1024),
    "torchvision_inception_v3": (27_161_264, ref_inception_v3, (8, 8), 2048),
    "r3d_18_3d": (33_371_472, ref_r3d_18, (2, 7, 7), 512),
    "unet": (31_030_658, ref_unet, (388, 388), 2),
    # no published figure: 1x1 input conv 128; per layer 2 x 8,256 (filter, gate) + 4,160 (res)
    # + 16,640 (skip) = 37,312, x 30; post convs 2 x 65,792
    "wavenet_1d": (1_251_072, ref_wavenet, (16000,), 256),
}

#: engine figures at the output node (per axis: receptive field, shortest path, effective stride, padding)
HEADLINE = {
    "torchvision_vgg16": [(212, 212, 32, 90)] * 2,
    "torchvision_resnet18": [(435, 11, 32, 217)] * 2,
    "torchvision_resnet50": [(427, 11, 32, 213)] * 2,
    "torchvision_mobilenet_v2": [(491, 163, 32, 245)] * 2,
    "torchvision_densenet121": [(2071, 39, 32, 1021)] * 2,
    "torchvision_inception_v3": [(1311, 79, 32, 618)] * 2,
    "r3d_18_3d": [(109, 3, 8, 54), (219, 7, 16, 109), (219, 7, 16, 109)],
    "wavenet_1d": [(3070, 2, 1, 3069)],
}


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """The measurements are tiny one-channel convolutions: threads only add contention on a busy machine."""
    if torch is None:
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def analyses():
    return {name: analyze(load_spec(str(ZOO / f"{name}.yaml"))) for name in MODELS}


def _reference(name):
    dims = 3 if name == "r3d_18_3d" else 2
    with torch.device("meta"):
        return MODELS[name][1](Prims(dims))


def _count(*modules):
    return sum(p.numel() for m in modules for p in m.parameters())


@pytest.mark.parametrize("name", sorted(MODELS))
def test_params_match_published(analyses, name):
    assert analyses[name].params == MODELS[name][0]


@needs_torch
@pytest.mark.torch
@pytest.mark.parametrize("name", sorted(MODELS))
def test_params_match_torch(analyses, name):
    features, head = _reference(name)
    assert _count(features, head) == analyses[name].params == MODELS[name][0]


@needs_torch
@pytest.mark.torch
def test_inception_aux_logits_share():
    features, (head, aux) = _reference("torchvision_inception_v3")
    assert _count(aux) == 3_326_696
    assert _count(features, head) == 23_834_568


@pytest.mark.parametrize("name", sorted(MODELS))
def test_output_size(analyses, name):
    _, _, size, channels = MODELS[name]
    out = analyses[name].output
    assert out.output_size == size
    assert out.channels == channels


@needs_torch
@pytest.mark.torch
@pytest.mark.parametrize("name", sorted(MODELS))
def test_output_size_matches_torch(analyses, name):
    _, _, size, channels = MODELS[name]
    result = analyses[name]
    features, _ = _reference(name)
    channels_in = result.graph.input_channels
    with torch.device("meta"):
        y = features(torch.empty(1, channels_in, *result.input_size))
    assert tuple(y.shape[2:]) == size and y.shape[1] == channels


def test_inception_aux_branch_shape(analyses):
    result = analyses["torchvision_inception_v3"]
    assert result.layers["Mixed_6e"].output_size == (17, 17)
    assert result.layers["AuxLogits/conv1"].output_size == (1, 1)
    assert result.layers["AuxLogits/fc"].channels == 1000


@pytest.mark.parametrize("name", sorted(HEADLINE))
def test_headline_figures(analyses, name):
    out = analyses[name].output
    got = [
        (a.receptive_field, a.receptive_field_min, a.effective_stride, a.effective_padding) for a in out.axes
    ]
    assert got == HEADLINE[name]


# -- receptive fields measured by gradients -------------------------------------------------------------


def _positive(module, weight=1.0):
    """Constant positive weights, zero biases, float64."""
    module.double()
    for m in module.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.constant_(m.weight, weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return module.eval()


def _supports(net, input_shape, units):
    """Per unit, per axis, the (first, last) input index with a nonzero gradient.

    Unit ``b`` is read from batch item ``b``, so one backward pass measures them all.
    """
    x = torch.ones(len(units), 1, *input_shape, dtype=torch.float64, requires_grad=True)
    y = net(x)
    picked = sum(y[(b, 0, *unit)] for b, unit in enumerate(units))
    (grad,) = torch.autograd.grad(picked, x)
    boxes = []
    for b in range(len(units)):
        nonzero = grad[b, 0].nonzero()
        assert len(nonzero), f"unit {units[b]} depends on no input"
        boxes.append(tuple((int(nonzero[:, a].min()), int(nonzero[:, a].max())) for a in range(len(input_shape))))
    return boxes


#: the gradient measurements use a 252x252 tile (572 - 5 x 64: still even before every pool, output
#: 68x68) to stay fast; with valid convs the skip crops are the same (176, 80, 32, 8 pixels) at any
#: tile size, so every unit's box is the same as at 572. The slow test repeats it at 572.
TILE = 252
#: 32 consecutive positions on a diagonal: two periods of the bottom level's 16-pixel stride, so
#: every phase is seen on both axes
UNET_UNITS = [(18 + i, 18 + i) for i in range(32)]


def _unet_surrogate():
    return _positive(_UNet(widths=(1, 1, 1, 1, 1), classes=1, pool=nn.AvgPool2d))


@pytest.fixture(scope="module")
def unet_tile():
    return analyze(load_spec(str(ZOO / "unet.yaml")), (TILE, TILE))


@pytest.fixture(scope="module")
def unet_measured():
    return _supports(_unet_surrogate(), (TILE, TILE), UNET_UNITS)


def test_unet_sizes_and_figures(analyses, unet_tile):
    out = analyses["unet"].output
    assert out.output_size == (388, 388)
    assert unet_tile.output.output_size == (68, 68)
    for axis, tile_axis in zip(out.axes, unet_tile.output.axes):
        assert axis.receptive_field == 204
        assert axis.receptive_field_position_min == 188
        assert axis.receptive_field_min == 9
        assert axis.effective_stride == 1
        assert not axis.uniform
        assert (axis.receptive_field, axis.receptive_field_position_min, axis.receptive_field_min) == (
            tile_axis.receptive_field,
            tile_axis.receptive_field_position_min,
            tile_axis.receptive_field_min,
        )


@needs_torch
@pytest.mark.torch
def test_unet_boxes_match_gradients(unet_tile, unet_measured):
    out = unet_tile.output
    for unit, measured in zip(UNET_UNITS, unet_measured):
        assert unit_box(out, unit) == measured, unit


@needs_torch
@pytest.mark.torch
def test_unet_rf_by_position_matches_gradients(analyses, unet_measured):
    out = analyses["unet"].output
    for axis, figures in enumerate(out.axes):
        extents = [box[axis][1] - box[axis][0] + 1 for box in unet_measured]
        assert max(extents) == figures.receptive_field == 204
        assert min(extents) == figures.receptive_field_position_min == 188


@needs_torch
@pytest.mark.torch
@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
@pytest.mark.parametrize("pixel", [(5, 7), (17, 200), (0, 251), (120, 130)])
def test_unet_units_seeing_match_forward_derivatives(unet_tile, pixel):
    """The other direction: which output units depend on one input pixel (a forward-mode derivative).

    (A finite difference would not do: the surrogate's outputs are ~1e20, so +1 on one pixel is lost.)
    """
    x = torch.ones(1, 1, TILE, TILE, dtype=torch.float64)
    tangent = torch.zeros_like(x)
    tangent[(0, 0, *pixel)] = 1.0
    _, derivative = torch.func.jvp(_unet_surrogate(), (x,), (tangent,))
    nonzero = derivative[0, 0].nonzero()
    measured = tuple((int(nonzero[:, a].min()), int(nonzero[:, a].max())) for a in (0, 1))
    assert units_seeing(unet_tile.output, pixel, (TILE, TILE)) == measured


@needs_torch
@pytest.mark.torch
@pytest.mark.slow
def test_unet_boxes_match_gradients_at_572(analyses):
    units = [(150 + i, 150 + i) for i in range(16)]
    measured = _supports(_unet_surrogate(), (572, 572), units)
    out = analyses["unet"].output
    for unit, box in zip(units, measured):
        assert unit_box(out, unit) == box, unit


@needs_torch
@pytest.mark.torch
def test_unet_shortest_path_matches_gradients(analyses):
    """Every path of U-Net goes down to some level L, crosses on that level's skip, and comes back up.

    Path L is isolated by zeroing the other inputs of the decoder concats; the
    engine's ``receptive_field_min`` is the smallest extent over paths and units.
    """
    net = _unet_surrogate()
    steps = len(net.up)  # decoder steps, bottom first: step k joins encoder level steps - 1 - k
    smallest = {}
    for level in range(steps + 1):  # 0: the top skip; 4: through the bottleneck
        for k in range(steps):
            decoder_level = steps - 1 - k
            net.skip[k] = 0.0 if decoder_level < level else 1.0  # below the crossing: come up, not across
            net.up[k] = 0.0 if decoder_level == level else 1.0  # at the crossing: across, not up
        boxes = _supports(net, (TILE, TILE), UNET_UNITS[:16])
        smallest[level] = min(box[axis][1] - box[axis][0] + 1 for box in boxes for axis in (0, 1))
    out = analyses["unet"].output
    assert smallest[0] == 9  # 3x3, 3x3 at the top, crop, 3x3, 3x3, 1x1
    assert min(smallest.values()) == out.axes[0].receptive_field_min == out.axes[1].receptive_field_min
    assert smallest[4] == max(smallest.values())


def _wavenet_surrogate():
    # the support of tanh(f) * sigmoid(g) is the union of f's and g's supports: a sum has the same
    # support and cannot overflow or saturate with constant weights
    return _positive(_WaveNet(1, 1, 1, 1, gate_op=lambda f, g: f + g))


@needs_torch
@pytest.mark.torch
def test_wavenet_rf_matches_gradients(analyses):
    result = analyses["wavenet_1d"]
    out = result.output
    assert out.axes[0].receptive_field == 3 * 1023 + 1 == 3070
    assert out.axes[0].uniform
    units = [(15999,), (8000,), (3069,), (100,)]
    measured = _supports(_wavenet_surrogate(), result.input_size, units)
    for unit, box in zip(units, measured):
        first, last = unit_box(out, unit)[0]
        assert (first, last) == (unit[0] - 3069, unit[0])
        assert box[0] == (max(first, 0), last)  # causal zero padding hides what lies before sample 0


@needs_torch
@pytest.mark.torch
def test_wavenet_shortest_path_matches_gradients(analyses):
    net = _wavenet_surrogate()
    net.skip_scale = [1.0] + [0.0] * (len(net.dilations) - 1)  # only the first layer's skip
    (box,) = _supports(net, (4000,), [(3000,)])
    assert box[0][1] - box[0][0] + 1 == 2 == analyses["wavenet_1d"].output.axes[0].receptive_field_min


# -- the classification networks' receptive fields, measured on their 1-D views ------------------------

#: spec -> (input size for the measurement: large enough that some output units' whole regions lie
#: inside it, so zero padding hides nothing; the distinct axes to measure)
RF_MEASURED = {
    "torchvision_vgg16": ((448, 448), (0,)),
    "torchvision_resnet18": ((512, 512), (0,)),
    "torchvision_resnet50": ((512, 512), (0,)),
    "torchvision_mobilenet_v2": ((576, 576), (0,)),
    "torchvision_densenet121": ((2112, 2112), (0,)),
    "torchvision_inception_v3": ((1387, 1387), (0, 1)),  # 299 + 34 x 32; (1, 7) and (7, 1) kernels
    "r3d_18_3d": ((128, 256, 256), (0, 1)),  # time and space differ
}


@needs_torch
@pytest.mark.torch
@pytest.mark.parametrize("name", sorted(RF_MEASURED))
def test_receptive_field_matches_gradients(name):
    """Every output unit whose region lies inside the input: the engine's box is the measured support."""
    size, axes = RF_MEASURED[name]
    out = analyze(load_spec(str(ZOO / f"{name}.yaml")), size).output
    for axis in axes:
        figures = out.axes[axis]
        assert figures.uniform and figures.effective_stride.denominator == 1
        stride, padding, rf = int(figures.effective_stride), figures.effective_padding, figures.receptive_field
        assert (rf, stride, padding) == (HEADLINE[name][axis][0], HEADLINE[name][axis][2], HEADLINE[name][axis][3])
        inside = [u for u in range(out.output_size[axis]) if u * stride - padding >= 0 and u * stride - padding + rf <= size[axis]]
        assert inside, f"{name}: no unit of axis {axis} sees only real pixels at {size}; use a larger input"
        features, _ = MODELS[name][1](Prims(len(size), axis))
        net = _positive(features)
        measured = _supports(net, (size[axis],), [(u,) for u in inside])
        for u, (box,) in zip(inside, measured):
            unit = tuple(u if a == axis else 0 for a in range(len(size)))
            assert unit_box(out, unit)[axis] == box == (u * stride - padding, u * stride - padding + rf - 1)
