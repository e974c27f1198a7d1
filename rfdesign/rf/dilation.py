"""Gridding of stacked dilated convolutions: the offsets a stack reads (for RF104 and the solver, which sit above).

A stack of stride-1 convolutions with kernels k_i and dilations d_i reads,
relative to its first input position, the offsets
``{sum_i j_i * d_i : 0 <= j_i < k_i}``. The stack's receptive field is dense
exactly when these offsets are contiguous; otherwise some positions inside
it are never read ("gridding", Wang et al., "Understanding Convolution for
Semantic Segmentation", WACV 2018). Their Hybrid Dilated Convolution rule
(HDC) is a sufficient condition for a 3x3-style stack: with
``M_n = d_n`` and ``M_i = max(M_{i+1} - 2 d_i, M_{i+1} - 2 (M_{i+1} - d_i), d_i)``,
require ``M_2 <= K``.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import gcd


def offsets(kernels: Sequence[int], dilations: Sequence[int]) -> set[int]:
    """The input offsets a stack of stride-1 dilated convolutions reads."""
    reached = {0}
    for kernel, dilation in zip(kernels, dilations):
        reached = {r + j * dilation for r in reached for j in range(kernel)}
    return reached


def holes(kernels: Sequence[int], dilations: Sequence[int]) -> tuple[int, int]:
    """(positions never read, span of the stack's receptive field)."""
    reached = offsets(kernels, dilations)
    span = max(reached) + 1
    return span - len(reached), span


def common_factor(dilations: Sequence[int]) -> int:
    value = 0
    for d in dilations:
        value = gcd(value, d)
    return value


def hdc_m2(dilations: Sequence[int]) -> int | None:
    """Wang et al.'s M_2 for the rates (None for fewer than two layers)."""
    if len(dilations) < 2:
        return None
    m = dilations[-1]
    for d in reversed(dilations[1:-1]):
        m = max(m - 2 * d, m - 2 * (m - d), d)
    return m


PATTERNS = ((1, 2, 3), (1, 2, 5), (1, 2, 4), (1, 3, 5), (1, 2, 3, 5), (1, 2, 5, 9), (1, 2, 4, 8))


def suggest(kernels: Sequence[int], dilations: Sequence[int]) -> tuple[int, ...] | None:
    """Dense rates for the same stack with about the same receptive field, or None."""
    n = len(dilations)
    span = max(offsets(kernels, dilations)) + 1
    best: tuple[int, ...] | None = None
    best_gap = None
    for pattern in PATTERNS:
        for scale in (1, 2, 3):
            rates = tuple(pattern[i % len(pattern)] * (scale if i % len(pattern) else 1) for i in range(n))
            if holes(kernels, rates)[0]:
                continue
            gap = abs(max(offsets(kernels, rates)) + 1 - span)
            if best_gap is None or gap < best_gap:
                best, best_gap = rates, gap
    return best


STACK_OPS = frozenset({"conv", "identity", "norm"})


def chain_paths(graph, names=None) -> list[list[str]]:  # noqa: ANN001 - a spec Graph
    """Maximal root-to-leaf paths of single-input conv / identity / norm layers.

    These are the places stacks of convolutions can form: along a path, runs of
    stride-1 convolutions (delimited by strided ones) are the stacks whose
    offsets must be contiguous. 1x1 convolutions and pass-through layers
    inside a run do not read other positions, so they leave it unbroken.
    """
    chosen = list(graph.nodes) if names is None else list(names)
    members = {
        name for name in chosen if graph.nodes[name].op in STACK_OPS and len(graph.nodes[name].inputs) == 1
    }
    parent = {name: graph.nodes[name].inputs[0] for name in members if graph.nodes[name].inputs[0] in members}
    has_child = set(parent.values())
    paths = []
    for leaf in (name for name in chosen if name in members and name not in has_child):
        path = [leaf]
        while path[-1] in parent:
            path.append(parent[path[-1]])
        paths.append(list(reversed(path)))
    return paths
