"""The same network, met by different roads, gives the same figures.

* The hand-written PyTorch modules of tests/torch_models.py, imported with
  torch.fx, and the same modules exported to ONNX inside the test and
  imported from the ONNX file: the output's receptive field, effective
  stride, effective padding, output size and parameter count agree.
* Darknet cfgs imported, exported as PyTorch code, the code run and
  imported back: the heads' figures agree; and the gradient measurement
  (rfdesign.verify) of the imported Darknet graph agrees with the engine.
"""

from __future__ import annotations

import importlib.util

import sys

import pytest
import torch

from conftest import FIXTURES
from rfdesign.io.darknet import import_darknet
from rfdesign.io.onnx_import import import_onnx
from rfdesign.io.torch_export import export_pytorch
from rfdesign.io.torch_import import import_torch
from rfdesign.rf import analyze
from rfdesign.verify import measure

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),  # torch's legacy (TorchScript) ONNX exporter
    pytest.mark.filterwarnings("ignore:Constant folding:UserWarning"),
]

sys.path.insert(0, str(FIXTURES.parent))
import torch_models  # noqa: E402 - the test's own models

#: factory -> input size (spatial)
MODELS = {
    "resnet": (96, 96),
    "inception": (128, 128),
    "unet": (92, 92),
    "tcn": (120,),
    "mobilenet": (64, 64),
    "video3d": (16, 64, 64),
}


@pytest.fixture(autouse=True)
def one_thread():
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)


def figures(graph):  # noqa: ANN001, ANN201
    result = analyze(graph)
    out = result.output
    return {
        "output_size": out.output_size,
        "receptive_field": [a.receptive_field for a in out.axes],
        "effective_stride": [a.effective_stride for a in out.axes],
        "effective_padding": [a.effective_padding for a in out.axes],
        "params": result.params,
    }


@pytest.mark.parametrize("factory", sorted(MODELS))
def test_torch_and_onnx_imports_agree(factory, tmp_path):
    size = MODELS[factory]
    from_torch = import_torch(f"torch_models:{factory}()", size)
    model = getattr(torch_models, factory)().eval()
    example = torch.zeros((1, from_torch.input_channels, *size))
    path = tmp_path / f"{factory}.onnx"
    # no constant folding: it would fuse batch norms into the convs and change the parameter count
    torch.onnx.export(model, (example,), str(path), opset_version=17, dynamo=False, do_constant_folding=False)
    from_onnx = import_onnx(str(path))
    a, b = figures(from_torch), figures(from_onnx)
    assert a == b, (a, b)


DARKNET = ["pjreddie/yolov3-tiny.cfg", "pjreddie/yolov2-tiny.cfg", "alexeyab/yolov4-tiny.cfg"]


def _load_code(code: str, name: str):  # noqa: ANN202
    spec = importlib.util.spec_from_loader(name, loader=None)
    module = importlib.util.module_from_spec(spec)
    exec(compile(code, f"<{name}>", "exec"), module.__dict__)  # noqa: S102 - our own generated code
    sys.modules[name] = module
    return module


@pytest.mark.parametrize("cfg", DARKNET)
def test_darknet_through_pytorch_code_and_back(cfg):
    graph = import_darknet(str(FIXTURES / "darknet" / cfg), (160, 160))
    code = export_pytorch(graph, "Net")
    name = "generated_" + cfg.replace("/", "_").replace("-", "_").replace(".", "_")
    _load_code(code, name)
    back = import_torch(f"{name}:Net", (160, 160))
    original = analyze(graph)
    again = analyze(back)
    mine = [original.layers[o] for o in graph.outputs]
    theirs = [again.layers[o] for o in back.outputs]
    assert len(mine) == len(theirs)
    for a, b in zip(mine, theirs):
        assert a.output_size == b.output_size
        assert [x.receptive_field for x in a.axes] == [x.receptive_field for x in b.axes]
        assert [x.effective_stride for x in a.axes] == [x.effective_stride for x in b.axes]
    assert original.params == again.params
    # the generated module runs and gives every head's size
    module = sys.modules[name].Net().eval()
    with torch.no_grad():
        outputs = module(torch.zeros((1, graph.input_channels, 160, 160)))
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    assert [tuple(t.shape[2:]) for t in outputs] == [layer.output_size for layer in mine]


@pytest.mark.parametrize("cfg", DARKNET[:2])
def test_darknet_heads_agree_with_gradients(cfg):
    graph = import_darknet(str(FIXTURES / "darknet" / cfg), (160, 160))
    measured = measure(graph, None, list(graph.outputs))
    for head in graph.outputs:
        for m in measured[head]:
            engine = analyze(graph, m.input_size).layers[head].axes[m.axis]
            assert m.receptive_field == engine.receptive_field, (head, m)
            if m.effective_stride is not None:
                assert m.effective_stride == engine.effective_stride
            if m.effective_padding is not None:
                assert m.effective_padding == engine.effective_padding

