"""Hostile and careless input, as a user would meet it: every probe of issue 10, and more.

Each probe asserts the exit code, one located line on stderr, no traceback,
and, where the bug was a hang or a blow-up, that the command ends within a
generous bound (a subprocess with a timeout; the machine is shared, so the
bounds only tell "ends" from "hangs", they are not speed tests). Probes of
sources that run code check that nothing was run or written that should
not have been (marker files).
"""

from __future__ import annotations

import json
import os
import re
import resource
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from rfdesign.cli import main, safe_file_stem
from rfdesign.commands.render import si
from rfdesign.rf.coverage import window_has_gaps
from rfdesign.rf.maps import transposed_map
from rfdesign.spec.params import MAX_INT_BITS, MAX_LIST_ELEMENTS, MAX_STRING_CHARS, ExpressionError, evaluate

ROOT = Path(__file__).resolve().parent.parent
ZOO = ROOT / "specs" / "zoo"
LOCATED = re.compile(r"^(?P<file>[^\s:]+):(?P<line>\d+):(?P<col>\d+): error: ")
BOUND = 20  # seconds: far above what each probe takes, far below a hang
MEMORY = 3 << 30  # address-space cap for probes whose bug was memory growing with the input size


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def run(args: list[str], cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = BOUND,
        memory: bool = False, stdin: int | None = subprocess.DEVNULL) -> subprocess.CompletedProcess:
    """``python -m rfdesign ARGS`` in a subprocess that must end within ``timeout`` seconds."""
    environment = dict(os.environ)
    environment.pop("RFDESIGN_DEBUG", None)
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "rfdesign", *args], cwd=cwd, env=environment, capture_output=True, text=True,
        timeout=timeout, stdin=stdin, preexec_fn=_limit_memory if memory else None,
    )


def one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr
    return lines[0]


def located(stderr: str, path: Path, line: int | None = None) -> str:
    """The single error line, checked to point into ``path`` (at ``line`` when given)."""
    text = one_error_line(stderr)
    match = LOCATED.match(text)
    assert match and match["file"] == str(path), text
    if line is not None:
        assert int(match["line"]) == line, text
    return text


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text))
    return path


# -- block-parameter expressions ----------------------------------------------------------------------

BLOCK = """\
name: b
input: {size: [32, 32], channels: 3}
blocks:
  u:
    params: {n: 3}
    layers:
      - {op: conv, kernel: 3, padding: 1, KEY: VALUE}
layers:
  - {block: u}
"""

EXPRESSIONS = [
    # id, key, value, words in the message
    ("tower", "out", '"${9**9**9}"', "beyond 64 bits"),
    ("tower-of-params", "repeat", '"${n**n**n**n}"', "beyond 64 bits"),
    ("huge-list", "out", '"${[1]*10000000000}"', "list of more than"),
    ("huge-string", "note", "\"${'a'*4000000000}\"", "string longer than"),
    ("many-digits", "out", '"${10**5000}"', "beyond 64 bits"),
    ("float-overflow", "out", '"${10.0**400}"', "too large"),
    ("compare-types", "out", "\"${1 if 'a' < 1 else 2}\"", "not supported"),
    ("min-of-nothing", "out", '"${min()}"', "min expected"),
    ("string-format", "note", "\"${'%999999999d' % 1}\"", "string formatting"),
    ("deep-nesting", "out", '"${' + "-" * 100000 + '1}"', "at most 1000 characters"),
    ("long-sum", "out", '"${' + "+".join(["1"] * 400) + '}"', "nests deeper than 50 levels"),
    ("many-parts", "out", '"${[' + ",".join(["-1"] * 300) + ']}"', "more than 500 parts"),
    ("complex", "out", '"${(-8) ** 0.5}"', "not a real number"),
    ("negate-string", "out", "\"${-'a'}\"", "bad operand"),
    ("embedded-growth", "note", '"x' + "${'a'*9000}" * 5 + '"', "more than 10000 characters"),
]


def test_hostile_expressions_are_located_errors(tmp_path):
    """All at once through `check` (which reports every spec): each a located line, none a hang or exit 3."""
    specs = []
    for case_id, key, value, _ in EXPRESSIONS:
        spec = tmp_path / f"{case_id}.yaml"
        spec.write_text(BLOCK.replace("KEY", key).replace("VALUE", value))
        specs.append(spec)
    proc = run(["check", *map(str, specs)], memory=True)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == len(specs) and "Traceback" not in proc.stderr, proc.stderr
    for line, spec, (case_id, _, _, words) in zip(lines, specs, EXPRESSIONS):
        match = LOCATED.match(line)
        assert match and match["file"] == str(spec) and match["line"] == "7", line
        assert words in line, (case_id, line)


def test_expression_limits_are_exact_at_the_edge():
    assert evaluate(f"2**{MAX_INT_BITS - 1}", {}) == 2 ** (MAX_INT_BITS - 1)
    with pytest.raises(ExpressionError):
        evaluate(f"2**{MAX_INT_BITS}", {})
    assert evaluate(f"'a'*{MAX_STRING_CHARS}", {}) == "a" * MAX_STRING_CHARS
    with pytest.raises(ExpressionError):
        evaluate(f"'a'*{MAX_STRING_CHARS + 1}", {})
    assert len(evaluate(f"[0]*{MAX_LIST_ELEMENTS}", {})) == MAX_LIST_ELEMENTS
    with pytest.raises(ExpressionError):
        evaluate("[[0]*100]*101", {})  # counted through nested lists
    assert evaluate("(n + 1) // 2 * 3", {"n": 7}) == 12  # ordinary expressions still work
    assert evaluate("2 ** -2", {}) == 0.25


# -- expansion, files ---------------------------------------------------------------------------------


@pytest.mark.parametrize("layers", [
    "  - {op: conv, kernel: 1, repeat: 1000000000}\n",
    "  - {block: two, repeat: 600000}\n",
], ids=["layer", "block"])
def test_repeat_is_refused_before_expanding(tmp_path, layers):
    spec = write(tmp_path / "r.yaml", "name: r\ninput: {size: [8]}\nblocks:\n  two: {layers: [{op: conv, kernel: 1}, "
                 "{op: conv, kernel: 1}]}\nlayers:\n" + layers)
    proc = run(["analyze", str(spec)], memory=True)
    assert proc.returncode == 2
    assert "more than 1000000 layers" in located(proc.stderr, spec, 6)


def test_the_layer_limit_names_the_layer_that_passes_it(monkeypatch):
    from rfdesign.errors import SpecError
    from rfdesign.spec import expand, parse_spec

    monkeypatch.setattr(expand, "MAX_NODES", 10)
    text = "name: r\ninput: {size: [8]}\nlayers:\n  - {op: conv, kernel: 1, repeat: 10}\n  - {op: conv, kernel: 1}\n"
    with pytest.raises(SpecError) as info:
        parse_spec(text, "r.yaml")
    assert info.value.render().startswith("r.yaml:5:5: error: the spec expands to more than 10 layers")
    with pytest.raises(SpecError) as info:
        parse_spec(text.replace("repeat: 10", "repeat: 11"), "r.yaml")
    assert info.value.render().startswith("r.yaml:4:35: error: `repeat: 11` makes the spec expand to more than 10")


@pytest.mark.parametrize("name", ["fifo.yaml", "fifo.onnx", "fifo.cfg"])
def test_fifo_is_refused_without_blocking(tmp_path, name):
    path = tmp_path / name
    os.mkfifo(path)
    proc = run(["analyze", str(path)])
    assert proc.returncode == 2
    assert "FIFO" in one_error_line(proc.stderr)


def test_directory_is_refused(tmp_path):
    (tmp_path / "d.yaml").mkdir()
    proc = CliRunner().invoke(main, ["analyze", str(tmp_path / "d.yaml")])
    assert proc.exit_code == 2 and "is a directory, not a regular file" in one_error_line(proc.stderr)


# -- huge sizes and values ----------------------------------------------------------------------------


def global_pool(tmp_path: Path, size: int, channels: int = 3, out: int = 8) -> Path:
    return write(tmp_path / "gp.yaml", f"""\
        name: gp
        input: {{size: [{size}], channels: {channels}}}
        layers:
          - {{op: conv, out: {out}, kernel: 3, stride: 2}}
          - {{op: global_avg_pool}}
          - {{op: linear, out: 10}}
        """)


def test_global_pool_on_a_billion_units_costs_nothing(tmp_path):
    spec = global_pool(tmp_path, 10**9)
    proc = run(["analyze", str(spec), "-f", "json"], memory=True)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    pool = next(layer for layer in data["layers"] if layer["name"] == "global_avg_pool_1")
    assert pool["receptive_field"] == [10**9 - (10**9 - 3) % 2]  # every pixel the stride-2 conv reads


def test_check_on_a_billion_units_refuses_the_unit_walk_only(tmp_path):
    spec = global_pool(tmp_path, 10**9)
    proc = run(["check", str(spec)], memory=True)
    assert proc.returncode == 2
    assert "RF103 and RF107" in located(proc.stderr, spec, 2) and "more than the 16,777,216 it walks" in proc.stderr
    proc = run(["check", str(spec), "--ignore", "RF103,RF107"], memory=True)
    assert proc.returncode == 0, proc.stderr


def test_check_bounds_the_walk_over_many_wide_layers(tmp_path):
    """Found by the fuzz pass: 1,000,000 of padding on the first layer of an 800-layer network hung `check`."""
    text = (ZOO / "inception_resnet_v2.yaml").read_text()
    text = text.replace("{name: Conv2d_1a_3x3, op: conv, out: 32, kernel: 3, stride: 2, padding: valid}",
                        "{name: Conv2d_1a_3x3, op: conv, out: 32, kernel: 3, stride: 2, padding: 1000000}")
    spec = write(tmp_path / "wide.yaml", text)
    proc = run(["check", str(spec)], memory=True)
    assert proc.returncode == 2
    assert "walks every unit of every layer" in located(proc.stderr, spec)


@pytest.mark.parametrize("args,line,words", [
    (["analyze", "SPEC30"], 2, "above the limit of 2,147,483,647"),
    (["analyze", "SPEC", "--input-size", str(10**30)], None, "above the limit of 2,147,483,647"),
    (["analyze", "CHANNELS"], 2, "channels, above the limit of 16,777,216"),
    (["analyze", "OUT"], 4, "channels, above the limit of 16,777,216"),
])
def test_absurd_values_get_a_located_limit(tmp_path, args, line, words):
    paths = {
        "SPEC30": global_pool(tmp_path / "a", 10**30) if (tmp_path / "a").mkdir() is None else None,
        "SPEC": global_pool(tmp_path / "b", 64) if (tmp_path / "b").mkdir() is None else None,
        "CHANNELS": global_pool(tmp_path / "c", 64, channels=10**30) if (tmp_path / "c").mkdir() is None else None,
        "OUT": global_pool(tmp_path / "d", 64, out=10**30) if (tmp_path / "d").mkdir() is None else None,
    }
    used = paths[args[1]]
    result = CliRunner().invoke(main, [args[0], str(used), *args[2:]])
    assert result.exit_code == 2
    if line is None:
        assert words in one_error_line(result.stderr) and result.stderr.startswith("error: ")
    else:
        assert words in located(result.stderr, used, line)


@pytest.mark.parametrize("layer,words", [
    ("{op: upsample, factor: 1000000000}", "repeat only every 1,000,000,000 units"),
    ("{op: conv_transpose, kernel: 3, stride: 1000000000}", "repeat only every 1,000,000,000 units"),
    ("{op: conv, kernel: 3, padding: 1000000000000000000000000000000}", "above the limit of 2,147,483,647"),
])
def test_periods_and_sizes_beyond_the_limits(tmp_path, layer, words):
    spec = write(tmp_path / "p.yaml", f"name: p\ninput: {{size: [8]}}\nlayers:\n  - {layer}\n  - {{op: conv, kernel: 3}}\n")
    proc = run(["analyze", str(spec)], memory=True)
    assert proc.returncode == 2
    assert words in located(proc.stderr, spec, 4)


def test_a_kernel_of_a_billion_taps_is_cheap(tmp_path):
    spec = write(tmp_path / "k.yaml", "name: k\ninput: {size: [2000000000]}\nlayers:\n"
                 "  - {op: conv, kernel: 1000000000}\n  - {op: conv, kernel: 3, dilation: 7}\n")
    proc = run(["analyze", str(spec), "-f", "json"], memory=True)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["layers"][-1]["receptive_field"] == [10**9 + 14]


def test_verify_refuses_a_huge_input_before_torch(tmp_path):
    pytest.importorskip("torch")
    spec = global_pool(tmp_path, 10**9)
    script = ("import sys\nfrom rfdesign.cli import main\ntry:\n    main([\"verify\", sys.argv[1]])\n"
              "except SystemExit as exc:\n    print(exc.code, 'torch' in sys.modules)\n")
    proc = subprocess.run([sys.executable, "-c", script, str(spec)], capture_output=True, text=True, timeout=BOUND)
    assert proc.stdout.split() == ["2", "False"], (proc.stdout, proc.stderr)
    assert "up to 65,536 pixels along an axis" in located(proc.stderr, spec, 2)


def test_big_counts_render_exactly_rounded():
    assert si(8999 * 10**26 + 2176) == "9.00e+29"
    assert si(123_456_789_012_345) == "123.46T"


# -- the index maps, against their definitions -------------------------------------------------------


@given(st.integers(1, 12), st.integers(0, 15), st.integers(1, 40), st.integers(1, 6))
def test_transposed_map_matches_its_definition(stride, crop, kernel, dilation):
    taps = transposed_map(stride, crop, kernel, dilation).taps
    for v in range(stride):
        target = v + crop
        expected = sorted({(target - j * dilation) // stride for j in range(kernel)
                           if (target - j * dilation) % stride == 0})
        assert list(taps[v]) == expected


@given(st.integers(1, 30), st.integers(1, 30), st.integers(1, 30))
def test_window_gaps_in_closed_form(kernel, stride, dilation):
    taps = {v * stride + j * dilation for v in range(3) for j in range(kernel)}
    assert window_has_gaps(kernel, stride, dilation) == (len(taps) != max(taps) - min(taps) + 1)


def test_extents_over_positions_match_every_unit():
    """Branches of different strides drift apart: the bisection's extremes equal a walk over every unit."""
    from rfdesign.rf.analysis import _extents_over_positions
    from rfdesign.rf.maps import IDENTITY_GROUP, compose, resample_map, window_map

    from fractions import Fraction

    a = compose(compose(IDENTITY_GROUP, window_map(2, 1, 3)), window_map(1, 0, 5, 2))
    b = compose(compose(IDENTITY_GROUP, window_map(3, 0, 3)), resample_map(2, 3, Fraction(0), False))
    c = compose(IDENTITY_GROUP, window_map(5, 2, 7))
    for region in ((a, b), (a, c), (b, c), (a, b, c)):
        period = 1
        for g in region:
            period = period * g.period // __import__("math").gcd(period, g.period)
        for size in (1, 2, 5, 17, 64, 301):
            extents = []
            for v in range(size):
                live = [g for g in region if g.lo_at(v) is not None]
                if live:
                    extents.append(max(g.hi_at(v) for g in live) - min(g.lo_at(v) for g in live) + 1)
            assert _extents_over_positions(region, size, period) == (max(extents), min(extents)), (size, region)


# -- ONNX ---------------------------------------------------------------------------------------------


def test_onnx_stride_zero_says_so_with_the_node(tmp_path):
    onnx = pytest.importorskip("onnx")
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    nodes = [helper.make_node("Relu", ["x"], ["r"], name="first"),
             helper.make_node("Conv", ["r", "w"], ["y"], name="conv1", kernel_shape=[3, 3], strides=[0, 1])]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w")],
    )
    path = tmp_path / "s.onnx"
    onnx.save(helper.make_model(graph), str(path))
    result = CliRunner().invoke(main, ["analyze", str(path)])
    assert result.exit_code == 2
    line = one_error_line(result.stderr)
    assert line.startswith(f"{path}: error: Conv node 'conv1', graph.node[1]: `strides` [0, 1]: every value must be >= 1")


# -- sources that run code ----------------------------------------------------------------------------

MODELS = """\
import pathlib, sys, time
import torch

MARK = pathlib.Path(__file__).with_name("CALLED")


def build(width=4):
    with MARK.open("a") as handle:
        handle.write("called\\n")
    return torch.nn.Sequential(torch.nn.Conv2d(3, width, 3), torch.nn.ReLU())


class Net(torch.nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, channels, 3)

    def forward(self, x):
        return self.conv(x)


class Quits(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)

    def forward(self, x):
        sys.exit(0)


class Mine(BaseException):
    pass


def interrupts():
    raise KeyboardInterrupt


def raises_its_own():
    raise Mine("mine")


def slow():
    pathlib.Path(__file__).with_name("STARTED").touch()
    time.sleep(60)
"""


@pytest.fixture
def models(tmp_path):
    pytest.importorskip("torch")
    (tmp_path / "usermodels.py").write_text(MODELS)
    (tmp_path / "quitsonimport.py").write_text("raise SystemExit(0)\n")
    return tmp_path


def env_for(directory: Path) -> dict[str, str]:
    return {"PYTHONPATH": str(directory), "TMPDIR": str(directory / "tmp")}


def check_each(proc: subprocess.CompletedProcess, sources: dict[str, str]) -> None:
    """``check`` over several sources: exit 2, and each source's one located line says what it should."""
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr
    assert len(lines) == len(sources), proc.stderr
    for line, (source, words) in zip(lines, sources.items()):
        assert line.startswith(f"{source}: error: ") and words in line, (source, line)
    assert f"{len(sources)} specs could not be checked" in proc.stdout or len(sources) == 1


FUNCTIONS = ["tempfile:mkdtemp", "code:interact", "pdb:set_trace", "builtins:exit", "usermodels:build", "os:system"]


@pytest.mark.torch
def test_a_function_is_not_called_unless_written_as_a_call(models):
    (models / "tmp").mkdir()
    proc = run(["check", *FUNCTIONS], env=env_for(models), stdin=subprocess.PIPE)
    check_each(proc, {source: "not an nn.Module class" for source in FUNCTIONS})
    assert all(f"'{source}()'" in line for source, line in zip(FUNCTIONS, proc.stderr.splitlines()))
    assert not (models / "CALLED").exists() and not list((models / "tmp").iterdir())


@pytest.mark.torch
def test_an_explicit_call_runs_once_with_its_arguments(models):
    proc = run(["analyze", "usermodels:build(width=6)", "-f", "json"], env=env_for(models))
    assert proc.returncode == 0, proc.stderr
    assert (models / "CALLED").read_text() == "called\n"
    assert json.loads(proc.stdout)["layers"][0]["channels"] == 6


BAD_CALLS = {
    "usermodels:build(__import__('os').getcwd())": "must be Python literals",
    "usermodels:build(width=4, height=3)": "unexpected keyword argument 'height'",
    "usermodels:Net": "Net(channels=...)",
    "usermodels:nothing": "has no attribute 'nothing'",
    "nosuchmodule_xyz:Net": "cannot import module 'nosuchmodule_xyz'",
}


@pytest.mark.torch
def test_bad_calls_are_refused_before_calling(models):
    check_each(run(["check", *BAD_CALLS], env=env_for(models)), BAD_CALLS)
    assert not (models / "CALLED").exists()


@pytest.mark.torch
def test_python_m_does_not_import_from_the_current_directory(tmp_path):
    (tmp_path / "evilmod.py").write_text("import pathlib\npathlib.Path('IMPORTED').touch()\n"
                                         "def f():\n    pathlib.Path('CALLED').touch()\n")
    proc = run(["analyze", "evilmod:f()"], cwd=tmp_path)
    assert proc.returncode == 2
    assert "cannot import module 'evilmod'" in one_error_line(proc.stderr)
    assert not (tmp_path / "IMPORTED").exists() and not (tmp_path / "CALLED").exists()


EXITS = {
    "builtins:exit()": "called exit",
    "quitsonimport:Net": "importing module 'quitsonimport' called exit",
    "usermodels:Quits": "called exit (SystemExit(0))",
    "usermodels:interrupts()": "failed: KeyboardInterrupt",
    "usermodels:raises_its_own()": "failed: Mine: mine",
}


@pytest.mark.torch
def test_check_reports_every_source_when_some_exit(models):
    specs = [str(ZOO / "alexnet_v2.yaml"), str(ZOO / "unet.yaml")]
    sources = list(EXITS)
    proc = run(["check", specs[0], *sources[:2], specs[1], *sources[2:]], env=env_for(models))
    check_each(proc, EXITS)
    assert f"in {len(EXITS) + 2} specs" in proc.stdout
    assert "alexnet_v2.yaml:" in proc.stdout and "unet.yaml:" in proc.stdout  # their findings


@pytest.mark.torch
@pytest.mark.parametrize("fmt", ["sarif", "json"])
def test_check_reports_an_exiting_source_in_every_format(models, fmt):
    specs = [str(ZOO / "alexnet_v2.yaml"), str(ZOO / "unet.yaml")]
    proc = run(["check", *specs, "builtins:exit()", "-f", fmt], env=env_for(models))
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    text = proc.stdout if fmt == "github" else json.dumps(json.loads(proc.stdout))
    assert "builtins:exit()" in text and "called exit" in text
    assert "alexnet_v2.yaml" in text and "unet.yaml" in text


@pytest.mark.torch
def test_a_real_interrupt_still_stops_the_run(models):
    environment = dict(os.environ, **env_for(models))
    process = subprocess.Popen([sys.executable, "-m", "rfdesign", "analyze", "usermodels:slow()"], env=environment,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + BOUND
        while not (models / "STARTED").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (models / "STARTED").exists()
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=BOUND)
    finally:
        process.kill()
    assert process.returncode == 130, stderr
    assert stderr.strip() == "interrupted"


# -- writes -------------------------------------------------------------------------------------------

SOLVE = """\
name: NAME
input: {size: [64, 64], channels: 3}
target: {receptive_field: {min: 5, max: 13}, top_k: 2}
layers:
  - {op: conv, out: 8, kernel: {choose: [3, 5]}, stride: {choose: [1, 2]}}
  - {op: conv, out: 8, kernel: {choose: [3, 5]}, stride: {choose: [1, 2]}}
"""


def everything(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.mark.parametrize("name,stem", [
    ('"../../escaped"', "escaped"),
    ("/tmp/absolute", "tmp_absolute"),
    ('"a\\0b"', "a_b"),
    ("x" * 300, "x" * 100),
    ('".."', "spec"),
])
def test_solve_out_keeps_files_inside_the_directory(tmp_path, name, stem):
    spec = write(tmp_path / "s.yaml", SOLVE.replace("NAME", name))
    out = tmp_path / "a" / "b" / "out"
    before = everything(tmp_path)
    result = CliRunner().invoke(main, ["solve", "-q", str(spec), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [f"{stem}_1.yaml", f"{stem}_2.yaml"]
    assert everything(tmp_path) - before == {"a", "a/b", "a/b/out"} | {f"a/b/out/{stem}_{k}.yaml" for k in (1, 2)}
    assert not Path("/tmp/absolute_1.yaml").exists()


def test_solve_out_checks_every_target_before_writing_any(tmp_path):
    spec = write(tmp_path / "s.yaml", SOLVE.replace("NAME", "part"))
    out = tmp_path / "out"
    out.mkdir()
    (out / "part_2.yaml").write_text("keep\n")
    result = CliRunner().invoke(main, ["solve", "-q", str(spec), "--out", str(out)])
    assert result.exit_code == 2
    assert "part_2.yaml exists; not overwriting it" in one_error_line(result.stderr)
    assert sorted(p.name for p in out.iterdir()) == ["part_2.yaml"] and (out / "part_2.yaml").read_text() == "keep\n"
    assert CliRunner().invoke(main, ["solve", "-q", str(spec), "--out", str(out), "--force"]).exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == ["part_1.yaml", "part_2.yaml"]  # no temporary file left


def test_a_dangling_symlink_is_not_written_through(tmp_path):
    link, target = tmp_path / "model.py", tmp_path / "elsewhere.py"
    link.symlink_to(target)
    spec = str(ZOO / "unet.yaml")
    result = CliRunner().invoke(main, ["export", spec, "-o", str(link)])
    assert result.exit_code == 2 and "a symlink to" in one_error_line(result.stderr)
    assert not target.exists() and link.is_symlink()
    result = CliRunner().invoke(main, ["export", spec, "-o", str(link), "--force"])
    assert result.exit_code == 0
    assert not target.exists() and not link.is_symlink() and "class" in link.read_text()  # the link itself replaced


@pytest.mark.parametrize("args,words", [
    (["export", "UNET", "-o", "DIR", "--force"], "is a directory"),
    (["export", "UNET", "-o", "/proc/nope/x.py"], "cannot write /proc/nope/x.py"),
    (["export", "UNET", "-o", "FILE/x.py"], "is not a directory"),
    (["import", "UNET", "-o", "DIR"], "is a directory"),
    (["solve", "SOLVE", "--out", "FILE"], "is not a directory"),
])
def test_unwritable_targets_are_one_line_errors(tmp_path, args, words):
    (tmp_path / "dir").mkdir()
    (tmp_path / "file").write_text("x")
    solve = write(tmp_path / "s.yaml", SOLVE.replace("NAME", "s"))
    names = {"UNET": str(ZOO / "unet.yaml"), "DIR": str(tmp_path / "dir"), "FILE": str(tmp_path / "file"),
             "FILE/x.py": str(tmp_path / "file" / "x.py"), "SOLVE": str(solve)}
    before = everything(tmp_path)
    result = CliRunner().invoke(main, [names.get(a, a) for a in args] + (["-q"] if args[0] == "solve" else []))
    assert result.exit_code == 2, result.output
    assert words in one_error_line(result.stderr)
    assert everything(tmp_path) == before


@given(st.text(max_size=300))
def test_safe_file_stem_stays_inside(text):
    stem = safe_file_stem(text)
    assert stem and len(stem) <= 100 and not stem.startswith(".") and "/" not in stem and "\0" not in stem
    assert os.path.dirname(os.path.normpath(os.path.join("out", stem + "_1.yaml"))) == "out"
