"""Entry points: a spec file or text in, a validated flat :class:`Graph` out."""

from __future__ import annotations

import gc

from rfdesign.spec.expand import build_graph
from rfdesign.spec.graph import Graph
from rfdesign.spec.yamlload import Limits, load_yaml, read_text


def load_spec(path: str, limits: Limits = Limits()) -> Graph:
    """Read, validate and expand the spec at ``path``.

    Raises :class:`rfdesign.errors.SpecError` (with file:line:col) on any problem.
    """
    text = read_text(path, limits)
    return parse_spec(text, path, limits)


def parse_spec(text: str, file: str = "<spec>", limits: Limits = Limits()) -> Graph:
    """Validate and expand spec ``text``; ``file`` names it in error messages."""
    data, positions = load_yaml(text, file, limits)
    was_enabled = gc.isenabled()
    gc.disable()  # expansion allocates many long-lived objects; collections would only slow it down
    try:
        return build_graph(data, positions, file)
    finally:
        if was_enabled:
            gc.enable()
