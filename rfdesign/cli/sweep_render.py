"""Rendering of `rfdesign sweep`: the progress line, the results table, the summary."""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any, TextIO

from rfdesign.commands.render import aligned_table, si
from rfdesign.sweep.pareto import SENSES
from rfdesign.sweep.runner import SweepProgress, SweepRun


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds // 60:.0f} min {seconds % 60:02.0f} s"
    return f"{seconds // 3600:.0f} h {seconds % 3600 // 60:02.0f} min"


def progress_text(progress: SweepProgress) -> str:
    """``[  12.3 s] 120/500 points (24 stored), 9.8 points/s, Pareto front 7, ETA 39 s``."""
    parts = [f"[{progress.elapsed:7.1f} s] {progress.done}/{progress.total} points"]
    notes = []
    if progress.from_store:
        notes.append(f"{progress.from_store} from the store")
    if progress.failed:
        notes.append(f"{progress.failed} failed")
    if notes:
        parts[0] += f" ({', '.join(notes)})"
    parts.append(f"{progress.rate:.1f} points/s")
    if progress.pareto is not None:
        parts.append(f"Pareto front {progress.pareto}")
    eta = progress.eta
    if progress.done < progress.total:
        parts.append(f"ETA {_duration(eta)}" if eta is not None else "ETA ?")
    return ", ".join(parts)


class ProgressPrinter:
    """Progress on stderr: one line rewritten in place on a terminal, a line every few seconds otherwise."""

    def __init__(self, quiet: bool, stream: TextIO | None = None, interval: float | None = None):
        self.quiet = quiet
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty()
        self.interval = interval if interval is not None else (0.2 if self.tty else 5.0)
        self.last_time = 0.0
        self.last: SweepProgress | None = None
        self.shown = ""

    def __call__(self, progress: SweepProgress) -> None:
        self.last = progress
        if self.quiet:
            return
        now = time.monotonic()
        if now - self.last_time < self.interval and progress.done < progress.total:
            return
        self.last_time = now
        self.show(progress_text(progress))

    def show(self, text: str) -> None:
        if self.tty:
            self.stream.write("\r" + text.ljust(len(self.shown)))
        else:
            self.stream.write(text + "\n")
        self.shown = text
        self.stream.flush()

    def finish(self) -> None:
        """End the progress line (on a terminal, the cursor is left after it)."""
        if not self.quiet and self.tty and self.shown:
            self.stream.write("\n")
            self.stream.flush()
            self.shown = ""


def _cell(value: Any, name: str) -> str:
    if value is None:
        return "-"
    if name in ("params", "flops") and isinstance(value, int):
        return si(value)
    if name == "time":
        return f"{value:.2f}"
    if name == "pareto":
        return "*" if value else ""
    return str(value)


SHOWN_REASONS = 3
NUMERIC = frozenset({"point", "rank", "params", "flops", "depth", "rf", "stride", "output", "rf_margin", "time"})


def table(rows: Sequence[dict[str, Any]], axes: Sequence[str], objectives: Sequence[str]) -> str:
    names = ["point", "template", *axes, "target_rf", "status", "rank", "params", "flops", "depth", "rf", "stride",
             "output", "rf_margin", "time"]
    if objectives:
        names.append("pareto")
    headers = ["target rf" if n == "target_rf" else "rf margin" if n == "rf_margin" else n for n in names]
    body = [[_cell(row.get(name), name) for name in names] for row in rows]
    numeric = [name in NUMERIC or name in axes and all(isinstance(r.get(name), (int, float)) for r in rows)
               for name in names]
    return aligned_table(headers, body, numeric)


def front_rows(rows: Sequence[dict[str, Any]], objectives: Sequence[str]) -> list[dict[str, Any]]:
    """The Pareto rows, best first by the first objective."""
    front = [row for row in rows if row.get("pareto")]
    return sorted(front, key=lambda r: tuple(SENSES[name] * r[name] for name in objectives))


def summary(run: SweepRun, rows: Sequence[dict[str, Any]], objectives: Sequence[str]) -> list[str]:
    sweep = run.sweep
    statuses = Counter(run.results[p.key]["status"] if p.key in run.results else "error" for p in sweep.points)
    order = ("optimal", "feasible", "infeasible", "unknown", "error")
    counts = ", ".join(f"{statuses[s]} {s}" for s in order if statuses[s])
    lines = [f"{sweep.name}: {len(sweep.points)} points ({sweep.sample}) "
             f"over {len(sweep.templates)} template(s): {counts}"]
    solved = f"{run.solved} solved in {run.elapsed:.1f} s"
    if run.solved and run.executor not in ("store", ""):
        solved += f" ({run.executor}, {run.solved / max(run.elapsed, 1e-9):.1f} points/s)"
    lines.append(f"{run.from_store} from the store, {solved}")
    if objectives:
        designs = sum(1 for row in rows if row.get("rank") is not None)
        front = sum(1 for row in rows if row.get("pareto"))
        lines.append(f"Pareto front over {', '.join(objectives)}: {front} of {designs} designs")
    if statuses["feasible"] or statuses["unknown"]:
        lines.append(f"note: {statuses['feasible'] + statuses['unknown']} point(s) ran out of time "
                     f"({sweep.timeout:g} s each) before a proof; raise `timeout:` or --timeout")
    explained = [(point, run.results[point.key]) for point in sweep.points
                 if point.key in run.results and run.results[point.key]["status"] in ("infeasible", "error")]
    for point, result in explained[:SHOWN_REASONS]:
        template = sweep.templates[point.template].name
        lines.append(f"point {point.index} ({template}): {result['status']}: {result['message']}")
    if len(explained) > SHOWN_REASONS:
        lines.append(f"... and {len(explained) - SHOWN_REASONS} more infeasible or bad points (the table's "
                     "`message` column says why)")
    for key, message in list(run.failures.items())[:SHOWN_REASONS]:
        lines.append(f"error: point {key[:12]} failed: {message} (a bug in rfdesign: please report it)")
    return lines
