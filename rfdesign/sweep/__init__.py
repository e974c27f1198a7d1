"""Design-space sweeps: many solves over templates and axes, a results table, a Pareto front.

``load_sweep`` reads a sweep file (docs/sweep.md) into its points;
``run_sweep`` solves what the store lacks on a local pool or a Dask cluster;
``rows`` turns the run into the table. The command is `rfdesign sweep`.
"""

from __future__ import annotations

from rfdesign.sweep.points import Point, Sweep, Template, load_sweep
from rfdesign.sweep.runner import SweepProgress, SweepRun, run_sweep
from rfdesign.sweep.store import ResultStore

__all__ = ["Point", "ResultStore", "Sweep", "SweepProgress", "SweepRun", "Template", "load_sweep", "run_sweep"]
