"""The analytic figures against gradients through a real PyTorch module (what `rfdesign verify` prints).

:func:`verify` measures the chosen layers with :func:`rfdesign.verify.measure.measure`
(positive constant weights, max pooling as average pooling, norms and
activations as identities, gates removed; see that module for the method and
its limits) and compares, per layer and axis, the receptive field (largest
and smallest over positions), the effective stride and the effective
padding with the RF engine's, at the input size each measurement used (the
measurement enlarges the input until the field fits, and TensorFlow's
``same`` padding depends on that size).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from rfdesign.rf.analysis import Analysis, analyze
from rfdesign.spec.graph import Graph
from rfdesign.verify.measure import measure

FIGURES = ("receptive_field", "receptive_field_position_min", "effective_stride", "effective_padding")


@dataclass(frozen=True)
class AxisCheck:
    """One layer, one axis: analytic and measured figures side by side."""

    layer: str
    axis: int
    input_size: tuple[int, ...]
    analytic: dict[str, Any]
    measured: dict[str, Any]
    status: str  # "ok", "mismatch", or "not measured"
    note: str = ""

    @property
    def mismatches(self) -> list[str]:
        return [
            key
            for key in FIGURES
            if self.measured.get(key) is not None and self.measured[key] != self.analytic.get(key)
        ]


def verify(graph: Graph, layers: Iterable[str] | None = None, input_size: Sequence[int] | None = None) -> list[AxisCheck]:
    """Compare the engine with gradient measurements for ``layers`` (default: the outputs)."""
    chosen = list(layers) if layers is not None else list(graph.outputs)
    measurements = measure(graph, input_size, chosen)
    analyses: dict[tuple[int, ...], Analysis] = {}
    checks = []
    for name in chosen:
        for m in measurements.get(name, []):
            size = tuple(m.input_size)
            if size not in analyses:
                analyses[size] = analyze(graph, size)
            figures = analyses[size].layers[name].axes[m.axis]
            analytic = {key: getattr(figures, key) for key in FIGURES}
            measured = {key: getattr(m, key) for key in FIGURES}
            if not m.measured:
                status = "not measured"
            elif any(measured[key] is not None and measured[key] != analytic[key] for key in FIGURES):
                status = "mismatch"
            else:
                status = "ok"
            note = m.note + (" (border units only: stride and padding not measured)" if m.clipped else "")
            checks.append(AxisCheck(name, m.axis, size, analytic, measured, status, note.strip()))
    return checks
