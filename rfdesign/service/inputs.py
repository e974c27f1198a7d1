"""From a request to a graph: spec text, a spec as a JSON object, or an uploaded ONNX / Darknet / YAML file.

The service never imports code on a client's behalf (no ``module:factory``
sources) and never opens a path a client names: a spec arrives as text,
a model as the bytes of an upload, which is written to a private temporary
directory under a name of the server's choosing and read from there. The
client's file name is only a label in messages and results, as the path is
on the command line.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from typing import Any

from rfdesign import __version__
from rfdesign.errors import Location, SpecError
from rfdesign.spec.graph import Graph
from rfdesign.spec.yamlload import Limits

#: upload kinds by extension; specs may also come as uploads
UPLOAD_KINDS = {".onnx": "onnx", ".cfg": "darknet", ".yaml": "spec", ".yml": "spec"}
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]")


def spec_text(spec: str | dict[str, Any]) -> str:
    """The text of a spec given as YAML text or as a JSON object (JSON printed with a two-space indent)."""
    if isinstance(spec, str):
        return spec
    return json.dumps(spec, indent=2)


def parse(spec: str | dict[str, Any], filename: str, output: str | None = None) -> Graph:
    """The graph of a spec given in a request, with the CLI's YAML limits; ``output`` picks the primary output."""
    from rfdesign.io.sources import with_output
    from rfdesign.spec.load import parse_spec

    graph = parse_spec(spec_text(spec), filename, Limits())
    return with_output(graph, output) if output is not None else graph


def label(filename: str | None, default: str) -> str:
    """A client's file name reduced to a safe base name (it is only ever a label)."""
    base = os.path.basename((filename or "").replace("\\", "/")).strip()
    return _UNSAFE.sub("_", base)[:255] or default


def upload_kind(name: str) -> str:
    extension = os.path.splitext(name)[1].lower()
    if extension not in UPLOAD_KINDS:
        raise SpecError(f"cannot tell what kind of model '{name}' is from its extension", Location(name),
                        "upload a .onnx (ONNX), .cfg (Darknet) or .yaml (spec) file")
    return UPLOAD_KINDS[extension]


def load_upload(data: bytes, filename: str, input_size: tuple[int, ...] | None = None,
                output: str | None = None) -> Graph:
    """The graph of an uploaded file, named ``filename`` (a label) in messages and results."""
    name = label(filename, "model")
    kind = upload_kind(name)
    if kind == "spec":
        from rfdesign.spec.yamlload import decode_utf8

        return parse(decode_utf8(data, name), name, output)
    with tempfile.TemporaryDirectory(prefix="rfdesign-upload-") as directory:
        path = os.path.join(directory, name)  # a safe base name: the model's name comes from it, as locally
        with open(path, "wb") as handle:
            handle.write(data)
        try:
            if kind == "onnx":
                from rfdesign.io.onnx_import import import_onnx

                graph = import_onnx(path, input_size, output)
            else:
                from rfdesign.io.darknet import import_darknet

                graph = import_darknet(path, input_size, output)
        except SpecError as exc:
            raise _relabelled_error(exc, path, name) from None
    return relabel(graph, path, name)


def _relabelled_error(exc: SpecError, path: str, name: str) -> SpecError:
    location = exc.location
    if location is not None and location.file == path:
        location = Location(name, location.line, location.column)
    return SpecError(exc.message.replace(path, name), location, exc.hint)


def relabel(graph: Graph, path: str, name: str) -> Graph:
    """The graph with the temporary file's path replaced by the client's label wherever it appears."""
    from dataclasses import replace

    def fix(location: Location | None) -> Location | None:
        if location is not None and location.file == path:
            return Location(name, location.line, location.column)
        return location

    for node in graph.nodes.values():
        node.location = fix(node.location) or node.location
    return replace(graph, file=name if graph.file == path else graph.file, input_location=fix(graph.input_location))


def request_key(kind: str, spec_data: Any, filename: str, options: dict[str, Any]) -> str:
    """The content address of a solve request: the canonical spec data, its label and the options.

    Whitespace, comments and key order in the YAML do not change the key; the rfdesign version does.
    """
    canonical = json.dumps({"kind": kind, "spec": spec_data, "file": filename, "options": options,
                            "version": __version__}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
