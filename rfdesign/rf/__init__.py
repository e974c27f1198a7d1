"""Forward analysis: exact per-axis receptive-field algebra over any DAG."""

from rfdesign.rf.analysis import Analysis, AxisFigures, LayerResult, Misalignment, analyze
from rfdesign.rf.coords import unit_box, units_seeing

__all__ = ["Analysis", "AxisFigures", "LayerResult", "Misalignment", "analyze", "unit_box", "units_seeing"]
