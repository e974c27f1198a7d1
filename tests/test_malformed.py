"""Bad input gets one clear line with file:line:col, and exit code 2 — never a traceback.

Each case is a malformed spec, the (line, column) the message must point at,
and words the message must contain.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from click.testing import CliRunner

from rfdesign.cli import main

HEADER = "name: x\ninput: {size: [8, 8]}\n"

CASES = [
    # id, spec text, (line, col), words expected in the message
    ("yaml-syntax", HEADER + "layers:\n  - {op: conv, kernel: 3\n", (5, 1), ["YAML syntax error"]),
    ("tab-indent", "name: x\ninput:\n\tsize: [8, 8]\n", (3, 1), ["tabs"]),
    ("unknown-op", HEADER + "layers:\n  - {op: convv, kernel: 3}\n", (4, 10), ["unknown op", "did you mean `conv`"]),
    ("misspelled-key", HEADER + "layers:\n  - {op: conv, kernal: 3}\n", (4, 16), ["unknown key `kernal`", "did you mean `kernel`"]),
    ("misspelled-top-key", HEADER + "layerz:\n  - {op: conv, kernel: 1}\n", (3, 1), ["unknown key `layerz`", "`layers`"]),
    ("misspelled-input-key", "name: x\ninput: {size: [8, 8], chanels: 3}\nlayers: [{op: conv, kernel: 1}]\n", (2, 23), ["chanels", "`channels`"]),
    ("missing-kernel", HEADER + "layers:\n  - {op: conv, out: 8}\n", (4, 5), ["missing required key `kernel`"]),
    ("missing-input", "name: x\nlayers: [{op: conv, kernel: 1}]\n", (1, 1), ["missing required key `input`"]),
    ("zero-kernel", HEADER + "layers:\n  - {op: conv, kernel: 0}\n", (4, 24), ["`kernel` must be >= 1, got 0"]),
    ("negative-stride", HEADER + "layers:\n  - {op: conv, kernel: 3, stride: -1}\n", (4, 35), ["`stride` must be >= 1, got -1"]),
    ("negative-padding", HEADER + "layers:\n  - {op: conv, kernel: 3, padding: -2}\n", (4, 36), ["`padding` must be >= 0"]),
    ("string-kernel", HEADER + "layers:\n  - {op: conv, kernel: 3x3}\n", (4, 24), ["`kernel` must be", "'3x3'"]),
    ("bad-padding-word", HEADER + "layers:\n  - {op: conv, kernel: 3, padding: samee}\n", (4, 36), ["`padding` must be", "samee"]),
    ("wrong-axis-count", HEADER + "layers:\n  - {op: conv, kernel: [3, 3, 3]}\n", (4, 24), ["3 entries", "2 spatial axes"]),
    ("dangling-from", HEADER + "layers:\n  - {name: a, op: conv, kernel: 1}\n  - {op: conv, kernel: 1, from: aa}\n", (5, 33), ["`aa`", "not defined", "did you mean `a`"]),
    ("dangling-output", HEADER + "layers:\n  - {op: conv, kernel: 1}\noutput: conv_2\n", (5, 9), ["`output` refers to `conv_2`", "`conv_1`"]),
    ("cycle", HEADER + "layers:\n  - {name: a, op: conv, kernel: 1, from: b}\n  - {name: b, op: conv, kernel: 1, from: a}\n", (5, 5), ["cycle"]),
    ("concat-size-mismatch", HEADER + "layers:\n  - {name: a, op: conv, kernel: 3}\n  - {name: b, op: conv, kernel: 1, from: input}\n  - {op: concat, from: [a, b]}\n", (6, 5), ["differ in size", "6x6", "8x8"]),
    ("add-channel-mismatch", HEADER + "layers:\n  - {name: a, op: conv, kernel: 1, out: 4}\n  - {name: b, op: conv, kernel: 1, out: 5, from: input}\n  - {op: add, from: [a, b]}\n", (6, 5), ["differ in channels"]),
    ("empty-output", HEADER + "layers:\n  - {op: conv, kernel: 11}\n", (4, 5), ["output would be empty", "effective kernel 11"]),
    ("groups-not-dividing", HEADER + "layers:\n  - {op: conv, kernel: 3, out: 8, groups: 2}\n", (4, 5), ["not divisible by groups"]),
    ("duplicate-name", HEADER + "layers:\n  - {name: a, op: conv, kernel: 1}\n  - {name: a, op: conv, kernel: 1}\n", (5, 5), ["duplicate layer name `a`"]),
    ("duplicate-key", "name: x\ninput: {size: [8, 8]}\ninput: {size: [8, 8]}\nlayers: [{op: conv, kernel: 1}]\n", (3, 1), ["duplicate key 'input'"]),
    ("merge-one-input", HEADER + "layers:\n  - {op: add, from: input}\n", (4, 21), ["at least 2"]),
    ("too-many-axes", "name: x\ninput: {size: [8, 8, 8, 8]}\nlayers: [{op: conv, kernel: 1}]\n", (2, 15), ["1 to 3 ints"]),
    ("not-a-mapping", "- just\n- a list\n", (1, 1), ["must be a mapping"]),
    ("empty-file", "", (1, 1), ["must be a mapping"]),
    ("unsafe-tag", "name: !!python/object/apply:os.system ['echo hi']\ninput: {size: [8]}\nlayers: [{op: conv, kernel: 1}]\n", (1, 7), ["tag", "not allowed"]),
    ("deep-nesting", "name: x\nv: " + "[" * 100 + "]" * 100 + "\n", (2, 67), ["nesting deeper than 64"]),
    ("alias-bomb", "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\nname: x\ninput: {size: [8]}\nlayers: [{op: conv, kernel: 1}]\n", None, ["alias"]),
    ("unknown-block", HEADER + "blocks:\n  b: {layers: [{op: conv, kernel: 1}]}\nlayers:\n  - {block: c}\n", (6, 13), ["unknown block `c`"]),
    ("unknown-block-param", HEADER + "blocks:\n  b: {params: {k: 3}, layers: [{op: conv, kernel: $k}]}\nlayers:\n  - {block: b, kk: 3}\n", (6, 20), ["no parameter `kk`", "did you mean `k`"]),
    ("bad-expression", HEADER + "blocks:\n  b: {params: {k: 3}, layers: [{op: conv, kernel: '${kk + 1}'}]}\nlayers:\n  - {block: b}\n", (4, 51), ["unknown parameter 'kk'"]),
    ("free-choice-in-analyze", HEADER + "layers:\n  - {op: conv, kernel: {choose: [1, 3]}}\n", (4, 5), ["free choice"]),
    ("two-documents", HEADER + "layers: [{op: conv, kernel: 1}]\n---\nname: y\n", (4, 1), ["more than one YAML document"]),
    ("crop-like-too-big", HEADER + "layers:\n  - {name: big, op: upsample, factor: 2}\n  - {op: crop, from: input, like: big}\n", (5, 5), ["cannot crop"]),
]

LOCATION = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+):(?P<col>\d+): error: ")


def _run(path: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["analyze", path])
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("case_id,text,position,words", CASES, ids=[c[0] for c in CASES])
def test_malformed_spec(tmp_path, case_id, text, position, words):
    path = tmp_path / f"{case_id}.yaml"
    path.write_text(text)
    code, out, err = _run(str(path))
    assert code == 2, (out, err)
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    match = LOCATION.match(lines[0])
    assert match, lines[0]
    assert match["file"] == str(path)
    if position is not None:
        assert (int(match["line"]), int(match["col"])) == position, lines[0]
    for word in words:
        assert word in lines[0]
    assert "Traceback" not in err


def test_non_utf8_bytes(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(HEADER.encode() + b"layers:\n  - {op: conv, kernel: 3, note: caf\xe9}\n")
    code, _, err = _run(str(path))
    assert code == 2
    assert re.match(r".*latin1\.yaml:4:36: error: the file is not valid UTF-8", err.strip())


def test_fifty_megabyte_file(tmp_path):
    path = tmp_path / "huge.yaml"
    with open(path, "wb") as handle:
        handle.write(HEADER.encode())
        handle.write(b"#" * (50 * 2**20))
    code, _, err = _run(str(path))
    assert code == 2
    assert "huge.yaml:1:1: error: file is 50.0 MiB" in err.strip()


def test_missing_file(tmp_path):
    code, _, err = _run(str(tmp_path / "nope.yaml"))
    assert code == 2
    assert "cannot read" in err and len(err.strip().splitlines()) == 1


def test_real_entry_point_exit_code(tmp_path):
    """The installed command, not only click's runner: exit 2, one line, no traceback."""
    path = tmp_path / "bad.yaml"
    path.write_text(HEADER + "layers:\n  - {op: convv, kernel: 3}\n")
    proc = subprocess.run([sys.executable, "-m", "rfdesign", "analyze", str(path)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
