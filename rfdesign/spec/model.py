"""Pydantic models of the spec language.

The models check structure and scalar types (unknown keys, missing keys,
booleans, strings). Per-axis values (``kernel``, ``stride``, ``dilation``,
``padding`` …) are typed ``Any`` here with a JSON-schema annotation, and are
parsed by :mod:`rfdesign.spec.normalize`, which knows how many spatial axes
the network has and can say exactly what is wrong with a value.

See docs/spec-format.md for the language itself.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, WithJsonSchema

from rfdesign.spec import ops

_INT = {"type": "integer"}
_CHOOSE = {
    "type": "object",
    "properties": {"choose": {"type": "array", "items": _INT, "minItems": 1}},
    "required": ["choose"],
    "additionalProperties": False,
}
_EXPR = {"type": "string", "pattern": r"^\$"}
_LAYER_PLACEHOLDER = {"x-rfdesign": "layer"}

PerAxisInt = Annotated[
    Any,
    WithJsonSchema(
        {
            "description": "an int for every axis, or one value per spatial axis",
            "anyOf": [_INT, _CHOOSE, _EXPR, {"type": "array", "items": {"anyOf": [_INT, _CHOOSE, _EXPR]}}],
        }
    ),
]
Padding = Annotated[
    Any,
    WithJsonSchema(
        {
            "description": "int, 'same', 'valid', one int per axis, or [before, after] per axis",
            "anyOf": [
                _INT,
                {"enum": ["same", "valid"]},
                _EXPR,
                {"type": "array", "items": {"anyOf": [_INT, {"type": "array", "items": _INT, "minItems": 2, "maxItems": 2}]}},
            ],
        }
    ),
]
Sources = Annotated[
    Any,
    WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}),
]


def _op_literal(*canonical_names: str) -> Any:
    names = [name for name in ops.ALL_OP_NAMES if ops.canonical(name) in canonical_names]
    return Literal[tuple(names)]  # type: ignore[valid-type]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class LayerBase(_Strict):
    """Keys every layer accepts."""

    name: str | None = Field(None, description="unique name; default `<op>_<k>`")
    from_: Sources = Field(None, alias="from", description="input: a layer name, `input`, or a list")
    repeat: StrictInt = Field(1, description="chain this many copies, named `<name>_<i>`")
    optional: StrictBool = Field(False, description="the solver may drop this layer")
    note: str | None = Field(None, description="free text, e.g. where the layer came from")


class ConvLayer(LayerBase):
    op: _op_literal(ops.CONV)  # type: ignore[valid-type]
    out: StrictInt | None = Field(None, description="output channels; default: input channels")
    kernel: PerAxisInt
    stride: PerAxisInt = 1
    padding: Padding = 0
    dilation: PerAxisInt = 1
    groups: StrictInt | Literal["depthwise"] = 1
    bias: StrictBool = True


class ConvTransposeLayer(ConvLayer):
    op: _op_literal(ops.CONV_TRANSPOSE)  # type: ignore[valid-type]
    output_padding: PerAxisInt = 0


class PoolLayer(LayerBase):
    op: _op_literal(ops.MAXPOOL, ops.AVGPOOL)  # type: ignore[valid-type]
    kernel: PerAxisInt
    stride: PerAxisInt = Field(None, description="default: the kernel")
    padding: Padding = 0
    dilation: PerAxisInt = 1
    ceil_mode: StrictBool = False


class GlobalPoolLayer(LayerBase):
    op: _op_literal(ops.GLOBAL_POOL)  # type: ignore[valid-type]
    mode: Literal["avg", "max"] | None = None


class UpsampleLayer(LayerBase):
    op: _op_literal(ops.UPSAMPLE)  # type: ignore[valid-type]
    factor: PerAxisInt = None
    size: PerAxisInt = None
    mode: Literal["nearest", "bilinear", "linear", "trilinear"] = "nearest"
    align_corners: StrictBool = False


class MergeLayer(LayerBase):
    op: _op_literal(ops.ADD, ops.CONCAT, ops.MUL)  # type: ignore[valid-type]


class IdentityLayer(LayerBase):
    op: _op_literal(ops.IDENTITY)  # type: ignore[valid-type]


class NormLayer(LayerBase):
    op: _op_literal(ops.NORM)  # type: ignore[valid-type]
    affine: StrictBool = True


class PadLayer(LayerBase):
    op: _op_literal(ops.PAD)  # type: ignore[valid-type]
    padding: Padding


class CropLayer(LayerBase):
    op: _op_literal(ops.CROP)  # type: ignore[valid-type]
    crop: Padding = Field(None, description="rows/columns to drop, as padding")
    like: str | None = Field(None, description="centre-crop to the output size of this layer")


class SpaceToDepthLayer(LayerBase):
    op: _op_literal(ops.SPACE_TO_DEPTH)  # type: ignore[valid-type]
    factor: PerAxisInt


class DepthToSpaceLayer(LayerBase):
    op: _op_literal(ops.DEPTH_TO_SPACE)  # type: ignore[valid-type]
    factor: PerAxisInt


class LinearLayer(LayerBase):
    op: _op_literal(ops.LINEAR)  # type: ignore[valid-type]
    out: StrictInt
    bias: StrictBool = True


class SelectLayer(LayerBase):
    op: _op_literal(ops.SELECT)  # type: ignore[valid-type]
    start: StrictInt = Field(0, description="first channel kept (0-based)")
    stop: StrictInt | None = Field(None, description="one past the last channel kept; default: all")


class BlockCall(BaseModel):
    """Use of a block; keys other than these are the block's parameters."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)
    block: str
    name: str | None = None
    from_: Sources = Field(None, alias="from")
    repeat: StrictInt = 1
    optional: StrictBool = False
    note: str | None = None


#: canonical op -> the model that validates it
LAYER_MODELS: dict[str, type[LayerBase]] = {
    ops.CONV: ConvLayer,
    ops.CONV_TRANSPOSE: ConvTransposeLayer,
    ops.MAXPOOL: PoolLayer,
    ops.AVGPOOL: PoolLayer,
    ops.GLOBAL_POOL: GlobalPoolLayer,
    ops.UPSAMPLE: UpsampleLayer,
    ops.ADD: MergeLayer,
    ops.CONCAT: MergeLayer,
    ops.MUL: MergeLayer,
    ops.IDENTITY: IdentityLayer,
    ops.NORM: NormLayer,
    ops.PAD: PadLayer,
    ops.CROP: CropLayer,
    ops.SPACE_TO_DEPTH: SpaceToDepthLayer,
    ops.DEPTH_TO_SPACE: DepthToSpaceLayer,
    ops.LINEAR: LinearLayer,
    ops.SELECT: SelectLayer,
}

AnyLayer = Annotated[
    Union[tuple(dict.fromkeys(LAYER_MODELS.values())) + (BlockCall,)],  # type: ignore[valid-type]
    Field(description="a layer (has `op`) or a use of a block (has `block`)"),
]


class InputSpec(_Strict):
    size: StrictInt | list[StrictInt] = Field(description="one entry per spatial axis (1-D, 2-D or 3-D)")
    channels: StrictInt = Field(3, ge=1)


class BlockDef(_Strict):
    """A reusable sub-network with parameters (``$name`` or ``${expr}`` in its layers)."""

    params: dict[str, Any] = Field(default_factory=dict, description="name -> default (null: required)")
    inputs: list[str] = Field(default_factory=lambda: ["input"], description="names of the block's inputs")
    layers: list[Annotated[dict[str, Any], WithJsonSchema(_LAYER_PLACEHOLDER)]] = Field(min_length=1)
    output: str | None = Field(None, description="the layer whose output is the block's; default: the last")
    note: str | None = None


class RangeTarget(_Strict):
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


class Target(_Strict):
    """What the design must reach (read by `check` and `solve`)."""

    receptive_field: TargetValue = None
    output_size: TargetValue = None
    effective_stride: TargetValue = None
    objective: Literal["params", "flops"] = "params"
    top_k: StrictInt = Field(1, ge=1)
    constraints: dict[str, Any] = Field(default_factory=dict)


class Spec(_Strict):
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
    layer_schema = TypeAdapter(AnyLayer).json_schema(by_alias=True, ref_template="#/$defs/{model}")
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
