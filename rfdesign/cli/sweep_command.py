"""The body of `rfdesign sweep`: parse the options, call rfdesign.sweep, render, write files.

Imported only when the command runs (it pulls in the solver; Dask and
pyarrow are imported further down, only when used).
"""

from __future__ import annotations

import os
import sys

import click

from rfdesign.cli import sweep_render
from rfdesign.errors import SpecError, require
from rfdesign.sweep import ResultStore, Sweep, load_sweep, run_sweep
from rfdesign.sweep import plot as sweep_plot
from rfdesign.sweep import table as sweep_table
from rfdesign.sweep.pareto import parse_objectives

EXIT_FAILED = 1
EXIT_INTERRUPTED = 130


def _objectives(pareto: str | None) -> tuple[str, ...]:
    if pareto is None:
        return ()
    try:
        return parse_objectives(pareto)
    except ValueError as exc:
        raise SpecError(f"--pareto: {exc}") from None


def _may_write(path: str, force: bool, ours: bool, what: str) -> None:
    if os.path.exists(path) and not force and not ours:
        raise SpecError(f"{path} exists and was not written by `rfdesign sweep`; not overwriting it ({what})",
                        hint="pass --force to overwrite, or choose another name")


def run_command(sweep_file: str, out_path: str | None, pareto: str | None, plot_path: str | None,
                store_dir: str | None, force: bool, jobs: int | None, scheduler: str | None, timeout: float | None,
                show: str | None, dry_run: bool, quiet: bool) -> None:
    objectives = _objectives(pareto)
    plot_objectives = objectives or ("params", "flops")
    # check every output before solving anything: a sweep can take hours
    if out_path is not None:
        if sweep_table.output_format(out_path) == "parquet":
            require("pyarrow", "sweep")
        _may_write(out_path, force, sweep_table.written_by_sweep(out_path), "the table")
        if objectives:
            front_file = sweep_table.front_path(out_path)
            _may_write(front_file, force, sweep_table.written_by_sweep(front_file), "the Pareto front")
    if plot_path is not None:
        require("matplotlib", "plot")
        _may_write(plot_path, force, sweep_plot.written_by_sweep(plot_path), "the plot")
    if scheduler is not None:
        require("distributed", "sweep")
    sweep = load_sweep(sweep_file, timeout)
    if store_dir is None:
        stem = os.path.splitext(os.path.basename(sweep_file))[0]
        store_dir = os.path.join(os.path.dirname(sweep_file), f"{stem}.sweep-store")
    store = ResultStore(store_dir)
    if dry_run:
        _dry_run(sweep, store, force)
        return
    printer = sweep_render.ProgressPrinter(quiet)
    try:
        run = run_sweep(sweep, store, jobs=jobs, scheduler=scheduler, force=force, objectives=objectives,
                        progress=printer)
    except KeyboardInterrupt:
        printer.finish()
        last = printer.last
        done = f"{last.done} of {last.total} points are" if last is not None else "every finished point is"
        click.echo(f"interrupted: {done} stored in {store_dir}; rerun the same command to resume", err=True)
        sys.exit(EXIT_INTERRUPTED)
    printer.finish()
    rows = sweep_table.rows(run, objectives)
    names = sweep_table.columns(run, objectives)
    if out_path is not None:
        sweep_table.write_table(rows, names, out_path)
        if not quiet:
            click.echo(f"wrote {out_path} ({len(rows)} rows)", err=True)
        if objectives:
            front = sweep_render.front_rows(rows, objectives)
            sweep_table.write_table(front, names, sweep_table.front_path(out_path))
            if not quiet:
                click.echo(f"wrote {sweep_table.front_path(out_path)} ({len(front)} designs)", err=True)
    if plot_path is not None:
        plotted = rows if objectives else sweep_table.rows(run, plot_objectives)
        title = f"{sweep.name}: Pareto front over {', '.join(plot_objectives)}"
        sweep_plot.plot_front(plotted, plot_objectives, plot_path, title)
        if not quiet:
            click.echo(f"wrote {plot_path}", err=True)
    shown = show or ("front" if objectives else "all")
    if shown != "none":
        selected = sweep_render.front_rows(rows, objectives) if shown == "front" and objectives else rows
        click.echo(sweep_render.table(selected, sweep.axes, objectives))
        click.echo("")
    click.echo("\n".join(sweep_render.summary(run, rows, objectives)))
    sys.exit(EXIT_FAILED if run.failures else 0)


def _dry_run(sweep: Sweep, store: ResultStore, force: bool) -> None:
    from rfdesign.commands.render import aligned_table
    from rfdesign.sweep.options import value_text

    rows = []
    stored = 0
    for point in sweep.points:
        present = not force and store.get(point.key) is not None
        stored += present
        template = sweep.templates[point.template]
        rows.append([str(point.index), template.name]
                    + [value_text(axis, point.values[axis]) if axis in point.values else "-"
                       for axis in sweep.axes]
                    + ["stored" if present else "to solve", point.key[:12]])
    headers = ["point", "template", *sweep.axes, "state", "key"]
    click.echo(aligned_table(headers, rows, [True] + [False] * (len(headers) - 1)))
    click.echo(f"\n{len(rows)} points: {stored} stored, {len(rows) - stored} to solve")
