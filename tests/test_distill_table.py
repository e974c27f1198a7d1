"""The published TF-slim receptive-field table (Araujo et al., Distill 2019), every end-point.

Oracle: google-research/receptive_field's RECEPTIVE_FIELD_TABLE.md, copied as JSON
into tests/fixtures/reference/. Each zoo spec must reproduce every row at the
resolutions the table lists (224 and 321; with `same` padding the effective
padding depends on the input size). Rows with "None" values are skipped.
"""

from __future__ import annotations

import json

import pytest

from conftest import FIXTURES, ZOO
from rfdesign.rf import analyze
from rfdesign.spec import load_spec

NETWORKS = [
    "alexnet_v2",
    "vgg_16",
    "mobilenet_v1",
    "resnet_v1_50",
    "resnet_v1_101",
    "resnet_v1_152",
    "resnet_v1_200",
    "inception_v2",
    "inception_v3",
    "inception_v4",
    "inception_resnet_v2",
]
#: (receptive field, effective stride, effective padding) at the output node, 224x224
HEADLINE = {
    "alexnet_v2": (195, 32, 64),
    "vgg_16": (212, 32, 90),
    "mobilenet_v1": (315, 32, 126),
    "resnet_v1_50": (483, 32, 239),
    "resnet_v1_101": (1027, 32, 511),
    "resnet_v1_152": (1507, 32, 751),
    "resnet_v1_200": (1763, 32, 879),
    "inception_v2": (699, 32, 318),
    "inception_v3": (1311, 32, 618),
    "inception_v4": (2071, 32, 998),
    "inception_resnet_v2": (3039, 32, 1482),
}

TABLE = json.loads((FIXTURES / "reference" / "tf_slim_receptive_fields.json").read_text())


def _rows(network: str, resolution: str) -> list[list[str]]:
    return [row for row in TABLE if row[0] == network and row[1] == resolution]


def _cases() -> list[tuple[str, int]]:
    return [(network, size) for network in NETWORKS for size in (224, 321)]


@pytest.fixture(scope="module")
def graphs():
    return {network: load_spec(str(ZOO / f"{network}.yaml")) for network in NETWORKS}


@pytest.mark.parametrize("network", NETWORKS)
def test_headline_figures(graphs, network):
    result = analyze(graphs[network], (224, 224))
    out = result.output
    expected = HEADLINE[network]
    for axis in out.axes:
        assert (axis.receptive_field, axis.effective_stride, axis.effective_padding) == expected


@pytest.mark.parametrize("network,size", _cases())
def test_every_end_point(graphs, network, size):
    rows = _rows(network, str(size))
    assert rows, f"the table has rows for {network} at {size}"
    result = analyze(graphs[network], (size, size))
    for _, _, end_point, _, rf, stride, padding in rows:
        assert end_point in result.layers, f"{network} has a layer named {end_point!r}"
        layer = result.layers[end_point]
        for axis in layer.axes:
            assert axis.receptive_field == int(rf), (end_point, "receptive field")
            assert axis.effective_stride == int(stride), (end_point, "effective stride")
            if padding != "None":
                assert axis.effective_padding == int(padding), (end_point, "effective padding")
            assert axis.uniform and layer.aligned, end_point
