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
from rfdesign.cli.remote import SERVER_OPTION
from rfdesign.errors import MissingExtraError, SpecError

EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a writer whose reader closed the pipe


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
        except BrokenPipeError:
            # the reader went away (`rfdesign analyze big.yaml -f json | head`): stop quietly, as a process
            # killed by SIGPIPE would; point stdout at /dev/null so the interpreter's final flush is silent
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            sys.exit(EXIT_BROKEN_PIPE)
        except Exception as exc:  # noqa: BLE001 - last resort: a bug, reported without a wall of text
            from rfdesign.client import ServiceError

            if isinstance(exc, ServiceError):  # --server: the service refused or could not be reached
                click.echo(f"error: {exc}", err=True)
                sys.exit(EXIT_BAD_INPUT)
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
    from rfdesign.commands.args import parse_ints as parse

    return parse(text, what, minimum)


ORDER = ("analyze", "check", "rule", "solve", "propose", "sweep", "import", "export", "verify", "serve", "schema")


class _Group(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        """The commands in the order a user meets them, not alphabetically."""
        return sorted(self.commands, key=lambda name: ORDER.index(name) if name in ORDER else len(ORDER))


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
@SERVER_OPTION
@handle_errors
def analyze(
    spec: str,
    fmt: str,
    input_size: str | None,
    layer: str | None,
    output_name: str | None,
    unit: str | None,
    pixel: str | None,
    server: str | None,
) -> None:
    """Receptive field, effective stride and padding, sizes, params and FLOPs of SPEC, per layer and axis.

    SPEC is a YAML spec (docs/spec-format.md), an ONNX file, a Darknet .cfg,
    or a PyTorch factory such as torchvision.models:resnet50.
    """
    from rfdesign.commands.analyze import write_analysis
    from rfdesign.io.sources import load_graph

    if server is not None:
        from rfdesign.cli import remote

        remote.analyze(server, spec, fmt, input_size, layer, output_name, unit, pixel)
        return
    size = parse_ints(input_size, "--input-size", 1)
    graph = load_graph(spec, output=output_name, input_size=size)
    write_analysis(graph, functools.partial(click.echo, nl=False), fmt, size, layer, parse_ints(unit, "--unit"),
                   parse_ints(pixel, "--pixel"))


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
@SERVER_OPTION
@handle_errors
def check(
    specs: tuple[str, ...],
    fmt: str,
    select: str | None,
    ignore: str | None,
    min_rf: int | None,
    input_size: str | None,
    exit_zero: bool,
    server: str | None,
) -> None:
    """Design review of one or more specs (globs allowed): rules RF101..., like a linter.

    \b
    Exit codes: 0 no error-level findings, 1 some, 2 bad input.
    `rfdesign rule` lists the rules; `rfdesign rule RF104` explains one.
    """
    from rfdesign.commands.check import check_graph, check_output, exit_status
    from rfdesign.io.sources import load_graph
    from rfdesign.review.config import parse_codes
    from rfdesign.review.rule import all_rules

    rules = all_rules()
    known = list(rules)
    selected = parse_codes(select, "--select", known) if select else ()
    ignored = parse_codes(ignore, "--ignore", known) if ignore else ()
    size = parse_ints(input_size, "--input-size", 1)
    if server is not None:
        from rfdesign.cli import remote

        outcomes = remote.check(server, expand_sources(specs), fmt, select, ignore, min_rf, input_size)
    else:
        outcomes = [
            check_graph(path, functools.partial(load_graph, path, input_size=size), selected, ignored, min_rf, size)
            for path in expand_sources(specs)
        ]
    if fmt == "text":
        for _, _, error in outcomes:
            if error is not None:
                click.echo(error.render(), err=True)
    click.echo(check_output(outcomes, fmt, rules))
    sys.exit(exit_status(outcomes, exit_zero))


@main.command(name="import")
@click.argument("source", metavar="SOURCE")
@click.option("-o", "--out", "out_path", metavar="FILE", help="Write the spec here (default: standard output).")
@click.option("--input-size", metavar="H,W", help="Import at this input size (PyTorch: default 224,224).")
@click.option("--output", "output_name", metavar="NAME", help="The layer to treat as the network's output.")
@click.option("--force", is_flag=True, help="Overwrite FILE if it exists.")
@handle_errors
def import_(source: str, out_path: str | None, input_size: str | None, output_name: str | None, force: bool) -> None:
    """Convert SOURCE (ONNX, Darknet .cfg, PyTorch factory) into a spec.

    Layer names are kept from the source, and each layer's line ends with a
    comment naming where it came from.
    """
    from rfdesign.io.sources import load_graph, source_kind
    from rfdesign.io.yaml_export import dump, spec_dict

    size = parse_ints(input_size, "--input-size", 1)
    kind = source_kind(source)
    graph = load_graph(source, output=output_name, input_size=size)
    header = f"imported by `rfdesign import` from {source} ({kind})"
    text = dump(spec_dict(graph), header, notes_as_comments=True)
    _emit(text, out_path, force, f"{len(graph.nodes)} layers")


@main.command()
@click.argument("source", metavar="SOURCE")
@click.option("--to", "target", type=click.Choice(["pytorch", "yaml"]), default="pytorch", show_default=True,
              help="pytorch: a standalone nn.Module; yaml: a flat spec.")
@click.option("-o", "--out", "out_path", metavar="FILE", help="Write here (default: standard output).")
@click.option("--class-name", metavar="NAME", help="Name of the generated nn.Module class.")
@click.option("--force", is_flag=True, help="Overwrite FILE if it exists.")
@handle_errors
def export(source: str, target: str, out_path: str | None, class_name: str | None, force: bool) -> None:
    """Write SOURCE (a spec, a solver proposal, ONNX, Darknet, PyTorch) as PyTorch code or a flat spec.

    The PyTorch module runs as is: a forward pass on a tensor of the spec's
    input size gives the spec's output size. It needs only torch to run.
    """
    from rfdesign.io.sources import load_graph
    from rfdesign.io.yaml_export import dump, spec_dict

    graph = load_graph(source)
    if target == "pytorch":
        from rfdesign.io.torch_export import export_pytorch

        text = export_pytorch(graph, class_name)
    else:
        text = dump(spec_dict(graph), f"exported by `rfdesign export` from {source}", notes_as_comments=True)
    _emit(text, out_path, force, target)


@main.command()
@click.argument("source", metavar="SOURCE")
@click.option("--layer", "layers", multiple=True, metavar="NAME", help="Verify this layer (repeatable).")
@click.option("--all", "all_layers", is_flag=True, help="Verify every layer (slow on big networks).")
@click.option("--input-size", metavar="H,W", help="Start measuring at this input size.")
@click.option("--output", "output_name", metavar="NAME", help="The layer to treat as the network's output.")
@click.option("-f", "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@handle_errors
def verify(source: str, layers: tuple[str, ...], all_layers: bool, input_size: str | None, output_name: str | None,
           fmt: str) -> None:
    """Check the analytic figures of SOURCE against gradients through a real PyTorch module.

    \b
    The network is built with positive constant weights (max pooling as
    average pooling, norms as identities, gates removed); back-propagating
    from interior output units gives the input pixels each unit depends on.
    Needs the [torch] extra. Exit code 1 on any mismatch. docs/verify.md
    explains the method and its limits.
    """
    from rfdesign.commands import render
    from rfdesign.io.sources import load_graph
    from rfdesign.rf.report import number
    from rfdesign.spec.suggest import did_you_mean
    from rfdesign.verification import FIGURES
    from rfdesign.verification import verify as run_verify

    size = parse_ints(input_size, "--input-size", 1)
    graph = load_graph(source, output=output_name, input_size=size)
    if size is not None and len(size) == 1:
        size = size * graph.dims
    for name in layers:
        if name not in graph.nodes:
            raise SpecError(f"no layer named `{name}`", hint=did_you_mean(name, graph.nodes))
    chosen = list(graph.nodes) if all_layers else (list(layers) or None)
    checks = run_verify(graph, chosen, size)
    if fmt == "json":
        data = [
            {
                "layer": c.layer,
                "axis": c.axis,
                "input_size": list(c.input_size),
                "analytic": {k: number(v) for k, v in c.analytic.items()},
                "measured": {k: number(v) for k, v in c.measured.items()},
                "status": c.status,
                "note": c.note,
            }
            for c in checks
        ]
        click.echo(render.json_text({"checks": data}))
    else:
        rows = []
        for c in checks:
            def pair(key: str) -> str:
                measured = c.measured.get(key)
                return f"{number(c.analytic.get(key))} / {'-' if measured is None else number(measured)}"

            rows.append([c.layer, str(c.axis + 1), "x".join(map(str, c.input_size))] + [pair(k) for k in FIGURES]
                        + [c.status + (f" ({', '.join(c.mismatches)})" if c.mismatches else "")])
        headers = ["layer", "axis", "at input", "rf", "rf position min", "stride", "padding", "status"]
        click.echo(render.aligned_table(headers, rows, [False, True, True, True, True, True, True, False]))
        click.echo("(each figure: analytic / measured by gradients)")
        for c in checks:
            if c.note:
                click.echo(f"note: `{c.layer}` axis {c.axis + 1}: {c.note}")
    mismatched = [c for c in checks if c.status == "mismatch"]
    if fmt != "json":
        summary = f"{len(checks) - len(mismatched)} of {len(checks)} layer-axes agree"
        click.echo(summary if not mismatched else summary + f"; {len(mismatched)} MISMATCH")
    sys.exit(1 if mismatched else 0)


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


def _write_files(files: list[tuple[str, str]], force: bool) -> None:
    """Write each ``(path, text)``: every target checked before any is written, each written atomically.

    The one helper for every file the CLI writes. A target that exists (a
    symlink too, even a dangling one) is refused without ``--force``; a
    directory, or a path through a file, is refused always. Each file is
    written to a temporary file in its own directory and renamed into place,
    so a failure never leaves a partial file, and ``--force`` replaces a
    symlink itself, never the file it points to.
    """
    for path, _ in files:
        _check_target(path, force)
    for path, text in files:
        _write_atomically(path, text, force)


def _check_target(path: str, force: bool) -> None:
    if not path or "\0" in path:
        raise SpecError(f"cannot write to {path!r}: not a file name")
    if os.path.isdir(path):
        raise SpecError(f"cannot write {path}: it is a directory", hint="name a file inside it")
    if os.path.lexists(path) and not force:
        link = f" (a symlink to {os.readlink(path)})" if os.path.islink(path) else ""
        raise SpecError(f"{path} exists{link}; not overwriting it", hint="pass --force to overwrite")
    parent = os.path.dirname(os.path.abspath(path))
    while not os.path.lexists(parent):  # the nearest existing ancestor must be a directory we may write in
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise SpecError(f"cannot write {path}: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise SpecError(f"cannot write {path}: {parent} is not writable")


def _write_atomically(path: str, text: str, force: bool) -> None:
    import tempfile

    parent = os.path.dirname(os.path.abspath(path))
    temporary = None
    try:
        os.makedirs(parent, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=parent, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # what open() would have made, not mkstemp's 0600
        if force:
            os.replace(temporary, path)
        else:
            os.link(temporary, path)  # fails if the file appeared since the check: never overwrites
            os.unlink(temporary)
        temporary = None
    except FileExistsError:
        raise SpecError(f"{path} exists; not overwriting it", hint="pass --force to overwrite") from None
    except OSError as exc:
        raise SpecError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        if temporary is not None and os.path.lexists(temporary):
            os.unlink(temporary)


def _write_new(path: str, text: str, force: bool) -> None:
    """Write a file the user named, refusing to overwrite unless --force."""
    _write_files([(path, text)], force)


def _emit(text: str, out_path: str | None, force: bool, what: str) -> None:
    """Print ``text``, or write it to ``out_path`` (never over a file without --force)."""
    if out_path is None:
        click.echo(text, nl=False)
        return
    _write_new(out_path, text, force)
    click.echo(f"wrote {out_path} ({what})", err=True)


def _progress_printer(quiet: bool) -> Any:
    import time

    last = [0.0]

    def show(progress: Any) -> None:
        now = time.monotonic()
        if quiet or progress.elapsed < 1.0 or now - last[0] < 0.5:
            return
        last[0] = now
        best = f"{progress.best:,}" if progress.best is not None else "none yet"
        bound = f"{progress.bound:,}" if progress.bound is not None else "?"
        click.echo(
            f"[{progress.elapsed:6.1f} s] designs found: {progress.found}, best: {best}, lower bound: {bound}",
            err=True,
        )

    return show


def _run_solve(problem: Any, options: dict[str, Any]) -> None:
    from rfdesign.commands.solve import exit_status, run, solve_output
    from rfdesign.solve.fill import proposal_text

    fmt, quiet, force, out_dir = options["fmt"], options["quiet"], options["force"], options["out_dir"]
    if out_dir is not None:
        _check_out_dir(out_dir)
    solved, result = run(problem, options["timeout"], options["method"], _progress_printer(quiet),
                         options.get("explain", False))
    if out_dir is not None:
        stem = safe_file_stem(problem.graph.name)
        files = [
            (os.path.join(out_dir, f"{stem}_{rank}.yaml"),
             proposal_text(solved, proposal.assignment, proposal.evaluation, rank))
            for rank, proposal in enumerate(result.proposals, 1)
        ]
        _write_files(files, force)
        if not quiet:
            for path, _ in files:
                click.echo(f"wrote {path}", err=True)
    click.echo(solve_output(solved, result, fmt), nl=fmt != "yaml")
    sys.exit(exit_status(result))


def safe_file_stem(text: str, longest: int = 100) -> str:
    """A file name made from user text (a spec's `name:`) that stays inside the directory it is joined to.

    Anything but letters, digits, ``.``, ``_`` and ``-`` becomes ``_``, so no
    separator or ``..`` survives; leading dots and underscores go (no hidden
    files, no ``..``); it is cut to ``longest`` characters and is ``spec``
    when nothing is left.
    """
    import re

    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", text).lstrip("._")[:longest].rstrip(".")
    return stem or "spec"


def _check_out_dir(out_dir: str) -> None:
    """``--out`` must be a directory, or a path where one can be made (checked before solving)."""
    if os.path.lexists(out_dir) and not os.path.isdir(out_dir):
        raise SpecError(f"--out {out_dir} is not a directory", hint="--out names a directory for the proposals")
    _check_target(os.path.join(out_dir, "proposal.yaml"), True)


def _rule_overrides(options: dict[str, Any]) -> dict[str, Any]:
    """What the command line says about the objective, top k and rules (for build_problem)."""
    from rfdesign.commands.solve import overrides

    return overrides(options["objective"], options["top_k"], options["no_unseen_pixels"], options["no_gridding"],
                     options["forbid"], options["allow"])


def _remote_options(options: dict[str, Any]) -> dict[str, Any]:
    """The solve options a service takes (those that decide the result), by their request names."""
    names = ("timeout", "top_k", "objective", "forbid", "allow", "no_unseen_pixels", "no_gridding", "explain",
             "method")
    return {name: list(options[name]) if isinstance(options[name], tuple) else options[name] for name in names}


SOLVE_OPTIONS = [
    click.option("-f", "--format", "fmt", type=click.Choice(["table", "json", "yaml"]), default="table",
                 show_default=True, help="Output format."),
    click.option("--timeout", type=click.FloatRange(min=0.1), default=60.0, show_default=True,
                 help="Seconds before the best design so far is returned (status feasible) or the search gives up."),
    click.option("--top-k", type=click.IntRange(min=1), help="How many distinct designs to propose."),
    click.option("--objective", type=click.Choice(["params", "flops", "activations"]),
                 help="What to minimise: parameters, multiply-adds, or the largest activation."),
    click.option("--forbid", multiple=True, metavar="CODES",
                 help="Also forbid these review rules (comma-separated codes; repeatable)."),
    click.option("--allow", multiple=True, metavar="CODES",
                 help="Allow these default-forbidden rules (RF102-RF105, RF107-RF109), or `all`."),
    click.option("--no-unseen-pixels", is_flag=True, help="Forbid unseen pixels (RF103; forbidden by default)."),
    click.option("--no-gridding", is_flag=True, help="Forbid gridding (RF104; forbidden by default)."),
    click.option("--explain", is_flag=True,
                 help="Say what each rule and each choice costs, or the smallest relaxation when infeasible."),
    click.option("--out", "out_dir", metavar="DIR", help="Write each proposal to DIR/<name>_<rank>.yaml."),
    click.option("--force", is_flag=True, help="Overwrite files that exist."),
    click.option("-q", "--quiet", is_flag=True, help="No progress on stderr."),
    click.option("--method", type=click.Choice(["auto", "dp", "z3"]), default="auto", show_default=True,
                 help="auto: the stage dynamic program where it applies, else z3."),
    SERVER_OPTION,
]


def solve_options(function: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(SOLVE_OPTIONS):
        function = option(function)
    return function


@main.command()
@click.argument("spec", metavar="SPEC")
@solve_options
@handle_errors
def solve(spec: str, **options: Any) -> None:
    """Fill the {choose: [...]} holes of SPEC with the cheapest choices that meet its target.

    \b
    Proposals pass the design review: rules RF102-RF105 and RF107-RF109 are
    forbidden unless --allow'ed (or turned off in the spec's review: block).
    Status: optimal (proven), feasible (time ran out), infeasible (with the
    reason), unknown. Exit codes: 0 optimal or feasible, 1 infeasible or
    unknown, 2 bad input. docs/solver.md describes the model.
    """
    from rfdesign.io.sources import load_graph
    from rfdesign.solve.problem import build_problem

    server = options.pop("server")
    if server is not None:
        from rfdesign.cli import remote

        def submit(client: Any) -> Any:
            return client.submit_solve(remote.source(spec), filename=spec, **_remote_options(options))

        remote.solve(server, submit, options["fmt"], options["out_dir"], options["force"], options["quiet"],
                     _progress_printer(options["quiet"]))
        return
    problem = build_problem(load_graph(spec), _rule_overrides(options))
    _run_solve(problem, options)


@main.command()
@click.option("--input", "input_size", required=True, metavar="H,W",
              help="Input size: one value per axis, or one value for every axis (see --dims).")
@click.option("--dims", type=click.IntRange(1, 3), default=2, show_default=True,
              help="Spatial axes when --input is a single value (1 for audio, 3 for video).")
@click.option("--input-channels", type=click.IntRange(min=1), default=3, show_default=True)
@click.option("--rf", required=True, metavar="MIN:MAX", help="Target receptive field (N or MIN:MAX).")
@click.option("--output-size", metavar="H,W", help="Target output size.")
@click.option("--family", type=click.Choice(["plain", "resnet", "bottleneck", "mobilenet", "tcn", "unet"]),
              default="plain", show_default=True, help="The kind of network to design (docs/solver.md).")
@click.option("--depth", default="4:16", show_default=True, metavar="MIN:MAX",
              help="Number of units (conv + norm + activation, or residual units; unet: levels, the MAX).")
@click.option("--kernels", default="1,3,5,7", show_default=True, help="Kernel sizes to choose from.")
@click.option("--strides", default="1,2", show_default=True, help="Strides to choose from (plain).")
@click.option("--dilations", default="1,2,4", show_default=True, help="Dilations to choose from.")
@click.option("--channels", default="32:512", show_default=True, metavar="MIN:MAX",
              help="Widths: geometric from MIN to MAX over the kept units (docs/solver.md).")
@click.option("--norm", type=click.Choice(["batchnorm", "none"]), default="batchnorm", show_default=True,
              help="The normalisation after each conv.")
@click.option("--template-out", metavar="FILE", help="Also write the template spec to FILE.")
@solve_options
@handle_errors
def propose(input_size: str, dims: int, input_channels: int, rf: str, output_size: str | None, family: str, depth: str,
            kernels: str, strides: str, dilations: str, channels: str, norm: str, template_out: str | None,
            **options: Any) -> None:
    """Design a network from scratch: build a template of a family from these numbers and solve it.

    Example: rfdesign propose --input 224 --rf 200:220 --output-size 14 --depth 4:16
    """
    from rfdesign.commands.solve import PROPOSED_TEMPLATE, problem_from_text, propose_template

    server = options.pop("server")
    if server is not None:
        from rfdesign.cli import remote

        def submit(client: Any) -> Any:
            return client.submit_propose(
                input=input_size, dims=dims, input_channels=input_channels, rf=rf, output_size=output_size,
                family=family, depth=depth, kernels=kernels, strides=strides, dilations=dilations,
                channels=channels, norm=norm, template_file=template_out, **_remote_options(options))

        remote.solve(server, submit, options["fmt"], options["out_dir"], options["force"], options["quiet"],
                     _progress_printer(options["quiet"]), template_out)
        return
    text = propose_template(input_size, rf, dims, input_channels, output_size, family, depth, kernels, strides,
                            dilations, channels, norm, options["objective"], options["top_k"])
    if template_out is not None:
        _write_new(template_out, text, options["force"])
        if not options["quiet"]:
            click.echo(f"wrote {template_out}", err=True)
    problem = problem_from_text(text, template_out or PROPOSED_TEMPLATE, _rule_overrides(options))
    _run_solve(problem, options)


@main.command()
@click.argument("sweep_file", metavar="SWEEP.yaml")
@click.option("-o", "--out", "out_path", metavar="FILE", help="Write the table here: .csv, or .parquet (pyarrow).")
@click.option("--pareto", metavar="OBJECTIVES",
              help="Mark the non-dominated designs over 2 or 3 of params, flops, depth, rf_margin (e.g. params,flops); "
                   "with -o, also write them to FILE's name + .pareto.")
@click.option("--plot", "plot_path", metavar="FILE", help="Draw the Pareto front to FILE (.png, .svg, .pdf; needs "
              "matplotlib). Objectives: --pareto's, else params,flops.")
@click.option("--store", "store_dir", metavar="DIR",
              help="Where finished points are kept for resuming [default: SWEEP.sweep-store beside the file].")
@click.option("--force", is_flag=True, help="Solve every point again, and overwrite files that exist.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), metavar="N",
              help="Local processes [default: one per core; 1: no pool].")
@click.option("--scheduler", metavar="ADDRESS", envvar="RFDESIGN_SCHEDULER", show_envvar=True,
              help="Run on this Dask scheduler (tcp://HOST:8786) instead of a local pool.")
@click.option("--timeout", type=click.FloatRange(min=0.1), metavar="SECONDS",
              help="Seconds per point (overrides the file's `timeout`).")
@click.option("--show", type=click.Choice(["all", "front", "none"]),
              help="Rows to print [default: front with --pareto, else all].")
@click.option("--dry-run", is_flag=True, help="List the points and how many are stored; solve nothing.")
@click.option("-q", "--quiet", is_flag=True, help="No progress on stderr.")
@handle_errors
def sweep(sweep_file: str, out_path: str | None, pareto: str | None, plot_path: str | None, store_dir: str | None,
          force: bool, jobs: int | None, scheduler: str | None, timeout: float | None, show: str | None,
          dry_run: bool, quiet: bool) -> None:
    """Solve a family of problems: templates x axes, a results table, a Pareto front.

    \b
    SWEEP.yaml names templates (specs with holes, or `propose` options) and
    axes to vary (docs/sweep.md). Finished points are stored by content
    hash, so a rerun after a crash or Ctrl-C solves only what is missing.
    Exit codes: 0 every point has a result, 1 some point failed, 2 bad
    input, 130 interrupted.
    """
    from rfdesign.cli.sweep_command import run_command

    run_command(sweep_file, out_path, pareto, plot_path, store_dir, force, jobs, scheduler, timeout, show, dry_run,
                quiet)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; any but loopback needs --token (or --insecure).")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="0: a free port.")
@click.option("--workers", type=click.IntRange(min=1), help="Solver processes [default: one per core].")
@click.option("--db", metavar="PATH", help="The SQLite job store [default: ~/.cache/rfdesign/jobs.sqlite3].")
@click.option("--token", envvar="RFDESIGN_TOKEN", show_envvar=True,
              help="Require `Authorization: Bearer TOKEN` on /v1 (needed to listen beyond this machine).")
@click.option("--insecure", is_flag=True, help="Allow a non-loopback --host without a token.")
@click.option("--max-timeout", type=click.FloatRange(min=1), default=600.0, show_default=True,
              help="Seconds a solve may run, whatever timeout a request asks for.")
@click.option("--queue", "max_queue", type=click.IntRange(min=1), default=100, show_default=True,
              help="Jobs that may wait for a worker; beyond that requests get 429.")
@click.option("--job-memory", type=click.IntRange(min=0), default=4096, show_default=True, metavar="MIB",
              help="Address space of each solver process in MiB (0: no limit).")
@click.option("--max-body", type=click.IntRange(min=1), default=1024, show_default=True, metavar="KIB",
              help="Largest JSON request body, in KiB.")
@click.option("--max-upload", type=click.IntRange(min=1), default=64, show_default=True, metavar="MIB",
              help="Largest model upload, in MiB.")
@click.option("--cors-origin", metavar="ORIGIN", help="Allow browser pages from ORIGIN (https://host:port) to call "
              "the API [default: no cross-origin access].")
@click.option("--log-level", type=click.Choice(["critical", "error", "warning", "info", "debug"]), default="info",
              show_default=True)
@handle_errors
def serve(host: str, port: int, workers: int | None, db: str | None, token: str | None, insecure: bool,
          max_timeout: float, max_queue: int, job_memory: int, max_body: int, max_upload: int,
          cors_origin: str | None, log_level: str) -> None:
    """Run the HTTP service and the design-assistant web page (needs the [serve] extra).

    \b
    The API is under /v1 (OpenAPI at /docs), the web page at /.
    Solves run as jobs in a pool of worker processes; jobs and their
    results are kept in SQLite (--db), so a restart loses no result.
    docs/service.md describes endpoints, jobs and security.
    """
    from rfdesign.service.config import MIB, ServiceConfig
    from rfdesign.service.jobs import worker_count
    from rfdesign.service.run import serve as run_server
    from rfdesign.service.store import default_path

    config = ServiceConfig(host=host, port=port, workers=workers or worker_count(), db=db or default_path(),
                           token=token, insecure=insecure, max_timeout=max_timeout, max_queue=max_queue,
                           max_body=max_body * 1024, max_upload=max_upload * MIB, job_memory_mib=job_memory,
                           cors_origin=cors_origin)
    run_server(config, log_level)


@main.command()
@handle_errors
def schema() -> None:
    """Print the JSON Schema of the spec format (for editor completion)."""
    import json

    from rfdesign.spec.model import json_schema

    click.echo(json.dumps(json_schema(), indent=2))


if __name__ == "__main__":  # pragma: no cover
    main()
