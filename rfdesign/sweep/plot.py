"""A picture of a sweep's Pareto front (matplotlib, the ``plot`` extra).

Two objectives: every design as a grey dot, the front as coloured points
joined by its staircase. Three: the first two on the axes, the third as
colour, the front ringed. Counts that span more than two decades are drawn
on log axes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rfdesign.errors import require
from rfdesign.sweep.pareto import SENSES

MARKER = "rfdesign sweep"
LABELS = {"params": "parameters", "flops": "multiply-adds", "depth": "depth (layers)",
          "rf_margin": "receptive field past the target minimum (px)"}


def plot_front(rows: Sequence[dict[str, Any]], objectives: Sequence[str], path: str, title: str) -> None:
    """Draw the designs of ``rows`` (those with a ``rank``) and their ``pareto`` marks to ``path``."""
    matplotlib = require("matplotlib", "plot")
    matplotlib.use("Agg")
    pyplot = require("matplotlib.pyplot", "plot")

    designs = [row for row in rows if row.get("rank") is not None]
    front = [row for row in designs if row.get("pareto")]
    x_name, y_name = objectives[0], objectives[1]
    figure, axes = pyplot.subplots(figsize=(7.5, 5.2), dpi=120)
    if len(objectives) == 2:
        axes.scatter([r[x_name] for r in designs], [r[y_name] for r in designs], s=14, color="#b0b0b0",
                     label=f"designs ({len(designs)})", zorder=2)
        ordered = sorted(front, key=lambda r: (SENSES[x_name] * r[x_name], SENSES[y_name] * r[y_name]))
        axes.step([r[x_name] for r in ordered], [r[y_name] for r in ordered], where="post", color="#d62728",
                  linewidth=1.2, zorder=3)
        axes.scatter([r[x_name] for r in ordered], [r[y_name] for r in ordered], s=30, color="#d62728",
                     label=f"Pareto front ({len(front)})", zorder=4)
    else:
        z_name = objectives[2]
        points = axes.scatter([r[x_name] for r in designs], [r[y_name] for r in designs],
                              c=[r[z_name] for r in designs], s=18, cmap="viridis", zorder=2,
                              label=f"designs ({len(designs)})")
        axes.scatter([r[x_name] for r in front], [r[y_name] for r in front], s=70, facecolors="none",
                     edgecolors="#d62728", linewidths=1.3, zorder=3, label=f"Pareto front ({len(front)})")
        figure.colorbar(points, ax=axes, label=LABELS[z_name])
    for name, set_scale in ((x_name, axes.set_xscale), (y_name, axes.set_yscale)):
        values = [r[name] for r in designs if r[name] and r[name] > 0]
        if values and max(values) / min(values) > 100:
            set_scale("log")
    better = {1: "lower is better", -1: "higher is better"}
    axes.set_xlabel(f"{LABELS[x_name]} ({better[SENSES[x_name]]})")
    axes.set_ylabel(f"{LABELS[y_name]} ({better[SENSES[y_name]]})")
    axes.set_title(title)
    axes.grid(True, which="major", alpha=0.3)
    axes.legend(loc="best", fontsize="small")
    figure.tight_layout()
    figure.savefig(path, metadata={"Creator": MARKER} if path.lower().endswith((".svg", ".pdf")) else
                   {"Software": MARKER})
    pyplot.close(figure)


def written_by_sweep(path: str) -> bool:
    """Whether ``path`` is a picture this module drew (so a rerun may replace it)."""
    try:
        with open(path, "rb") as handle:
            return MARKER.encode() in handle.read(64 * 1024 * 1024)
    except OSError:
        return False
