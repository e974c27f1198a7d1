"""The ``rfdesign`` command line: parse, call the library, render.

Heavy modules (pydantic, z3, torch, onnx) are imported inside the commands
that need them, so ``rfdesign --help`` starts fast.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any

import click

from rfdesign import __version__
from rfdesign.errors import MissingExtraError, SpecError

EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3


def handle_errors(function: Callable[..., Any]) -> Callable[..., Any]:
    """Turn library errors into one line on stderr and exit code 2 (never a traceback)."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except SpecError as exc:
            click.echo(exc.render(), err=True)
            sys.exit(EXIT_BAD_INPUT)
        except MissingExtraError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_BAD_INPUT)
        except RecursionError:
            click.echo("error: the input nests too deeply to process", err=True)
            sys.exit(EXIT_BAD_INPUT)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)
        except Exception as exc:  # noqa: BLE001 - last resort: a bug, reported without a wall of text
            if os.environ.get("RFDESIGN_DEBUG"):
                raise
            click.echo(
                f"internal error: {type(exc).__name__}: {exc} (this is a bug in rfdesign; "
                "rerun with RFDESIGN_DEBUG=1 for the traceback and please report it)",
                err=True,
            )
            sys.exit(EXIT_INTERNAL)

    return wrapper


def parse_ints(text: str | None, what: str, minimum: int = 0) -> tuple[int, ...] | None:
    """Parse ``"321,321"`` (or ``"321"``) into a tuple of ints."""
    if text is None:
        return None
    try:
        values = tuple(int(part) for part in text.replace("x", ",").split(",") if part.strip())
    except ValueError:
        raise SpecError(f"{what} must be comma-separated integers such as 224,224, got {text!r}") from None
    if not values or any(v < minimum for v in values):
        raise SpecError(f"{what} must be integers >= {minimum}, got {text!r}")
    return values


class _Group(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)  # keep the order of definition, not alphabetical


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="rfdesign")
def main() -> None:
    """Receptive-field design for convolutional networks.

    Start with `rfdesign analyze SPEC`; docs/ describes the spec format.
    """


@main.command()
@click.argument("spec", metavar="SPEC")
@click.option("-f", "--format", "fmt", type=click.Choice(["table", "json", "markdown", "csv"]), default="table",
              show_default=True, help="Output format.")
@click.option("--input-size", metavar="H,W", help="Analyze at this input size instead of the spec's.")
@click.option("--layer", metavar="NAME", help="Show only this layer (and use it for --unit/--pixel).")
@click.option("--output", "output_name", metavar="NAME", help="Treat this layer as the network's output.")
@click.option("--unit", metavar="I,J", help="Print the input box seen by this output unit.")
@click.option("--pixel", metavar="X,Y", help="Print which output units see this input pixel.")
@handle_errors
def analyze(
    spec: str,
    fmt: str,
    input_size: str | None,
    layer: str | None,
    output_name: str | None,
    unit: str | None,
    pixel: str | None,
) -> None:
    """Receptive field, effective stride and padding, sizes, params and FLOPs of SPEC, per layer and axis.

    SPEC is a YAML spec (see docs/spec-format.md).
    """
    from rfdesign.cli import render
    from rfdesign.io.sources import load_graph
    from rfdesign.rf import analyze as run_analysis
    from rfdesign.rf import unit_box, units_seeing
    from rfdesign.rf.report import analysis_data, layer_data

    size = parse_ints(input_size, "--input-size", 1)
    graph = load_graph(spec, output=output_name)
    if size is not None:
        if len(size) == 1 and graph.dims > 1:
            size = size * graph.dims
        if len(size) != graph.dims:
            raise SpecError(f"--input-size has {len(size)} values but the network has {graph.dims} spatial axes")
    result = run_analysis(graph, size)
    focus = result.output
    if layer is not None:
        focus = _find_layer(result, layer)
    if unit is not None or pixel is not None:
        _print_coordinates(result, focus, unit, pixel, fmt)
        return
    shown = [focus] if layer is not None else list(result.layers.values())
    if fmt == "json":
        data = layer_data(result, focus) if layer is not None else analysis_data(result)
        click.echo(render.json_text(data))
    elif fmt == "csv":
        click.echo(render.csv_text(result, shown))
    elif fmt == "markdown":
        click.echo(render.markdown(result, shown, focus))
    else:
        click.echo(render.table(result, shown, focus))


def _find_layer(result: Any, name: str) -> Any:
    from rfdesign.spec.suggest import did_you_mean

    if name not in result.layers:
        raise SpecError(f"no layer named `{name}`", hint=did_you_mean(name, result.layers))
    return result.layers[name]


def _print_coordinates(result: Any, focus: Any, unit: str | None, pixel: str | None, fmt: str) -> None:
    from rfdesign.cli import render
    from rfdesign.rf import unit_box, units_seeing

    data: dict[str, Any] = {"layer": focus.name}
    if unit is not None:
        coords = parse_ints(unit, "--unit")
        assert coords is not None
        box = unit_box(focus, coords)
        data["unit"] = list(coords)
        data["box"] = [list(b) if b is not None else None for b in box]
    if pixel is not None:
        coords = parse_ints(pixel, "--pixel")
        assert coords is not None
        seen = units_seeing(focus, coords, result.input_size)
        data["pixel"] = list(coords)
        data["units"] = [list(r) if r is not None else None for r in seen]
    if fmt == "json":
        click.echo(render.json_text(data))
        return
    if "box" in data:
        spans = " x ".join(f"[{b[0]}, {b[1]}]" if b else "nothing" for b in data["box"])
        click.echo(f"unit {data['unit']} of `{focus.name}` sees input {spans}")
    if "units" in data:
        spans = " x ".join(f"[{r[0]}, {r[1]}]" if r else "none" for r in data["units"])
        click.echo(f"input pixel {data['pixel']} is seen by units {spans} of `{focus.name}`")


@main.command()
@handle_errors
def schema() -> None:
    """Print the JSON Schema of the spec format (for editor completion)."""
    import json

    from rfdesign.spec.model import json_schema

    click.echo(json.dumps(json_schema(), indent=2))


if __name__ == "__main__":  # pragma: no cover
    main()
