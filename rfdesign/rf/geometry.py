"""What one node does to its input, resolved against actual sizes, and the window arithmetic behind it.

:class:`LayerGeometry` is what every op's geometry returns (see
:mod:`rfdesign.ops`): output size, exact per-axis index maps, resolved
padding, channels and cost. The functions below are the one place that
knows PyTorch's window sizes, TensorFlow's ``same`` rule and the causal
rules; the ops, the solver and the importers size windows through them.
"""

from __future__ import annotations

from dataclasses import dataclass

from rfdesign.rf.maps import OpMap, shift_map

IDENTITY_MAP = shift_map(0)


@dataclass(frozen=True, slots=True)
class LayerGeometry:
    """What one node does, resolved against its actual input sizes."""

    output_size: tuple[int, ...]
    channels: int
    maps: tuple[OpMap, ...]  # one per axis; empty for merges
    padding: tuple[tuple[int, int], ...] | None  # resolved (before, after) for window ops and pad
    params: int
    flops: int  # multiply-accumulates
    gate_inputs: tuple[int, ...] = ()  # merge inputs that broadcast (global context gates)


def size_text(size: tuple[int, ...]) -> str:
    return "x".join(str(s) for s in size)


def effective_kernel(kernel: int, dilation: int) -> int:
    """The span of a dilated kernel: d (k - 1) + 1."""
    return dilation * (kernel - 1) + 1


def same_padding(size: int, stride: int, effective: int) -> tuple[int, tuple[int, int]]:
    """TensorFlow's SAME rule: output ceil(n/s), extra padding after when the total is odd."""
    out = -(-size // stride)
    total = max((out - 1) * stride + effective - size, 0)
    return out, (total // 2, total - total // 2)


def rule_padding(rule: str, size: int, stride: int, effective: int) -> tuple[int, int]:
    """The (before, after) padding a named rule gives a (non-transposed) window on one axis.

    ``same``: TensorFlow's rule; ``centred``: ``(effective - 1) // 2`` before and
    the rest after, whatever the stride (PyTorch's usual padding: unit v is
    centred on pixel v * stride for odd kernels); ``causal``: all
    ``effective - 1`` pixels before, so unit v reads nothing after pixel
    v * stride; ``anticausal``: all after.
    """
    if rule == "same":
        return same_padding(size, stride, effective)[1]
    if rule == "centred":
        return ((effective - 1) // 2, effective - 1 - (effective - 1) // 2)
    if rule == "causal":
        return (effective - 1, 0)
    if rule == "anticausal":
        return (0, effective - 1)
    raise ValueError(f"unknown padding rule {rule!r}")


def transposed_rule_crop(rule: str, stride: int, effective: int) -> tuple[int, int]:
    """The (before, after) crop a named rule gives a transposed window: output ``size * stride``.

    ``same`` and ``centred`` split ``max(effective - stride, 0)`` with the odd
    pixel after, ``causal`` crops it all after (unit v reads no input after
    v / stride), ``anticausal`` all before.
    """
    total = max(effective - stride, 0)
    if rule in ("same", "centred"):
        return (total // 2, total - total // 2)
    if rule == "causal":
        return (0, total)
    if rule == "anticausal":
        return (total, 0)
    raise ValueError(f"unknown padding rule {rule!r}")


def window_size(size: int, effective: int, stride: int, pads: tuple[int, int], ceil_mode: bool = False) -> int:
    """PyTorch's output size of a convolution or pooling window; 0 when the output would be empty."""
    span = size + pads[0] + pads[1] - effective
    if span < 0:
        return 0
    if ceil_mode:
        out = -(-span // stride) + 1
        if (out - 1) * stride >= size + pads[0]:
            out -= 1  # the last window must start inside the input or the left padding
        return out
    return span // stride + 1


def transposed_size(size: int, stride: int, effective: int, crop: tuple[int, int], output_padding: int) -> int:
    """PyTorch's output size of a transposed convolution (may be < 1 for an impossible crop)."""
    return (size - 1) * stride - crop[0] - crop[1] + effective + output_padding


def window_axis(
    padding: str | tuple[tuple[int, int], ...],
    axis: int,
    size: int,
    kernel: int,
    stride: int,
    dilation: int,
    ceil_mode: bool = False,
) -> tuple[int, tuple[int, int]]:
    """Output size (0 when empty) and resolved (before, after) padding of a window on one axis."""
    effective = effective_kernel(kernel, dilation)
    if padding == "same":
        return same_padding(size, stride, effective)
    if isinstance(padding, str):
        pair = rule_padding(padding, size, stride, effective)
    else:
        pair = padding[axis]
    return window_size(size, effective, stride, pair, ceil_mode), pair
