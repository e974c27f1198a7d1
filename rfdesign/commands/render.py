"""Rendering of library results for people (tables, markdown) and machines (CSV, JSON).

The CLI and the service import this module; the rest of the library returns data.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

from rfdesign.commands.jsonout import json_text, write_json  # noqa: F401 - the JSON renderers live there
from rfdesign.rf.analysis import Analysis, LayerResult
from rfdesign.rf.report import number


def axes_text(values: Sequence[Any]) -> str:
    """Per-axis values compactly: ``3`` when all axes agree, else ``7x1``."""
    texts = ["-" if v is None else str(number(v) if isinstance(v, Fraction) else v) for v in values]
    if len(set(texts)) == 1:
        return texts[0]
    return "x".join(texts)


def si(count: int) -> str:
    """A count with an SI suffix: 1.2M, 3.4G; from 10**15 on, scientific (1.23e+18), rounded exactly."""
    if abs(count) >= 10**15:
        from decimal import Decimal

        return format(Decimal(count), ".2e")
    for limit, suffix in ((10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "k")):
        if abs(count) >= limit:
            return f"{count / limit:.2f}{suffix}"
    return str(count)


def aligned_table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool]) -> str:
    """A plain-text table whose columns line up; numeric columns right-aligned."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def line(cells: Sequence[str]) -> str:
        parts = [c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right)]
        return "  ".join(parts).rstrip()

    out = [line(headers), line(["-" * w for w in widths])]
    out.extend(line(row) for row in rows)
    return "\n".join(out)


def _rf_text(layer: LayerResult) -> str:
    largest = axes_text(layer.axis_values("receptive_field"))
    if all(axis.uniform for axis in layer.axes):
        return largest
    return axes_text(layer.axis_values("receptive_field_position_min")) + ".." + largest


def _flags(layer: LayerResult) -> str:
    flags = []
    if not layer.aligned and layer.misalignment:
        flags.append("misaligned")
    if layer.global_context and layer.geometry.gate_inputs:
        flags.append("global-context")
    return ",".join(flags)


HEADERS = ("layer", "op", "output", "rf", "rf_min", "stride", "padding", "params", "flops", "notes")
RIGHT = (False, False, True, True, True, True, True, True, True, False)


def layer_row(layer: LayerResult) -> list[str]:
    size = axes_text(layer.output_size) if len(set(layer.output_size)) == 1 else "x".join(map(str, layer.output_size))
    return [
        layer.name,
        layer.op,
        f"{size}x{layer.channels}",
        _rf_text(layer),
        axes_text(layer.axis_values("receptive_field_min")),
        axes_text(layer.axis_values("effective_stride")),
        axes_text(layer.axis_values("effective_padding")),
        si(layer.params),
        si(layer.flops),
        _flags(layer),
    ]


def summary_lines(analysis: Analysis, layer: LayerResult) -> list[str]:
    lines = [
        f"{analysis.name}: input {'x'.join(map(str, analysis.input_size))}, output `{layer.name}` "
        f"{'x'.join(map(str, layer.output_size))}x{layer.channels}",
        f"receptive field {axes_text(layer.axis_values('receptive_field'))}"
        f" (shortest path {axes_text(layer.axis_values('receptive_field_min'))}),"
        f" effective stride {axes_text(layer.axis_values('effective_stride'))},"
        f" effective padding {axes_text(layer.axis_values('effective_padding'))}",
        f"params {analysis.params:,} ({si(analysis.params)}), multiply-adds {analysis.flops:,} ({si(analysis.flops)})",
    ]
    if not all(axis.uniform for axis in layer.axes):
        lines.append(
            "note: after upsampling, output units see regions of different sizes: "
            f"{axes_text(layer.axis_values('receptive_field_position_min'))} to "
            f"{axes_text(layer.axis_values('receptive_field'))} input pixels depending on position"
        )
    misaligned = [item for item in analysis.layers.values() if item.misalignment]
    if misaligned:
        names = ", ".join(f"`{item.name}`" for item in misaligned[:5])
        more = f" and {len(misaligned) - 5} more" if len(misaligned) > 5 else ""
        lines.append(f"warning: misaligned merges (branch strides or RF centres differ): {names}{more}")
    if layer.global_context:
        lines.append("note: a gate multiplies by a globally pooled branch: every unit also depends on the whole input")
    for name in analysis.outputs[1:]:
        other = analysis.layers[name]
        lines.append(
            f"also output `{name}` {'x'.join(map(str, other.output_size))}x{other.channels}: receptive field "
            f"{axes_text(other.axis_values('receptive_field'))}, effective stride "
            f"{axes_text(other.axis_values('effective_stride'))}, effective padding "
            f"{axes_text(other.axis_values('effective_padding'))}"
        )
    return lines


def table(analysis: Analysis, layers: Sequence[LayerResult], focus: LayerResult) -> str:
    rows = [layer_row(layer) for layer in layers]
    body = aligned_table(HEADERS, rows, RIGHT)
    return body + "\n\n" + "\n".join(summary_lines(analysis, focus))


def markdown(analysis: Analysis, layers: Sequence[LayerResult], focus: LayerResult) -> str:
    def escape(cell: str) -> str:
        return cell.replace("|", "\\|")

    lines = ["| " + " | ".join(HEADERS) + " |"]
    lines.append("|" + "|".join("---:" if r else "---" for r in RIGHT) + "|")
    for layer in layers:
        lines.append("| " + " | ".join(escape(c) for c in layer_row(layer)) + " |")
    return "\n".join(lines) + "\n\n" + "\n".join(f"- {line}" for line in summary_lines(analysis, focus))


CSV_FIELDS = (
    "receptive_field",
    "receptive_field_min",
    "receptive_field_position_min",
    "effective_stride",
    "effective_padding",
)


def csv_text(analysis: Analysis, layers: Sequence[LayerResult]) -> str:
    dims = len(analysis.input_size)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    header = ["name", "op", "channels", "params", "flops", "aligned"]
    header += [f"output_size_{axis + 1}" for axis in range(dims)]
    for field in CSV_FIELDS:
        header += [f"{field}_{axis + 1}" for axis in range(dims)]
    writer.writerow(header)
    for layer in layers:
        row: list[Any] = [layer.name, layer.op, layer.channels, layer.params, layer.flops, str(layer.aligned).lower()]
        row += list(layer.output_size)
        for field in CSV_FIELDS:
            row += [number(v) for v in layer.axis_values(field)]
        writer.writerow(row)
    return buffer.getvalue().rstrip("\n")
