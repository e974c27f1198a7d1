"""Sweep files: validation with located errors, grid and random points, content keys, windows."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from rfdesign.cli import main
from rfdesign.errors import SpecError
from rfdesign.sweep import load_sweep
from rfdesign.sweep.options import PROPOSE_DEFAULTS
from rfdesign.sweep.request import EmptyWindow, rf_bounds

HEAD = """\
name: head
input: {size: [64, 64], channels: 3}
target: {receptive_field: {min: 30, max: 40}, output_size: [8, 8]}
layers:
  - {name: c1, op: conv, out: 16, kernel: {choose: [1, 3, 5]}, stride: {choose: [1, 2]}, padding: same}
  - {name: c2, op: conv, out: 16, kernel: {choose: [1, 3, 5]}, stride: {choose: [1, 2]}, padding: same}
  - {name: c3, op: conv, out: 32, kernel: {choose: [1, 3, 5]}, stride: {choose: [1, 2]}, padding: same}
"""


@pytest.fixture
def sweep_file(tmp_path):
    def write(text: str, name: str = "sweep.yaml") -> str:
        (tmp_path / "head.yaml").write_text(HEAD)
        path = tmp_path / name
        path.write_text(text)
        return str(path)

    return write


def error_of(path: str) -> SpecError:
    with pytest.raises(SpecError) as caught:
        load_sweep(path)
    return caught.value


def test_grid_order_and_axes_per_template(sweep_file):
    path = sweep_file("""\
templates:
  - {name: chain, propose: {depth: 2:6}}
  - {spec: head.yaml}
axes:
  input_size: [64, 128]
  kernels: [[1, 3], "1,3,5"]
  receptive_field: [30:40, {min: 50}]
""")
    sweep = load_sweep(path)
    # the propose template: 2 x 2 x 2; the spec template has its own choice sets, so `kernels` skips it: 2 x 2
    assert len(sweep.points) == 12
    chain = [p for p in sweep.points if p.template == 0]
    assert [p.values["kernels"] for p in chain[:2]] == [[1, 3], [1, 3]]
    assert chain[0].values["receptive_field"] == {"min": 30, "max": 40}
    assert chain[1].values["receptive_field"] == {"min": 50, "max": None}
    assert chain[0].options["depth"] == {"min": 2, "max": 6}  # `2:6` read as a range, not base-60 126
    head = [p for p in sweep.points if p.template == 1]
    assert all("kernels" not in p.values for p in head) and len(head) == 4
    assert [p.index for p in sweep.points] == list(range(12))


def test_random_points_are_seeded(sweep_file):
    text = """\
template: {propose: {}}
options: {rf_relative: true, rf_tolerance: 0.1}
axes:
  input_size: {from: 64, to: 512}
  receptive_field: {from: 0.3, to: 2.0, scale: log}
  depth: [2:4, 4:8]
sample: {random: 40, seed: SEED}
"""
    first = load_sweep(sweep_file(text.replace("SEED", "7")))
    again = load_sweep(sweep_file(text.replace("SEED", "7"), "again.yaml"))
    other = load_sweep(sweep_file(text.replace("SEED", "8"), "other.yaml"))
    assert [p.options for p in first.points] == [p.options for p in again.points]
    assert [p.key for p in first.points] == [p.key for p in again.points]
    assert [p.options for p in first.points] != [p.options for p in other.points]
    for point in first.points:
        assert 64 <= point.options["input_size"][0] <= 512
        assert 0.3 <= point.options["receptive_field"]["min"] <= 2.0


def test_ranges_with_step_and_count(sweep_file):
    sweep = load_sweep(sweep_file("""\
template: {propose: {}}
options: {receptive_field: 30:40}
axes:
  input_size: {from: 64, to: 256, step: 64}
  top_k: {from: 1, to: 8, count: 4, scale: log}
"""))
    assert sorted({p.options["input_size"][0] for p in sweep.points}) == [64, 128, 192, 256]
    assert sorted({p.options["top_k"] for p in sweep.points}) == [1, 2, 4, 8]


def test_keys_depend_on_content_only(sweep_file, tmp_path):
    spelled = load_sweep(sweep_file("""\
template: {propose: {depth: 2:6}}
axes: {input_size: [64], receptive_field: ["30:40"]}
"""))
    other_spelling = load_sweep(sweep_file("""\
template: {name: renamed, propose: {depth: {min: 2, max: 6}}}
axes: {input_size: 64, receptive_field: {min: 30, max: 40}}
""", "b.yaml"))
    assert spelled.points[0].key == other_spelling.points[0].key
    longer = load_sweep(sweep_file("""\
template: {propose: {depth: 2:6}}
timeout: 30
axes: {input_size: [64], receptive_field: ["30:40"]}
""", "c.yaml"))
    assert longer.points[0].key != spelled.points[0].key
    spec_sweep = sweep_file("template: {spec: head.yaml}\naxes: {input_size: [64]}\n", "d.yaml")
    before = load_sweep(spec_sweep).points[0].key
    (tmp_path / "head.yaml").write_text(HEAD.replace("out: 32", "out: 64"))
    assert load_sweep(spec_sweep).points[0].key != before  # the template's text is part of the key


@pytest.mark.parametrize(
    ("text", "where", "words"),
    [
        ("template: {propose: {}}\naxes:\n  input_sise: [64]\n", (3, 3), ["unknown axis `input_sise`", "input_size"]),
        ("template: {propose: {}}\naxes:\n  depth: [2:4, 0:3]\n", (3, 16), ["depth", "> 0"]),
        ("template: {propose: {}}\noptions: {kernals: [1, 3]}\naxes: {input_size: 8}\n", (2, 11),
         ["unknown key `kernals`", "kernels"]),
        ("template: {propose: {}, spec: head.yaml}\n", (1, 11), ["exactly one"]),
        ("template: {spec: nothere.yaml}\n", (1, 18), ["no spec file"]),
        ("template: {propose: {}}\naxes: {input_size: [64], receptive_field: [0.5]}\n", (2, 43),
         ["not a whole number", "rf_relative"]),
        ("template: {propose: {}}\naxes: {input_size: {from: 64, to: 512}}\n", (2, 20), ["random sampling"]),
        ("template: {propose: {}}\nsample: {random: 0}\n", (2, 18), ["random"]),
        ("template: {propose: {}}\naxes: {input_size: [64], objective: [params, latency]}\n", (2, 46),
         ["objective", "latency"]),
        ("template: {propose: {}}\naxes: {receptive_field: [30:40]}\n", (1, 11), ["needs `input_size`"]),
    ],
)
def test_errors_are_located(sweep_file, text, where, words):
    error = error_of(sweep_file(text))
    assert error.location is not None
    assert (error.location.line, error.location.column) == where, error.render()
    for word in words:
        assert word in error.render()


def test_cli_reports_bad_sweep_files_in_one_line(sweep_file):
    path = sweep_file("template: {propose: {}}\naxes:\n  input_sise: [64]\n")
    result = CliRunner().invoke(main, ["sweep", path, "-q"])
    assert result.exit_code == 2
    assert result.stderr.strip() == (f"{path}:3:3: error: unknown axis `input_sise` "
                                     "(hint: did you mean `input_size`?)")


def test_propose_defaults_are_those_of_the_command():
    options = {param.name: param.default for param in main.commands["propose"].params}
    assert PROPOSE_DEFAULTS["kernels"] == [int(v) for v in options["kernels"].split(",")]
    assert PROPOSE_DEFAULTS["strides"] == [int(v) for v in options["strides"].split(",")]
    assert PROPOSE_DEFAULTS["dilations"] == [int(v) for v in options["dilations"].split(",")]
    assert [PROPOSE_DEFAULTS["depth"]["min"], PROPOSE_DEFAULTS["depth"]["max"]] == \
        [int(v) for v in options["depth"].split(":")]
    assert [PROPOSE_DEFAULTS["channels"]["min"], PROPOSE_DEFAULTS["channels"]["max"]] == \
        [int(v) for v in options["channels"].split(":")]
    assert PROPOSE_DEFAULTS["dims"] == options["dims"]
    assert PROPOSE_DEFAULTS["input_channels"] == options["input_channels"]


def window_oracle(low, high, relative, tolerance, size):
    """Every whole pixel count in the window, by enumeration with exact rationals."""
    low_x = Fraction(str(low)) if low is not None else None
    high_x = Fraction(str(high)) if high is not None else None
    if low == high and tolerance:
        low_x, high_x = low_x * (1 - Fraction(str(tolerance))), low_x * (1 + Fraction(str(tolerance)))
    scale = size if relative else 1
    top = math.floor(high_x * scale) if high_x is not None else 10**6
    return [n for n in range(1, top + 1) if (low_x is None or n >= low_x * scale) and
            (high_x is None or n <= high_x * scale)]


@settings(max_examples=150, deadline=None)
@given(
    relative=st.booleans(),
    low=st.one_of(st.none(), st.integers(1, 300)),
    span=st.integers(0, 50),
    tolerance=st.sampled_from([0.0, 0.05, 0.1, 0.33]),
    size=st.integers(1, 300),
    scale=st.sampled_from([1, 100]),
)
def test_windows_match_enumeration(relative, low, span, tolerance, size, scale):
    # relative windows as hundredths (0.01 .. 3.5), absolute ones in pixels
    divide = (lambda v: v / scale) if relative else (lambda v: v)
    low_value = None if low is None else divide(low) if relative else low
    high_value = divide((low or 1) + span) if relative else (low or 1) + span
    options = {"receptive_field": {"min": low_value, "max": high_value}, "rf_relative": relative,
               "rf_tolerance": tolerance}
    expected = window_oracle(low_value, high_value, relative, tolerance, size)
    try:
        bounds = rf_bounds(options, (size,))
    except EmptyWindow:
        assert expected == []
        return
    (got_low, got_high), = bounds
    assert expected, bounds
    assert (got_low or 1, got_high) == (expected[0], expected[-1])
