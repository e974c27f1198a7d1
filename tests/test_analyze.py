"""`rfdesign analyze`: the known traps, each by name, the JSON contract, formats and options.

Expected numbers are worked out by hand in the comments (Distill's formulas:
r = 1 + sum (k'-1) * prod s, S = prod s, P = sum p * prod s).
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from fractions import Fraction

import pytest
from click.testing import CliRunner

from rfdesign.cli import main
from rfdesign.rf import analyze, unit_box, units_seeing
from rfdesign.spec import parse_spec


def run(text: str, size=None):  # noqa: ANN001
    return analyze(parse_spec(text), size)


def spec(layers: str, size: str = "[32, 32]", channels: int = 4) -> str:
    return f"name: t\ninput: {{size: {size}, channels: {channels}}}\nlayers:\n{layers}"


def figures(result, name=None):  # noqa: ANN001
    layer = result.output if name is None else result.layers[name]
    return [(a.receptive_field, a.effective_stride, a.effective_padding) for a in layer.axes]


def test_dilation_counts():
    # k' = 2 * (3 - 1) + 1 = 5 (several tools ignore dilation and say 3)
    result = run(spec("  - {op: conv, kernel: 3, dilation: 2, padding: 2}\n"))
    assert figures(result) == [(5, 1, 2)] * 2


def test_anisotropic_kernels_per_axis():
    result = run(spec("  - {op: conv, kernel: [1, 7], padding: [0, 3]}\n  - {op: conv, kernel: [7, 1], stride: [2, 1], padding: [3, 0]}\n"))
    assert figures(result) == [(7, 2, 3), (7, 1, 3)]


def test_conv_transpose_gives_a_fractional_stride():
    # down by 2 then up by 2: stride 2 * 1/2 = 1; after the up alone: 1/2
    text = spec("  - {name: up, op: conv_transpose, kernel: 2, stride: 2}\n")
    result = run(text)
    assert result.output.axes[0].effective_stride == Fraction(1, 2)
    assert result.output.output_size == (64, 64)


def test_upsample_units_see_different_sizes():
    # conv k3 s2 p1: unit m sees [2m-1, 2m+1]; nearest x2: unit w is conv unit floor(w/2);
    # conv k2: unit w reads w and w+1, i.e. conv units m, m (w = 2m: 3 pixels) or m, m+1 (w = 2m+1: 5)
    text = spec(
        "  - {op: conv, kernel: 3, stride: 2, padding: 1}\n"
        "  - {op: upsample, factor: 2}\n"
        "  - {name: out, op: conv, kernel: 2}\n"
    )
    result = run(text)
    axis = result.output.axes[0]
    assert axis.effective_stride == 1
    assert (axis.receptive_field_position_min, axis.receptive_field) == (3, 5)
    assert not axis.uniform
    assert unit_box(result.output, (4, 5)) == ((3, 5), (3, 7))


def test_shortcut_is_merged_not_chained():
    # body: two 3x3 convs (r = 5); shortcut: 1x1 (r = 1). Chaining them would give 5 + 0;
    # merging gives max 5 and shortest path 1.
    text = spec(
        "  - {name: a, op: conv, kernel: 3, padding: 1}\n"
        "  - {name: b, op: conv, kernel: 3, padding: 1}\n"
        "  - {name: short, op: conv, from: input, kernel: 1}\n"
        "  - {name: sum, op: add, from: [b, short]}\n"
        "  - {name: c, op: conv, kernel: 3, padding: 1}\n"
    )
    result = run(text)
    assert result.layers["sum"].axes[0].receptive_field == 5
    assert result.layers["sum"].axes[0].receptive_field_min == 1
    assert result.layers["c"].axes[0].receptive_field == 7
    assert result.layers["c"].axes[0].receptive_field_min == 3
    assert result.aligned


def test_tf_same_padding_depends_on_input_size():
    # same, k=3, s=2: at n=32 total padding max((16-1)*2+3-32, 0) = 1 -> (0, 1): P = 0
    #                  at n=33 total max((17-1)*2+3-33, 0) = 2 -> (1, 1): P = 1
    text = spec("  - {op: conv, kernel: 3, stride: 2, padding: same}\n")
    assert figures(run(text, (32, 32)))[0] == (3, 2, 0)
    assert figures(run(text, (33, 33)))[0] == (3, 2, 1)
    assert run(text, (33, 33)).output.output_size == (17, 17)


def test_ceil_mode_pooling():
    # 32 -> floor((32 - 3) / 2) + 1 = 15; ceil mode: ceil(29 / 2) + 1 = 16
    floor = run(spec("  - {op: maxpool, kernel: 3, stride: 2}\n"))
    ceil = run(spec("  - {op: maxpool, kernel: 3, stride: 2, ceil_mode: true}\n"))
    assert floor.output.output_size == (15, 15) and ceil.output.output_size == (16, 16)
    # PyTorch's rule: the last window must start inside the input: 5 -> k2 s2 ceil: ceil(3/2)+1 = 3
    assert run(spec("  - {op: maxpool, kernel: 2, stride: 2, ceil_mode: true}\n", "[5]")).output.output_size == (3,)


def test_stride_above_kernel_leaves_holes_in_the_extent():
    # 1x1 stride 2 then 3x3: r = 1 + 0 + 2 * 2 = 5, but only 3 of those 5 pixels are read
    result = run(spec("  - {op: conv, kernel: 1, stride: 2}\n  - {op: conv, kernel: 3, padding: 1}\n"))
    assert figures(result)[0] == (5, 2, 2)


def test_unit_box_and_pixel_lookup_agree():
    text = spec("  - {op: conv, kernel: 3, stride: 2, padding: 1}\n  - {op: conv, kernel: 3, stride: 2, padding: 1}\n")
    result = run(text)
    out = result.output
    # r = 1 + 2 + 2*2 = 7, S = 4, P = 1 + 1*2 = 3: unit u sees [4u - 3, 4u + 3]
    assert unit_box(out, (2, 3)) == ((5, 11), (9, 15))
    for pixel in range(0, 32, 5):
        seen = units_seeing(out, (pixel, pixel), (32, 32))[0]
        assert seen is not None
        for unit in range(out.output_size[0]):
            box = unit_box(out, (unit, unit))[0]
            inside = box[0] <= pixel <= box[1]
            assert inside == (seen[0] <= unit <= seen[1])


def test_json_contract(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(spec("  - {op: conv, kernel: 3, padding: 1, out: 8}\n  - {name: up, op: conv_transpose, kernel: 2, stride: 2}\n"))
    data = json.loads(CliRunner().invoke(main, ["analyze", str(path), "-f", "json"]).stdout)
    for key in ("name", "input_size", "output_size", "receptive_field", "receptive_field_min", "effective_stride",
                "effective_padding", "params", "flops", "aligned", "layers"):
        assert key in data
    assert data["effective_stride"] == ["1/2", "1/2"]
    assert data["receptive_field"] == [3, 3] and isinstance(data["params"], int)
    assert [layer["name"] for layer in data["layers"]] == ["conv_1", "up"]
    for layer in data["layers"]:
        for key in ("name", "op", "output_size", "receptive_field", "receptive_field_min", "effective_stride",
                    "effective_padding", "params", "flops", "aligned"):
            assert key in layer
    assert data["layers"][0]["params"] == 8 * 4 * 9 + 8


def test_formats_and_options(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(spec("  - {name: a, op: conv, kernel: 3, padding: 1}\n  - {name: b, op: conv, kernel: [3, 5], stride: 2, padding: [1, 2]}\n"))
    runner = CliRunner()
    table = runner.invoke(main, ["analyze", str(path)]).stdout
    header = table.splitlines()[0]
    assert header.split() == ["layer", "op", "output", "rf", "rf_min", "stride", "padding", "params", "flops", "notes"]
    assert "5x7" in table  # anisotropic RF shown per axis
    rows = list(csv.DictReader(io.StringIO(runner.invoke(main, ["analyze", str(path), "-f", "csv"]).stdout)))
    assert rows[1]["receptive_field_1"] == "5" and rows[1]["receptive_field_2"] == "7"
    markdown = runner.invoke(main, ["analyze", str(path), "-f", "markdown"]).stdout
    assert markdown.startswith("| layer | op |")
    one = json.loads(runner.invoke(main, ["analyze", str(path), "--layer", "a", "-f", "json"]).stdout)
    assert one["name"] == "a" and one["receptive_field"] == [3, 3]
    box = json.loads(runner.invoke(main, ["analyze", str(path), "--unit", "1,1", "-f", "json"]).stdout)
    assert box["box"] == [[0, 4], [-1, 5]]
    units = json.loads(runner.invoke(main, ["analyze", str(path), "--pixel", "0,0", "-f", "json"]).stdout)
    assert units["units"] == [[0, 1], [0, 1]]
    bigger = json.loads(runner.invoke(main, ["analyze", str(path), "--input-size", "64", "-f", "json"]).stdout)
    assert bigger["input_size"] == [64, 64] and bigger["output_size"] == [32, 32]
    wrong = runner.invoke(main, ["analyze", str(path), "--layer", "bb"])
    assert wrong.exit_code == 2 and "did you mean `b`" in wrong.stderr
    assert runner.invoke(main, ["analyze", str(path), "--input-size", "1,2,3"]).exit_code == 2
    assert runner.invoke(main, ["analyze", str(path), "--unit", "99,0"]).exit_code == 2


def test_schema_command_is_json_schema():
    schema = json.loads(CliRunner().invoke(main, ["schema"]).stdout)
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert "AnyLayer" in schema["$defs"] and schema["properties"]["layers"]["items"]["$ref"] == "#/$defs/AnyLayer"


def test_help_imports_nothing_heavy():
    """`rfdesign --help` stays fast: the CLI module pulls in neither pydantic, z3, yaml nor torch."""
    code = "import sys, rfdesign.cli; print(sorted(m for m in ('pydantic', 'z3', 'torch', 'onnx', 'yaml', 'numpy') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("dims,size", [(1, "[100]"), (3, "[8, 16, 16]")])
def test_one_and_three_dimensional(dims, size):
    result = run(spec("  - {op: conv, kernel: 3, stride: 2, padding: 1}\n", size))
    assert len(result.output.axes) == dims
    assert all(axis.receptive_field == 3 for axis in result.output.axes)


def test_global_context_gate():
    text = spec(
        "  - {name: feat, op: conv, kernel: 3, padding: 1, out: 8}\n"
        "  - {name: squeeze, op: global_pool}\n"
        "  - {name: excite, op: conv, kernel: 1, out: 8}\n"
        "  - {name: gated, op: mul, from: [feat, excite]}\n"
    )
    result = run(text)
    gated = result.layers["gated"]
    assert gated.global_context and gated.axes[0].receptive_field == 3


def test_global_pool_after_upsampling_stays_linear():
    """A squeeze-and-excitation pool in a decoder: the shortest-path table must not pair every tap.

    No timing assertion (timed tests are flaky); when this was quadratic, 4000 units took minutes.
    """
    text = "name: t\ninput: {size: [4000], channels: 2}\nlayers:\n  - {op: conv_transpose, kernel: 3, stride: 2}\n  - {op: global_pool}\n"
    axis = run(text).output.axes[0]
    # conv_transpose k3 s2: unit v reads inputs (v - 2)/2 .. v/2; the pool reads all 7999 units: pixels -1..4000
    assert (axis.receptive_field, axis.receptive_field_min, axis.box) == (4002, 4002, (-1, 4000))
