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


def expand_sources(patterns: tuple[str, ...]) -> list[str]:
    """Expand globs (for shells that do not), keeping order and dropping duplicates."""
    import glob

    paths: list[str] = []
    for pattern in patterns:
        if any(ch in pattern for ch in "*?[") and not os.path.exists(pattern):
            matches = sorted(glob.glob(pattern, recursive=True))
            if not matches:
                raise SpecError(f"no file matches {pattern!r}")
            paths.extend(matches)
        else:
            paths.append(pattern)
    return list(dict.fromkeys(paths))


@main.command()
@click.argument("specs", nargs=-1, required=True, metavar="SPEC...")
@click.option("-f", "--format", "fmt", type=click.Choice(["text", "json", "sarif", "github"]), default="text",
              show_default=True, help="Output format.")
@click.option("--select", metavar="CODES", help="Only these rules (codes or prefixes, comma-separated: RF1,RF205).")
@click.option("--ignore", metavar="CODES", help="Skip these rules (codes or prefixes, comma-separated).")
@click.option("--min-rf", type=click.IntRange(min=1), help="Target receptive field for RF101 when a spec has none.")
@click.option("--input-size", metavar="H,W", help="Check at this input size instead of each spec's.")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when error-level findings are reported.")
@handle_errors
def check(
    specs: tuple[str, ...],
    fmt: str,
    select: str | None,
    ignore: str | None,
    min_rf: int | None,
    input_size: str | None,
    exit_zero: bool,
) -> None:
    """Design review of one or more specs (globs allowed): rules RF101..., like a linter.

    \b
    Exit codes: 0 no error-level findings, 1 some, 2 bad input.
    `rfdesign rule` lists the rules; `rfdesign rule RF104` explains one.
    """
    from rfdesign.cli import check_render
    from rfdesign.io.sources import load_graph
    from rfdesign.review.config import parse_codes
    from rfdesign.review.rule import all_rules
    from rfdesign.review.runner import review, spec_config
    from rfdesign.rf.analysis import analyze as run_analysis

    rules = all_rules()
    known = list(rules)
    selected = parse_codes(select, "--select", known) if select else ()
    ignored = parse_codes(ignore, "--ignore", known) if ignore else ()
    size = parse_ints(input_size, "--input-size", 1)
    outcomes: list[check_render.Outcome] = []
    for path in expand_sources(specs):
        try:
            graph = load_graph(path)
            config = spec_config(graph).merged(selected, ignored, {"min_rf": min_rf})
            analysis = None
            if size is not None:
                full = size * graph.dims if len(size) == 1 else size
                if len(full) != graph.dims:
                    raise SpecError(f"--input-size has {len(full)} values but `{path}` has {graph.dims} spatial axes")
                analysis = run_analysis(graph, full)
            result = review(graph, config, analysis)
            outcomes.append((path, list(result.findings), None))
        except SpecError as exc:
            outcomes.append((path, None, exc))
    if fmt == "json":
        click.echo(check_render.json_text(outcomes))
    elif fmt == "sarif":
        click.echo(check_render.sarif(outcomes, rules))
    elif fmt == "github":
        click.echo(check_render.github(outcomes))
    else:
        for _, _, error in outcomes:
            if error is not None:
                click.echo(error.render(), err=True)
        click.echo(check_render.text(outcomes))
    if any(error is not None for _, _, error in outcomes):
        sys.exit(EXIT_BAD_INPUT)
    errors = any(f.severity == "error" for _, found, _ in outcomes for f in found or [])
    sys.exit(1 if errors and not exit_zero else 0)


@main.command()
@click.argument("code", required=False)
@handle_errors
def rule(code: str | None) -> None:
    """Explain rule CODE (what it checks, why, an example, the fix), or list every rule."""
    from rfdesign.review.docs import rule_markdown
    from rfdesign.review.rule import all_rules
    from rfdesign.spec.suggest import did_you_mean

    rules = all_rules()
    if code is None:
        width = max(len(r.name) for r in rules.values())
        for item in rules.values():
            click.echo(f"{item.code}  {item.name.ljust(width)}  {item.severity:<7}  {item.summary}")
        return
    key = code.upper()
    by_name = {r.name: c for c, r in rules.items()}
    key = by_name.get(code, key)
    if key not in rules:
        raise SpecError(f"no rule {code!r}", hint=did_you_mean(code.upper(), list(rules)) or "`rfdesign rule` lists them")
    click.echo(rule_markdown(rules[key]))


@main.command()
@handle_errors
def schema() -> None:
    """Print the JSON Schema of the spec format (for editor completion)."""
    import json

    from rfdesign.spec.model import json_schema

    click.echo(json.dumps(json_schema(), indent=2))


if __name__ == "__main__":  # pragma: no cover
    main()
