"""Kept so that old imports work: the module builder is :mod:`rfdesign.verify.probe` (it is the oracle, no importer).

Every name of the probe module is reachable here, including any added there later.
"""

from __future__ import annotations

from typing import Any

from rfdesign.verify import probe as _probe
from rfdesign.verify.probe import ACTIVATIONS, FAITHFUL, PROBE, build_module, infer_shapes

__all__ = ["ACTIVATIONS", "FAITHFUL", "PROBE", "build_module", "infer_shapes"]


def __getattr__(name: str) -> Any:
    return getattr(_probe, name)
