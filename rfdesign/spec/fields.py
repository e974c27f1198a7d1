"""Building blocks of the spec language's pydantic models, shared by every op.

Per-axis values (``kernel``, ``stride``, ``padding`` …) are typed ``Any``
here with a JSON-schema annotation: :mod:`rfdesign.spec.normalize` parses
them once the number of spatial axes is known, so that it can say exactly
what is wrong with a value. :class:`LayerBase` holds the keys every layer
accepts; each op's own model (in :mod:`rfdesign.ops`) extends it.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, WithJsonSchema

INT_SCHEMA = {"type": "integer"}
CHOOSE_SCHEMA = {
    "type": "object",
    "properties": {"choose": {"type": "array", "items": INT_SCHEMA, "minItems": 1}},
    "required": ["choose"],
    "additionalProperties": False,
}
EXPR_SCHEMA = {"type": "string", "pattern": r"^\$"}

PerAxisInt = Annotated[
    Any,
    WithJsonSchema(
        {
            "description": "an int for every axis, or one value per spatial axis",
            "anyOf": [
                INT_SCHEMA,
                CHOOSE_SCHEMA,
                EXPR_SCHEMA,
                {"type": "array", "items": {"anyOf": [INT_SCHEMA, CHOOSE_SCHEMA, EXPR_SCHEMA]}},
            ],
        }
    ),
]
Padding = Annotated[
    Any,
    WithJsonSchema(
        {
            "description": "int, 'same', 'valid', 'centred', 'causal', 'anticausal', one int per axis, or [before, after] per axis",
            "anyOf": [
                INT_SCHEMA,
                {"enum": ["same", "valid", "centred", "causal", "anticausal"]},
                EXPR_SCHEMA,
                {
                    "type": "array",
                    "items": {
                        "anyOf": [INT_SCHEMA, {"type": "array", "items": INT_SCHEMA, "minItems": 2, "maxItems": 2}]
                    },
                },
            ],
        }
    ),
]
Sources = Annotated[
    Any,
    WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}),
]


class Strict(BaseModel):
    """A model that rejects unknown keys (a typo is reported as a typo)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class LayerBase(Strict):
    """Keys every layer accepts."""

    name: str | None = Field(None, description="unique name; default `<op>_<k>`")
    from_: Sources = Field(None, alias="from", description="input: a layer name, `input`, or a list")
    repeat: StrictInt = Field(1, description="chain this many copies, named `<name>_<i>`")
    optional: StrictBool = Field(False, description="the solver may drop this layer")
    note: str | None = Field(None, description="free text, e.g. where the layer came from")
