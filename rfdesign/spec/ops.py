"""The operations a spec may use: canonical names, aliases and families.

Each canonical op has one geometric meaning in :mod:`rfdesign.rf`. Aliases
(``conv2d``, ``relu``, ``batchnorm`` …) are accepted in specs and mapped to a
canonical op; activations, dropout and channel-wise normalisations are
pass-through (``identity``-like) for the receptive field.
"""

from __future__ import annotations

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

CANONICAL_OPS: tuple[str, ...] = (
    CONV,
    CONV_TRANSPOSE,
    MAXPOOL,
    AVGPOOL,
    GLOBAL_POOL,
    UPSAMPLE,
    ADD,
    CONCAT,
    MUL,
    IDENTITY,
    NORM,
    PAD,
    CROP,
    SPACE_TO_DEPTH,
    DEPTH_TO_SPACE,
    LINEAR,
    SELECT,
)

#: pass-through activations and regularisers: no geometry, no parameters
ACTIVATIONS: tuple[str, ...] = (
    "relu", "relu6", "leaky_relu", "prelu", "elu", "selu", "celu", "gelu", "silu", "swish",
    "mish", "hardswish", "hard_swish", "sigmoid", "hardsigmoid", "hard_sigmoid", "tanh",
    "softmax", "log_softmax", "activation", "dropout", "dropout2d", "dropout3d",
    "alpha_dropout", "lrn", "local_response_norm",
)  # fmt: skip

#: channel-wise normalisations: pass-through geometry, 2*C parameters when affine
NORMS: tuple[str, ...] = (
    "batchnorm", "batch_norm", "bn", "layernorm", "layer_norm", "groupnorm", "group_norm",
    "instancenorm", "instance_norm",
)  # fmt: skip

ALIASES: dict[str, str] = {
    "conv1d": CONV, "conv2d": CONV, "conv3d": CONV, "convolution": CONV,
    "conv_transpose1d": CONV_TRANSPOSE, "conv_transpose2d": CONV_TRANSPOSE,
    "conv_transpose3d": CONV_TRANSPOSE, "deconv": CONV_TRANSPOSE, "convtranspose": CONV_TRANSPOSE,
    "max_pool": MAXPOOL, "avg_pool": AVGPOOL,
    "global_avgpool": GLOBAL_POOL, "global_avg_pool": GLOBAL_POOL,
    "global_maxpool": GLOBAL_POOL, "global_max_pool": GLOBAL_POOL,
    "upsampling": UPSAMPLE, "interpolate": UPSAMPLE, "resize": UPSAMPLE,
    "pixel_shuffle": DEPTH_TO_SPACE, "reorg": SPACE_TO_DEPTH, "pixel_unshuffle": SPACE_TO_DEPTH,
    "dense": LINEAR, "fc": LINEAR,
    "cat": CONCAT, "sum": ADD, "multiply": MUL,
    "zero_pad": PAD, "zeropad": PAD, "slice": SELECT, "channel_slice": SELECT,
}  # fmt: skip
ALIASES.update({name: IDENTITY for name in ACTIVATIONS})
ALIASES.update({name: NORM for name in NORMS})

ALL_OP_NAMES: tuple[str, ...] = CANONICAL_OPS + tuple(ALIASES)

#: ops that join several inputs
MERGE_OPS = frozenset({ADD, CONCAT, MUL})
#: ops with a kernel, stride, padding and dilation
WINDOW_OPS = frozenset({CONV, CONV_TRANSPOSE, MAXPOOL, AVGPOOL})
POOL_OPS = frozenset({MAXPOOL, AVGPOOL})


def canonical(op: str) -> str | None:
    """The canonical op for ``op`` (itself or an alias), or None if unknown."""
    if op in CANONICAL_OPS:
        return op
    return ALIASES.get(op)
