"""Pydantic models of the spec language.

The models check structure and scalar types (unknown keys, missing keys,
booleans, strings). Each op's layer model lives in its own module of
:mod:`rfdesign.ops`; this module holds the spec's own structure (input,
blocks, target, review) and the JSON Schema. Per-axis values are parsed by
:mod:`rfdesign.spec.normalize`, which knows how many spatial axes the
network has and can say exactly what is wrong with a value.

See docs/spec-format.md for the language itself.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictBool, WithJsonSchema

from rfdesign.spec.fields import INT_SCHEMA, LayerBase, Sources, Strict

_INT = INT_SCHEMA
_LAYER_PLACEHOLDER = {"x-rfdesign": "layer"}


class BlockCall(BaseModel):
    """Use of a block; keys other than these are the block's parameters."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)
    block: str
    name: str | None = None
    from_: Sources = Field(None, alias="from")
    repeat: StrictInt = 1
    optional: StrictBool = False
    note: str | None = None


def layer_models() -> dict[str, type[LayerBase]]:
    """Canonical op -> the model that validates its layers (each op's own, from the registry)."""
    from rfdesign.ops import all_ops

    return {name: op.layer for name, op in all_ops().items()}


def any_layer() -> Any:
    """The union of every layer model and a block use (for the JSON Schema)."""
    models = tuple(dict.fromkeys(layer_models().values())) + (BlockCall,)
    return Annotated[
        Union[models],  # type: ignore[valid-type]
        Field(description="a layer (has `op`) or a use of a block (has `block`)"),
    ]


class InputSpec(Strict):
    size: StrictInt | list[StrictInt] = Field(description="one entry per spatial axis (1-D, 2-D or 3-D)")
    channels: StrictInt = Field(3, ge=1)


class BlockDef(Strict):
    """A reusable sub-network with parameters (``$name`` or ``${expr}`` in its layers)."""

    params: dict[str, Any] = Field(default_factory=dict, description="name -> default (null: required)")
    inputs: list[str] = Field(default_factory=lambda: ["input"], description="names of the block's inputs")
    layers: list[Annotated[dict[str, Any], WithJsonSchema(_LAYER_PLACEHOLDER)]] = Field(min_length=1)
    output: str | None = Field(None, description="the layer whose output is the block's; default: the last")
    note: str | None = None


class RangeTarget(Strict):
    min: StrictInt | None = None
    max: StrictInt | None = None


_RANGE = {
    "type": "object",
    "properties": {"min": _INT, "max": _INT},
    "additionalProperties": False,
}
TargetValue = Annotated[
    Any,
    WithJsonSchema(
        {
            "anyOf": [
                _INT,
                _RANGE,
                {"type": "array", "items": {"anyOf": [_INT, _RANGE]}},
            ]
        }
    ),
]


class Target(Strict):
    """What the design must reach (read by `check` and `solve`)."""

    receptive_field: TargetValue = None
    output_size: TargetValue = None
    effective_stride: TargetValue = None
    objective: Literal["params", "flops"] = "params"
    top_k: StrictInt = Field(1, ge=1)
    constraints: dict[str, Any] = Field(default_factory=dict)


class Spec(Strict):
    """A whole spec file."""

    name: str
    description: str | None = None
    input: InputSpec
    blocks: dict[str, BlockDef] = Field(default_factory=dict)
    layers: list[Annotated[dict[str, Any], WithJsonSchema(_LAYER_PLACEHOLDER)]] = Field(min_length=1)
    output: str | list[str] | None = Field(None, description="output layer(s); default: the last layer")
    target: Target | None = None
    review: dict[str, Any] | None = Field(None, description="settings for `rfdesign check`")


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a spec file, for editor completion."""
    from pydantic import TypeAdapter

    schema = Spec.model_json_schema(by_alias=True)
    layer_schema = TypeAdapter(any_layer()).json_schema(by_alias=True, ref_template="#/$defs/{model}")
    defs = schema.setdefault("$defs", {})
    defs.update(layer_schema.pop("$defs", {}))
    defs["AnyLayer"] = layer_schema
    _replace_placeholders(schema)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "rfdesign spec"
    return schema


def _replace_placeholders(value: Any) -> None:
    """Point every layer placeholder at the layer union (pydantic cannot reference it directly)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if item == _LAYER_PLACEHOLDER:
                value[key] = {"$ref": "#/$defs/AnyLayer"}
            else:
                _replace_placeholders(item)
    elif isinstance(value, list):
        for item in value:
            _replace_placeholders(item)
