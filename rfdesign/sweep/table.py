"""The results table: one row per point and rank, its Pareto marks, and CSV or Parquet files.

Columns, in order (docs/sweep.md is the contract):

``point`` (index in the sweep), ``key`` (content hash), ``template``, one column
per axis (the value as written: a number, or text such as ``4:16`` or
``320x240``), ``target_rf`` (the window solved for, in pixels), ``status``,
``rank`` (1 for the best design of the point; empty when there is none),
``objective`` (what was minimised), ``params``, ``flops``, ``depth``, and what
the design reaches: ``rf`` (receptive field), ``stride`` (effective stride,
exact: ``1/2`` after upsampling) and ``output`` (output size), each per-axis
text (``183``, or ``183x91`` when the axes differ), ``rf_margin``, ``time`` (seconds for the point),
``method``, ``lower_bound``, ``message``, ``pareto`` (with objectives), ``spec``
(the design as spec YAML).
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Sequence
from typing import Any

from rfdesign import __version__
from rfdesign.errors import SpecError, require
from rfdesign.sweep.options import value_cell
from rfdesign.sweep.pareto import non_dominated, oriented
from rfdesign.sweep.runner import SweepRun

Row = dict[str, Any]

RESULT_COLUMNS = ("target_rf", "status", "rank", "objective", "params", "flops", "depth", "rf", "stride", "output",
                  "rf_margin", "time", "method", "lower_bound", "message")
INTEGER_COLUMNS = frozenset({"point", "rank", "params", "flops", "depth", "rf_margin", "lower_bound"})
FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
MARKER = b"rfdesign.sweep"


def _per_axis(values: Sequence[Any]) -> int | str:
    """One per-axis figure: the number when every axis agrees (so the column stays numeric), else ``183x91``."""
    texts = [str(v) for v in values]
    if len(set(texts)) == 1:
        return int(texts[0]) if texts[0].isdigit() else texts[0]
    return "x".join(texts)


def _window(target: Any) -> str | None:
    if target is None:
        return None
    texts = []
    for low, high in target:
        texts.append(str(low) if low == high else f"{'' if low is None else low}:{'' if high is None else high}")
    return texts[0] if len(set(texts)) == 1 else "x".join(texts)


def columns(run: SweepRun, objectives: Sequence[str] = ()) -> list[str]:
    names = ["point", "key", "template", *run.sweep.axes, *RESULT_COLUMNS]
    if objectives:
        names.append("pareto")
    return names + ["spec"]


def rows(run: SweepRun, objectives: Sequence[str] = ()) -> list[Row]:
    """Every point and rank in sweep order; with ``objectives``, the ``pareto`` column marks the front."""
    sweep = run.sweep
    table: list[Row] = []
    for point in sweep.points:
        base: Row = {"point": point.index, "key": point.key, "template": sweep.templates[point.template].name}
        for axis in sweep.axes:
            base[axis] = value_cell(axis, point.values[axis]) if axis in point.values else None
        result = run.results.get(point.key)
        if result is None:
            table.append({**base, "status": "error", "message": f"internal error: {run.failures.get(point.key, '?')}"})
            continue
        common = {
            "target_rf": _window(result.get("target_rf")),
            "status": result["status"],
            "objective": result.get("objective"),
            "time": round(float(result["time"]), 6),
            "method": result.get("method") or None,
            "lower_bound": result.get("lower_bound"),
            "message": result.get("message") or None,
        }
        if not result["proposals"]:
            table.append({**base, **common})
        for proposal in result["proposals"]:
            table.append({
                **base,
                **common,
                "rank": proposal["rank"],
                "params": proposal["params"],
                "flops": proposal["flops"],
                "depth": proposal["depth"],
                "rf": _per_axis(proposal["receptive_field"]),
                "stride": _per_axis(proposal["effective_stride"]),
                "output": _per_axis(proposal["output_size"]),
                "rf_margin": proposal["rf_margin"],
                "spec": proposal["spec"],
            })
    names = columns(run, objectives)
    if objectives:
        designs = [index for index, row in enumerate(table) if row.get("rank") is not None]
        front = non_dominated([oriented(table[index], objectives) for index in designs])
        on_front = {designs[index] for index in front}
        for index, row in enumerate(table):
            row["pareto"] = index in on_front
    return [{name: row.get(name) for name in names} for row in table]


def output_format(path: str) -> str:
    """``csv`` or ``parquet`` from the file's suffix."""
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in FORMATS:
        raise SpecError(f"cannot tell the table format of {path!r} from its suffix",
                        hint="name it .csv, or .parquet (needs pyarrow: pip install 'rfdesign[sweep]')")
    return FORMATS[suffix]


def front_path(path: str) -> str:
    """Where the Pareto front goes beside the table: ``results.csv`` -> ``results.pareto.csv``."""
    stem, suffix = os.path.splitext(path)
    return f"{stem}.pareto{suffix}"


def written_by_sweep(path: str) -> bool:
    """Whether ``path`` holds a table this command wrote (so a rerun may replace it)."""
    try:
        if output_format(path) == "csv":
            with open(path, encoding="utf-8", newline="") as handle:
                return handle.readline().startswith("point,key,template")
        parquet = require("pyarrow.parquet", "sweep")
        metadata = parquet.read_schema(path).metadata or {}
        return MARKER in metadata
    except (OSError, ValueError, SpecError):
        return False
    except Exception:  # noqa: BLE001 - pyarrow's errors for a file that is not Parquet
        return False


def write_table(table: Sequence[Row], names: Sequence[str], path: str) -> None:
    """Write ``table`` as CSV or Parquet (by suffix), atomically: a reader never sees half a file."""
    kind = output_format(path)
    if kind == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(names), lineterminator="\n")
        writer.writeheader()
        for row in table:
            writer.writerow({k: ("true" if v is True else "false" if v is False else v) for k, v in row.items()})
        _atomic(path, lambda handle: handle.write(buffer.getvalue().encode("utf-8")))
        return
    pyarrow = require("pyarrow", "sweep")
    parquet = require("pyarrow.parquet", "sweep")
    types = {name: _arrow_type(pyarrow, name, [row.get(name) for row in table]) for name in names}
    convert = {name: str if kind == pyarrow.string() else float if kind == pyarrow.float64() else None
               for name, kind in types.items()}
    data = [{name: value if value is None or convert[name] is None else convert[name](value)
             for name, value in row.items()} for row in table]
    schema = pyarrow.schema([pyarrow.field(name, types[name]) for name in names],
                            metadata={MARKER: f"rfdesign {__version__}".encode()})
    arrow_table = pyarrow.Table.from_pylist(data, schema=schema)
    _atomic(path, lambda handle: parquet.write_table(arrow_table, handle))


def _arrow_type(pyarrow: Any, name: str, values: list[Any]) -> Any:
    present = [v for v in values if v is not None]
    if name in INTEGER_COLUMNS or present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return pyarrow.int64()
    if name == "pareto" or present and all(isinstance(v, bool) for v in present):
        return pyarrow.bool_()
    if present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return pyarrow.float64()
    return pyarrow.string()


def _atomic(path: str, write: Any) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=".rfdesign-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            write(handle)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
