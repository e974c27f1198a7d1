"""What an op's PyTorch hook receives and returns (see :meth:`rfdesign.ops.registry.Op.torch`).

The exporter (:mod:`rfdesign.io.torch_export`) owns names, blocks and the
file; an op only says how to compute itself from its inputs' expressions.
The text helpers here format Python literals the way the generated code
writes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class TorchCode:
    """One node as PyTorch code.

    ``module``: an ``nn.Module`` constructor expression (None when the node is
    a line of ``forward`` only); ``forward``: the expression computing the
    node; ``mapped``: whether the node's output is the submodule's own output
    (so gradients and names can be matched to it).
    """

    module: str | None
    forward: str
    mapped: bool


class TorchContext(Protocol):
    """What the exporter tells an op about the node being written."""

    dims: int
    #: the node's submodule as an expression (``self.<name>``)
    me: str
    #: the expressions of the node's inputs, in order
    inputs: list[str]
    #: the expressions of the node's references (e.g. the layer a crop matches), in order
    references: list[str]
    in_channels: int
    in_size: tuple[int, ...]

    def use(self, helper: str) -> None:
        """Include one of the exporter's helper functions (``same_pad``, ``crop`` …) in the module."""


def axes_text(values: tuple[Any, ...]) -> str:
    """``3`` when every axis has the same value, else ``(3, 5)``."""
    values = tuple(int(v) for v in values)
    if len(set(values)) == 1:
        return str(values[0])
    return str(values)


def tuple_text(values: Any) -> str:
    """A Python tuple literal (``(1,)`` for one element)."""
    values = tuple(values)
    return "(" + ", ".join(str(v) for v in values) + ("," if len(values) == 1 else "") + ")"


def flat_pads_text(pairs: tuple[tuple[int, int], ...]) -> str:
    """(before, after) pairs in ``F.pad``'s order: last axis first."""
    flat: list[int] = []
    for before, after in reversed(pairs):
        flat.extend((before, after))
    return tuple_text(flat)
