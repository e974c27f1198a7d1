"""Kept so that old imports work: the comparison lives in :mod:`rfdesign.verify.compare`."""

from __future__ import annotations

from rfdesign.verify.compare import FIGURES, AxisCheck, verify

__all__ = ["FIGURES", "AxisCheck", "verify"]
