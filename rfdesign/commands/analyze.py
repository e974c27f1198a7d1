"""``rfdesign analyze``: a graph and the command's options in, the text it prints out.

:func:`analysis_output` is what both the CLI and ``POST /v1/analyze`` call,
so the service answers with exactly what the command prints.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rfdesign.commands import render
from rfdesign.commands.args import per_axis
from rfdesign.errors import SpecError
from rfdesign.rf.analysis import Analysis, LayerResult
from rfdesign.spec.graph import Graph

FORMATS = ("table", "json", "markdown", "csv")


def find_layer(result: Analysis, name: str) -> LayerResult:
    """The layer called ``name``, or a SpecError with the nearest names."""
    from rfdesign.spec.suggest import did_you_mean

    if name not in result.layers:
        raise SpecError(f"no layer named `{name}`", hint=did_you_mean(name, result.layers))
    return result.layers[name]


def coordinates_data(result: Analysis, focus: LayerResult, unit: tuple[int, ...] | None,
                     pixel: tuple[int, ...] | None) -> dict[str, Any]:
    """The input box one unit of ``focus`` sees (``unit``), and the units that see one input pixel (``pixel``)."""
    from rfdesign.rf import unit_box, units_seeing

    data: dict[str, Any] = {"layer": focus.name}
    if unit is not None:
        box = unit_box(focus, unit)
        data["unit"] = list(unit)
        data["box"] = [list(b) if b is not None else None for b in box]
    if pixel is not None:
        seen = units_seeing(focus, pixel, result.input_size)
        data["pixel"] = list(pixel)
        data["units"] = [list(r) if r is not None else None for r in seen]
    return data


def coordinates_text(data: dict[str, Any]) -> str:
    lines = []
    if "box" in data:
        spans = " x ".join(f"[{b[0]}, {b[1]}]" if b else "nothing" for b in data["box"])
        lines.append(f"unit {data['unit']} of `{data['layer']}` sees input {spans}")
    if "units" in data:
        spans = " x ".join(f"[{r[0]}, {r[1]}]" if r else "none" for r in data["units"])
        lines.append(f"input pixel {data['pixel']} is seen by units {spans} of `{data['layer']}`")
    return "\n".join(lines)


def write_analysis(
    graph: Graph,
    write: Callable[[str], object],
    fmt: str = "table",
    input_size: tuple[int, ...] | None = None,
    layer: str | None = None,
    unit: tuple[int, ...] | None = None,
    pixel: tuple[int, ...] | None = None,
) -> None:
    """Write what ``rfdesign analyze`` prints for ``graph`` and these options, final newline included.

    ``write`` receives the text in pieces (a large JSON report is streamed, never one string).
    ``input_size`` (one value, or one per axis) overrides the spec's; ``layer`` shows one layer and is
    the layer ``unit`` / ``pixel`` refer to (else the output). Raises SpecError on a bad option, before
    anything is written.
    """
    from rfdesign.rf import analyze as run_analysis
    from rfdesign.rf.report import analysis_data, iter_layer_data, layer_data

    if fmt not in FORMATS:
        raise SpecError(f"unknown analyze format {fmt!r}", hint=f"formats: {', '.join(FORMATS)}")
    size = per_axis(input_size, graph.dims, "--input-size")
    result = run_analysis(graph, size)
    focus = result.output if layer is None else find_layer(result, layer)
    if unit is not None or pixel is not None:
        data = coordinates_data(result, focus, unit, pixel)
        write((render.json_text(data) if fmt == "json" else coordinates_text(data)) + "\n")
        return
    shown = [focus] if layer is not None else list(result.layers.values())
    if fmt == "json" and layer is not None:
        write(render.json_text(layer_data(result, focus)) + "\n")
    elif fmt == "json":
        data = analysis_data(result, layers=False)
        data["layers"] = iter_layer_data(result)  # streamed: the report never exists as one list or one string
        render.write_json(data, write)
        write("\n")
    elif fmt == "csv":
        write(render.csv_text(result, shown) + "\n")
    elif fmt == "markdown":
        write(render.markdown(result, shown, focus) + "\n")
    else:
        write(render.table(result, shown, focus) + "\n")


def analysis_output(graph: Graph, fmt: str = "table", input_size: tuple[int, ...] | None = None,
                    layer: str | None = None, unit: tuple[int, ...] | None = None,
                    pixel: tuple[int, ...] | None = None) -> str:
    """What ``rfdesign analyze`` prints, as one string (see :func:`write_analysis`)."""
    parts: list[str] = []
    write_analysis(graph, parts.append, fmt, input_size, layer, unit, pixel)
    return "".join(parts)
