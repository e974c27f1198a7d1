"""The JSON writer gives exactly the bytes of the reference formulation, for any data.

``reference_json`` is the CLI's JSON layout as first written (one ``json.dumps``
call per leaf); the bulk writer in rfdesign/commands/jsonout.py must agree with it
byte for byte: on the report of every zoo spec, on the reports of random
networks (the brute-force oracle's generators), through the CLI, and on random
JSON-like data built to hit the bulk path's corner cases (lists of objects that
share keys, strings holding ``", "`` or ``%s``, floats, non-string keys).
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import ZOO
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_oracle_bruteforce import chains, dags

from rfdesign.cli import main
from rfdesign.commands.jsonout import json_text, write_json
from rfdesign.rf import analyze
from rfdesign.rf.report import analysis_data, layer_data
from rfdesign.spec import load_spec, parse_spec

SETTINGS: dict[str, Any] = dict(
    deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow]
)


def reference_json(value: Any, indent: int = 2, level: int = 0) -> str:
    """The layout as specified: objects and lists holding objects over lines, anything else by json.dumps."""
    pad = " " * (indent * (level + 1))
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f"{pad}{json.dumps(str(k))}: {reference_json(v, indent, level + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * (indent * level) + "}"
    if isinstance(value, list) and any(isinstance(item, dict) for item in value):
        items = [f"{pad}{reference_json(item, indent, level + 1)}" for item in value]
        return "[\n" + ",\n".join(items) + "\n" + " " * (indent * level) + "]"
    return json.dumps(value)


def streamed(data: Any) -> str:
    pieces: list[str] = []
    write_json(data, pieces.append)
    return "".join(pieces)


def assert_same(data: Any) -> None:
    expected = reference_json(data)
    assert json_text(data) == expected
    assert streamed(data) == expected


@pytest.mark.parametrize("spec", sorted(ZOO.glob("*.yaml")), ids=lambda path: path.stem)
def test_zoo_reports(spec) -> None:
    analysis = analyze(load_spec(str(spec)))
    data = analysis_data(analysis)
    assert_same(data)
    for layer in list(analysis.layers.values())[:: max(1, len(analysis.layers) // 5)]:
        assert_same(layer_data(analysis, layer))
    # the CLI streams the layers instead of building the list: same text
    streaming = {key: value for key, value in data.items() if key != "layers"}
    streaming["layers"] = iter(data["layers"])
    assert json_text(streaming) == reference_json(data)


@settings(max_examples=60, **SETTINGS)
@given(st.one_of(chains(), dags()))
def test_random_network_reports(net) -> None:
    assert_same(analysis_data(analyze(parse_spec(net.to_yaml()))))


def test_cli_output(tmp_path) -> None:
    spec = ZOO / "unet.yaml"
    analysis = analyze(load_spec(str(spec)))
    result = CliRunner().invoke(main, ["analyze", str(spec), "-f", "json"])
    assert result.exit_code == 0, result.output
    assert result.output == reference_json(analysis_data(analysis)) + "\n"
    name = list(analysis.layers)[len(analysis.layers) // 2]
    layer = CliRunner().invoke(main, ["analyze", str(spec), "-f", "json", "--layer", name])
    assert layer.output == reference_json(layer_data(analysis, analysis.layers[name])) + "\n"


TEXT = st.one_of(
    st.sampled_from(["", "a, b", ", ", "%s", "%", "x\n\"y\"", "é", "\u2028", "[1, 2]", "{}"]), st.text(max_size=6)
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(-3, 3),
    st.floats(allow_nan=True, allow_infinity=True),
    TEXT,
)
KEYS = st.one_of(TEXT, st.integers(-2, 2), st.booleans(), st.none(), st.floats(-1, 1))


def _objects_with_shared_keys(children: st.SearchStrategy[Any]) -> st.SearchStrategy[list[dict[Any, Any]]]:
    """Lists of objects over a few key sets (what the bulk path transposes), some keys optional."""
    shapes = st.lists(st.lists(st.sampled_from(["name", "op", "x", "%s", "a, b", "é"]), unique=True, max_size=4),
                      min_size=1, max_size=3)
    return shapes.flatmap(
        lambda keys: st.lists(
            st.sampled_from(keys).flatmap(lambda shape: st.fixed_dictionaries({key: children for key in shape})),
            max_size=8,
        )
    )


JSON_LIKE = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=3).map(tuple),
        st.lists(st.lists(st.integers(-5, 5), min_size=2, max_size=2), max_size=3),
        st.dictionaries(KEYS, children, max_size=4),
        _objects_with_shared_keys(children),
    ),
    max_leaves=24,
)


@settings(max_examples=600, **SETTINGS)
@given(JSON_LIKE)
def test_random_data(data) -> None:
    assert_same(data)
    assert_same({"layers": data, "n": 1})


@settings(max_examples=100, **SETTINGS)
@given(_objects_with_shared_keys(SCALARS))
def test_iterator_is_written_like_a_list_of_objects(objects) -> None:
    assert json_text({"layers": iter(objects)}) == reference_json({"layers": objects})
    assert json_text(iter(objects)) == reference_json(objects)


def test_reader_closing_the_pipe_stops_quietly(tmp_path) -> None:
    """`rfdesign analyze big.yaml -f json | head`: no traceback, no "internal error", exit 141 like SIGPIPE."""
    lines = ["name: long", "input: {size: [64, 64], channels: 4}", "layers:"]
    lines += [f"  - {{name: c{i}, op: conv, kernel: 3, padding: 1}}" for i in range(3000)]  # ~2.5 MB of JSON
    spec = tmp_path / "long.yaml"
    spec.write_text("\n".join(lines) + "\n")
    process = subprocess.Popen(
        [sys.executable, "-m", "rfdesign", "analyze", str(spec), "-f", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    assert process.stdout.read(10) == b'{\n  "name"'
    process.stdout.close()
    errors = process.stderr.read().decode()
    assert process.wait(timeout=60) == 141, errors
    assert errors == ""
