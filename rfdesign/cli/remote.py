"""``--server URL``: `analyze`, `check`, `solve` and `propose` done by a running `rfdesign serve`.

The command reads the user's files here, sends their text (or uploads a
model) to the service, and prints what the service answers, which is what
the command prints locally. Files the command writes (``--out``,
``--template-out``) are written here, from the service's result.
"""

from __future__ import annotations

import os
import pathlib
import sys
from collections.abc import Callable
from typing import Any

import click

from rfdesign.errors import SpecError

SERVER_OPTION = click.option(
    "--server", metavar="URL", envvar="RFDESIGN_SERVER", show_envvar=True,
    help="Send the work to this `rfdesign serve` (token from $RFDESIGN_TOKEN) and print its answer.")


def client(url: str) -> Any:
    from rfdesign.client import Client

    return Client(url, timeout=120.0)


def source(path: str) -> pathlib.Path:
    """A SOURCE the service can take: a file here (never a PyTorch factory, which would run code there)."""
    from rfdesign.io.sources import source_kind

    if source_kind(path) == "torch":
        raise SpecError(f"'{path}' is a PyTorch factory, which the service does not import",
                        hint="run the command without --server, or `rfdesign import` it to a spec first")
    return pathlib.Path(path)


def analyze(url: str, spec: str, fmt: str, input_size: str | None, layer: str | None, output: str | None,
            unit: str | None, pixel: str | None) -> None:
    with client(url) as remote:
        text = remote.analyze(source(spec), filename=spec, format=fmt, input_size=input_size, layer=layer,
                              output=output, unit=unit, pixel=pixel, raw=True)
    click.echo(text, nl=False)


def check(url: str, paths: list[str], fmt: str, select: str | None, ignore: str | None, min_rf: int | None,
          input_size: str | None) -> list[Any]:
    """The outcomes of checking each spec on the service, to render here as the local command does."""
    from rfdesign.commands.check import finding_from_data

    outcomes = []
    with client(url) as remote:
        for path in paths:
            try:
                report = remote.check(source(path), filename=path, format="json", select=select, ignore=ignore,
                                      min_rf=min_rf, input_size=input_size)
                findings = [finding_from_data(item) for spec in report["specs"] for item in spec["findings"]]
                outcomes.append((path, findings, None))
            except SpecError as exc:
                outcomes.append((path, None, exc))
    return outcomes


def solve(url: str, submit: Callable[[Any], dict[str, Any]], fmt: str, out_dir: str | None, force: bool,
          quiet: bool, printer: Callable[[Any], None], template_out: str | None = None) -> None:
    """Submit with ``submit(client)``, show progress, print the result, write files; exit as the command does."""
    from rfdesign.cli import _check_out_dir, _write_files, safe_file_stem
    from rfdesign.commands.solve import exit_status

    if out_dir is not None:
        _check_out_dir(out_dir)
    with client(url) as remote:
        job = submit(remote)
        if template_out is not None:
            _write_files([(template_out, remote.job_spec(job["id"]))], force)
            if not quiet:
                click.echo(f"wrote {template_out}", err=True)
        text = remote.follow(job["id"], fmt, printer, raw=True)
        data = remote.result(job["id"], "json")
    if out_dir is not None:
        stem = safe_file_stem(job["name"])
        files = [(os.path.join(out_dir, f"{stem}_{p['rank']}.yaml"), p["spec"]) for p in data["proposals"]]
        _write_files(files, force)
        if not quiet:
            for path, _ in files:
                click.echo(f"wrote {path}", err=True)
    click.echo(text, nl=False)
    sys.exit(exit_status(data["status"]))
