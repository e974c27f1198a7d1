"""The op registry: one :class:`Op` per canonical op, each in its own module of :mod:`rfdesign.ops`.

An op is everything rfdesign knows about one kind of layer, in one place:

* its spec-language model (:attr:`Op.layer`, a pydantic model) and aliases;
* its typed attributes (:attr:`Op.attrs_type`, a frozen dataclass) and how a
  validated layer becomes them (:meth:`Op.normalize`, errors located);
* its geometry for the RF engine (:meth:`Op.geometry`: output size, exact
  index maps, resolved padding, channels, parameters and multiply-adds);
* how it is written back as spec YAML (:meth:`Op.layer_fields`) and as
  PyTorch code (:meth:`Op.torch`).

Ops register themselves with :func:`register`, which refuses a name (or an
alias) registered twice, as the design rules do. This module imports no op,
so the op modules may import it; :func:`op_for` and :func:`all_ops` load
the ops on first use.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import fields
from typing import TYPE_CHECKING, Any, ClassVar

from rfdesign.errors import SpecError
from rfdesign.spec.graph import Attrs

if TYPE_CHECKING:
    from rfdesign.ops.torch_code import TorchCode, TorchContext
    from rfdesign.rf.geometry import LayerGeometry
    from rfdesign.spec.fields import LayerBase
    from rfdesign.spec.graph import Node
    from rfdesign.spec.normalize import AttrReader


class Op(ABC):
    """One canonical op (see the module docstring). Subclasses set the class variables."""

    name: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()
    layer: ClassVar[type[LayerBase]]
    attrs_type: ClassVar[type[Attrs]] = Attrs
    #: joins two or more inputs (add, concat, mul)
    merge: ClassVar[bool] = False
    #: has a kernel, stride, dilation and padding: the ops whose values can be solver holes
    window: ClassVar[bool] = False
    #: one sentence for the docs
    summary: ClassVar[str] = ""

    def normalize(self, layer: Any, read: AttrReader) -> Attrs:
        """The typed attributes of a validated layer model (raise located SpecErrors)."""
        return self.attrs_type()

    def make(self, dims: int, **values: Any) -> Attrs:
        """Attributes from keyword values, the spec's defaults filling the rest (for importers and tools)."""
        return self.attrs_type(**values)

    def output_channels(self, attrs: Attrs, channels: list[int]) -> int:
        """The channels this op outputs given its inputs' channels."""
        return channels[0]

    @abstractmethod
    def geometry(
        self,
        node: Node,
        sizes: list[tuple[int, ...]],
        channels: list[int],
        references: list[tuple[int, ...]],
    ) -> LayerGeometry:
        """The node's geometry given its inputs' sizes and channels (and its references' sizes)."""

    def layer_fields(self, attrs: Attrs) -> dict[str, Any]:
        """The op's keys in a spec layer mapping, defaults left out (``name``, ``op``, ``from`` are added)."""
        return {}

    def torch(self, node: Node, context: TorchContext) -> TorchCode:
        """The PyTorch code computing this node (see :mod:`rfdesign.ops.torch_code`)."""
        raise SpecError(f"layer `{node.name}`: op `{self.name}` cannot be exported to PyTorch", node.location)


REGISTRY: dict[str, Op] = {}
ALIASES: dict[str, str] = {}


def register(cls: type[Op]) -> type[Op]:
    """Class decorator: register one instance of ``cls`` under its name and aliases."""
    op = cls()
    for word in (cls.name, *cls.aliases):
        if word in REGISTRY or word in ALIASES:
            raise ValueError(f"op name `{word}` registered twice")
    REGISTRY[cls.name] = op
    for alias in cls.aliases:
        ALIASES[alias] = cls.name
    return cls


def _load() -> None:
    import rfdesign.ops  # noqa: F401 - importing the package registers every op


def all_ops() -> dict[str, Op]:
    """Every canonical op by name, in registration order."""
    _load()
    return REGISTRY


def op_for(name: str) -> Op:
    """The :class:`Op` of a canonical op name (KeyError if unknown)."""
    if not REGISTRY:
        _load()
    return REGISTRY[name]


def canonical(word: str) -> str | None:
    """The canonical op for ``word`` (a canonical name or an alias), or None if unknown."""
    if not REGISTRY:
        _load()
    if word in REGISTRY:
        return word
    return ALIASES.get(word)


def attr_names(attrs: Attrs) -> list[str]:
    """The names of an attributes object's fields."""
    return [f.name for f in fields(attrs)]  # type: ignore[arg-type]
