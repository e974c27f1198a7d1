"""The canonical ops, one module each, registered in one table (:mod:`rfdesign.ops.registry`).

Adding an op means adding one module here (its layer model, typed
attributes, normalisation, geometry, YAML and PyTorch hooks) and importing
it below; docs/spec-format.md lists the ops for users. Aliases (``conv2d``,
``relu``, ``batchnorm`` …) map to a canonical op; activations, dropout and
channel-wise normalisations are pass-through for the receptive field.
"""

from __future__ import annotations

from rfdesign.ops.registry import ALIASES, REGISTRY, Attrs, Op, all_ops, canonical, op_for, register

CONV = "conv"
CONV_TRANSPOSE = "conv_transpose"
MAXPOOL = "maxpool"
AVGPOOL = "avgpool"
GLOBAL_POOL = "global_pool"
UPSAMPLE = "upsample"
ADD = "add"
CONCAT = "concat"
MUL = "mul"
IDENTITY = "identity"
NORM = "norm"
PAD = "pad"
CROP = "crop"
SPACE_TO_DEPTH = "space_to_depth"
DEPTH_TO_SPACE = "depth_to_space"
LINEAR = "linear"
SELECT = "select"

# registration order is the order the docs and messages list the ops in
from rfdesign.ops import (  # noqa: E402, F401 - importing registers them, after the registry exists
    conv,
    conv_transpose,
    maxpool,
    avgpool,
    global_pool,
    upsample,
    add,
    concat,
    mul,
    identity,
    norm,
    pad,
    crop,
    space_to_depth,
    depth_to_space,
    linear,
    select,
)

CANONICAL_OPS: tuple[str, ...] = tuple(REGISTRY)
ALL_OP_NAMES: tuple[str, ...] = CANONICAL_OPS + tuple(ALIASES)
#: ops that join several inputs
MERGE_OPS = frozenset(name for name, op in REGISTRY.items() if op.merge)
#: ops with a kernel, stride, padding and dilation
WINDOW_OPS = frozenset(name for name, op in REGISTRY.items() if op.window)
POOL_OPS = frozenset({MAXPOOL, AVGPOOL})
#: ops with no geometry and no effect on the channels: what a solver may step over
PASS_THROUGH_OPS = frozenset({IDENTITY, NORM})
ACTIVATIONS = identity.ACTIVATIONS
NORMS = norm.NAMES[1:]

__all__ = [
    "ACTIVATIONS", "ADD", "ALIASES", "ALL_OP_NAMES", "AVGPOOL", "Attrs", "CANONICAL_OPS", "CONCAT", "CONV",
    "CONV_TRANSPOSE", "CROP", "DEPTH_TO_SPACE", "GLOBAL_POOL", "IDENTITY", "LINEAR", "MAXPOOL", "MERGE_OPS", "MUL",
    "NORM", "NORMS", "Op", "PAD", "PASS_THROUGH_OPS", "POOL_OPS", "REGISTRY", "SELECT", "SPACE_TO_DEPTH",
    "UPSAMPLE", "WINDOW_OPS", "all_ops", "canonical", "op_for", "register",
]  # fmt: skip
