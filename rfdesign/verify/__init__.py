"""The gradient oracle: receptive fields measured through a real PyTorch module, compared with the engine's.

Three modules, one job each:

* :mod:`rfdesign.verify.probe` builds a ``torch.nn.Module`` from a graph
  (``faithful`` or ``probe`` mode). It stays outside the op registry on
  purpose: it is the oracle, so it shares no code with the engine
  (:mod:`rfdesign.rf`, :mod:`rfdesign.ops`) it checks, only the spec parser's
  graph, and keeps its own window arithmetic.
* :mod:`rfdesign.verify.measure` reads receptive fields, effective strides
  and paddings off the probe's gradients (:func:`measure`).
* :mod:`rfdesign.verify.compare` sets them beside the engine's figures
  (:func:`verify`, what ``rfdesign verify`` prints).

Importing this package does not import torch; measuring needs the
``rfdesign[torch]`` extra.
"""

from __future__ import annotations

from rfdesign.verify.compare import FIGURES, AxisCheck, verify
from rfdesign.verify.measure import AxisMeasurement, measure

__all__ = ["FIGURES", "AxisCheck", "AxisMeasurement", "measure", "verify"]
