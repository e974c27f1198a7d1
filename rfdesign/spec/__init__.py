"""The spec language: YAML loading, pydantic validation, expansion into a flat graph."""

from rfdesign.spec.graph import INPUT, Choice, Graph, Node
from rfdesign.spec.load import load_spec, parse_spec

__all__ = ["INPUT", "Choice", "Graph", "Node", "load_spec", "parse_spec"]
