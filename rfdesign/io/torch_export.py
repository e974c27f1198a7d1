"""A flat graph as the source of a standalone, readable PyTorch module.

:func:`export_pytorch` writes a readable Python module that imports only torch
and defines one ``nn.Module`` computing the spec (any spec, including the
solver's proposals):

* every node is a submodule (``nn.Conv2d``, ``nn.MaxPool2d``, ``nn.ReLU`` ...)
  or one line of ``forward`` (merges, slicing, crops); names are the spec's,
  made into identifiers, with a comment giving the original name where it
  differs;
* nodes that share a ``scope`` (the uses of a block, ``resnet/block1/unit_1``)
  become nested modules, one class per distinct block body, used once per
  use; a scope whose nodes cannot be grouped without a cycle through the rest
  of the graph stays inline;
* TensorFlow's ``same`` padding is computed at run time from the actual input
  size (the odd pixel after) by a small helper; max pooling pads it with
  ``-inf`` and average pooling leaves it out of the averages, as TensorFlow
  does; a stride-1 ``same`` convolution uses PyTorch's own ``padding="same"``;
* pooling keeps ``ceil_mode`` (PyTorch's rule, which is the spec's), padding
  that PyTorch's pools refuse (asymmetric, or more than half the kernel) is
  explicit; ``conv_transpose`` keeps ``output_padding``; ``upsample`` is
  ``nn.Upsample``; ``crop`` with ``like`` centre-crops to the other tensor's
  size; ``select`` slices channels; ``space_to_depth``/``depth_to_space`` are
  pixel (un)shuffles; ``linear`` is flatten + ``nn.Linear``, its output kept
  as ``(batch, out, 1, ...)`` like the spec's size-1 map; ``norm`` is a
  BatchNorm of the right dimensionality; a pass-through layer is the
  activation its op names (``relu``, ``gelu``, ``silu`` ...), else identity.

``forward(x)`` returns the primary output, or a tuple in ``graph.outputs``
order. The helpers avoid Python control flow on sizes, so the module can be
traced with torch.fx (and read back with ``rfdesign analyze package.module:Class``).
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field
from typing import Any

from rfdesign.errors import SpecError
from rfdesign.ops import op_for
from rfdesign.ops.torch_code import TorchCode, tuple_text
from rfdesign.spec.graph import INPUT, Graph, Node

__all__ = ["export_pytorch", "module_paths"]

#: blocks that differ in more constructor integers than this get a class each (one with so many parameters
#: would be harder to read than the copies)
MAX_PARAMETERS = 4
#: a scope with fewer nodes stays inline in its parent (names `<use>_<layer>`): a class for a conv + norm
#: + activation would only add indirection
MIN_BLOCK_NODES = 4

#: names a generated identifier must not take (Python, the module's globals, nn.Module's attributes)
_RESERVED = set(keyword.kwlist) | {
    "self", "x", "torch", "nn", "F", "super", "range", "len", "max", "min", "tuple", "list", "float", "int",
    "enumerate", "reversed", "print", "INPUT_SHAPE", "same_pad", "same_transpose", "pool_pad", "same_avg_pool",
    "avg_pool", "crop", "centre_crop", "space_to_depth", "depth_to_space", "forward", "training", "train", "eval",
    "to", "cpu", "cuda", "half", "double", "type", "apply", "parameters", "named_parameters", "buffers",
    "named_buffers", "children", "named_children", "modules", "named_modules", "state_dict", "load_state_dict",
    "register_buffer", "register_parameter", "add_module", "register_module", "get_submodule", "zero_grad",
    "requires_grad_", "extra_repr", "bfloat16", "share_memory", "compile", "get_parameter", "get_buffer",
    "register_forward_hook", "register_forward_pre_hook", "register_full_backward_hook", "register_backward_hook",
    "to_empty", "set_submodule", "ipu", "xpu", "mtia", "dump_patches", "call_super_init", "T_destination",
}  # fmt: skip


def export_pytorch(graph: Graph, class_name: str | None = None) -> str:
    """Source code of a standalone Python module defining an ``nn.Module`` for ``graph``."""
    return _Exporter(graph, class_name).source()


def module_paths(graph: Graph) -> dict[str, str]:
    """Node name -> qualified submodule name, for every node whose output is its submodule's output.

    (Nodes written as lines of ``forward``, or whose submodule's output is
    cropped afterwards, are left out.) The names are those torch gives the
    generated module's submodules, e.g. ``block1.unit_1.conv1``.
    """
    exporter = _Exporter(graph, None)
    exporter.source()
    return dict(exporter.paths)


# --------------------------------------------------------------------------------------------------
# helpers written into the generated module (only those it uses)
# --------------------------------------------------------------------------------------------------

_HELPERS: dict[str, str] = {
    "same_pad": '''
def same_pad(x, kernel, stride, dilation, value=0.0):
    """Pad x as TensorFlow's `same` does, from its actual size: output ceil(n / stride), the odd pixel after."""
    pads = []
    for axis in reversed(range(len(kernel))):
        n = x.shape[2 + axis]
        total = (-(-n // stride[axis]) - 1) * stride[axis] + dilation[axis] * (kernel[axis] - 1) + 1 - n
        total = total * (total > 0)  # max(total, 0), written so that torch.fx can trace it
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads, value=value)
''',
    "same_transpose": '''
def same_transpose(y, x, kernel, stride, dilation):
    """Cut (or extend) a transposed convolution's full output y to TensorFlow's `same`: x's size * stride.

    The crop is max(kernel' - stride, 0) pixels per axis, the odd one after.
    """
    pads = []
    for axis in reversed(range(len(kernel))):
        total = max(dilation[axis] * (kernel[axis] - 1) + 1 - stride[axis], 0)
        before = total // 2
        after = x.shape[2 + axis] * stride[axis] - (y.shape[2 + axis] - before)  # < 0: crop, > 0: zeros
        pads += [-before, after]
    return F.pad(y, pads)
''',
    "pool_pad": '''
def pool_pad(x, kernel, stride, dilation, pads, ceil_mode, value):
    """Explicit padding for a pooling window that PyTorch's own padding cannot express.

    pads: (before, after) per axis. The result holds exactly the pooling's windows: with ceil_mode a
    last, partial window reads past the padding (PyTorch's rule: it must start inside the input or
    the left padding); the pixels no window reads are cut off.
    """
    flat = []
    for axis in reversed(range(len(kernel))):
        n = x.shape[2 + axis]
        s = stride[axis]
        k = dilation[axis] * (kernel[axis] - 1) + 1
        before, after = pads[axis]
        span = n + before + after - k
        out = span // s + 1
        if ceil_mode:
            out = -(-span // s) + 1
            out = out - ((out - 1) * s >= n + before)
        flat += [before, (out - 1) * s + k - n - before]  # after: < 0 cuts pixels no window reads
    return F.pad(x, flat, value=value)
''',
    "avg_pool": '''
def avg_pool(x, kernel, stride, dilation):
    """Average pooling, also with dilation (PyTorch's AvgPool has none: a depthwise convolution of equal weights)."""
    if all(d == 1 for d in dilation):
        return F.avg_pool{d}d(x, kernel, stride)
    taps = 1
    for k in kernel:
        taps *= k
    weight = x.new_full((x.shape[1], 1) + tuple(kernel), 1.0 / taps)
    return F.conv{d}d(x, weight, stride=stride, dilation=dilation, groups=x.shape[1])
''',
    "same_avg_pool": '''
def same_avg_pool(x, kernel, stride, dilation):
    """TensorFlow's `same` average pooling: the padding is left out of each average."""
    ones = torch.ones_like(x[:, :1])
    total = avg_pool(same_pad(x, kernel, stride, dilation), kernel, stride, dilation)
    count = avg_pool(same_pad(ones, kernel, stride, dilation), kernel, stride, dilation)
    return total / count
''',
    "crop": '''
def crop(x, pairs):
    """Drop (before, after) pixels on each spatial axis."""
    for axis, (before, after) in enumerate(pairs):
        x = x.narrow(2 + axis, before, x.shape[2 + axis] - before - after)
    return x
''',
    "centre_crop": '''
def centre_crop(x, like):
    """Crop x to the spatial size of `like`, centred; an odd extra pixel is dropped at the end."""
    for dim in range(2, {dims2}):
        extra = x.shape[dim] - like.shape[dim]
        x = x.narrow(dim, extra // 2, like.shape[dim])
    return x
''',
    "space_to_depth": '''
def space_to_depth(x, factors):
    """Move each patch of `factors` pixels into the channels (PixelUnshuffle on any number of axes).

    Written as a strided convolution whose kernels are one-hot: the same values, in the same channel
    order, and a plain convolution to tools that read the module (torch.fx).
    """
    block = 1
    for f in factors:
        block *= f
    eye = torch.eye(block, dtype=x.dtype, device=x.device).reshape((block, 1) + tuple(factors))
    weight = eye.repeat([x.shape[1], 1] + [1] * len(factors))
    return F.conv{d}d(x, weight, stride=tuple(factors), groups=x.shape[1])
''',
    "depth_to_space": '''
def depth_to_space(x, factors):
    """Move channels into patches of `factors` pixels (PixelShuffle on any number of axes).

    Written as a transposed convolution whose kernels are one-hot (the inverse of space_to_depth).
    """
    block = 1
    for f in factors:
        block *= f
    eye = torch.eye(block, dtype=x.dtype, device=x.device).reshape((block, 1) + tuple(factors))
    weight = eye.repeat([x.shape[1] // block, 1] + [1] * len(factors))
    return F.conv_transpose{d}d(x, weight, stride=tuple(factors), groups=x.shape[1] // block)
''',
}
_HELPER_NEEDS = {"same_avg_pool": ("avg_pool", "same_pad")}


# --------------------------------------------------------------------------------------------------
# scopes
# --------------------------------------------------------------------------------------------------


@dataclass
class _Scope:
    path: tuple[str, ...]
    members: set[str] = field(default_factory=set)
    direct: list[str] = field(default_factory=list)
    children: list[tuple[str, ...]] = field(default_factory=list)
    parent: tuple[str, ...] | None = None
    class_name: str = ""


_INT = re.compile(r"(?<![\w.])\d+(?![\w.])")


@dataclass
class _Rendered:
    """A block class before it is named: submodules, forward lines and interface."""

    path: tuple[str, ...]
    init: list[tuple[str, str, str]] = field(default_factory=list)  # (attribute, constructor, comment)
    forward: list[tuple[str, str]] = field(default_factory=list)  # (code, trailing comment)
    params: list[str] = field(default_factory=list)
    returns: list[str] = field(default_factory=list)
    paths: dict[str, str] = field(default_factory=dict)
    in_channels: list[int] = field(default_factory=list)
    out_channels: list[int] = field(default_factory=list)

    def slots(self) -> list[tuple[int, Any]]:
        """Every integer literal of the constructors: (init line, match)."""
        return [(i, m) for i, (_, text, _) in enumerate(self.init) for m in _INT.finditer(text)]

    def slot_values(self) -> tuple[int, ...]:
        return tuple(int(m.group()) for _, m in self.slots())

    def slot_context(self, index: int) -> str:
        """A parameter name for slot ``index``: its submodule and argument (``conv1_out``, ``pool_kernel_size``)."""
        line, match = self.slots()[index]
        attr, text, _ = self.init[line]
        head = text[: match.start()]
        keyword_arg = re.search(r"(\w+)=\(?[\d, ]*$", head)
        if keyword_arg:
            return f"{attr}_{keyword_arg.group(1)}"
        call = head[: head.find("(")] if "(" in head else ""
        position = head[head.find("(") + 1 :].count(",") if "(" in head else 0
        if call.startswith(("nn.Conv", "nn.Linear")):
            return f"{attr}_{('in', 'out')[position] if position < 2 else position}"
        if call.startswith("nn.BatchNorm"):
            return f"{attr}_channels"
        return f"{attr}_{position}"

    def template(self) -> Any:
        """What two blocks must share to be one class: everything but the constructors' integers."""
        init = tuple((attr, _INT.sub("#", text)) for attr, text, _ in self.init)
        return (init, tuple(code for code, _ in self.forward), tuple(self.params), tuple(self.returns))

    def source(
        self, name: str, doc: str | None, slot_names: dict[int, str] | None = None, parameters: list[str] | None = None
    ) -> str:
        """The class text; with ``slot_names`` those integers become constructor parameters."""
        init = [text for _, text, _ in self.init]
        if slot_names:
            for index in sorted(slot_names, reverse=True):
                line, match = self.slots()[index]
                text = init[line]
                init[line] = text[: match.start()] + slot_names[index] + text[match.end() :]
        body = [f"class {name}(nn.Module):"]
        if doc:
            body.append(f'    """{_plain(doc)}"""')
            body.append("")
        if self.init:
            signature = ", ".join(["self"] + list(parameters or []))
            body.append(f"    def __init__({signature}):")
            body.append("        super().__init__()")
            for (attr, _, comment), text in zip(self.init, init):
                body.append(f"        self.{attr} = {text}" + (f"  # {_plain(comment)}" if comment else ""))
            body.append("")
        body.append(f"    def forward(self, {', '.join(self.params)}):")
        for code, comment in self.forward:
            keep = comment and not slot_names
            body.append(f"        {code}" + (f"  # {_plain(comment)}" if keep else ""))
        body.append(f"        return {', '.join(self.returns)}")
        return "\n".join(body) + "\n"


def _plain(text: str) -> str:
    """Text safe in a comment or a docstring: one line, no backslashes, no triple quotes."""
    text = str(text).replace("\\", "/").replace('"', "'")
    return " ".join(text.split())


def _identifier(text: str) -> str:
    ident = re.sub(r"\W", "_", text)
    if not ident or ident[0].isdigit():
        ident = "n_" + ident
    if ident in _RESERVED:
        ident += "_"
    return ident


def _camel(text: str) -> str:
    base = re.sub(r"_?\d+$", "", text) or text
    parts = [p for p in re.split(r"[^0-9A-Za-z]+", base) if p]
    name = "".join(p[:1].upper() + p[1:] for p in parts)
    if not name or name[0].isdigit():
        name = "Block" + name
    return name


class _Namer:
    """Identifiers in two namespaces: submodules (``self.name``) and local variables of ``forward``."""

    def __init__(self) -> None:
        self.used: dict[str, set[str]] = {"attr": set(), "var": set()}

    def take(self, wanted: str, *spaces: str) -> str:
        name = _identifier(wanted)
        candidate, k = name, 2
        while any(candidate in self.used[space] for space in spaces):
            candidate = f"{name}_{k}"
            k += 1
        for space in spaces:
            self.used[space].add(candidate)
        return candidate


@dataclass
class _Context:
    """What an op's PyTorch hook sees of the node being written (:class:`rfdesign.ops.torch_code.TorchContext`)."""

    exporter: _Exporter
    me: str
    inputs: list[str]
    references: list[str]
    source: str

    @property
    def dims(self) -> int:
        return self.exporter.dims

    @property
    def in_channels(self) -> int:
        return self.exporter.channels[self.source]

    @property
    def in_size(self) -> tuple[int, ...]:
        return self.exporter.sizes[self.source]

    def use(self, helper: str) -> None:
        self.exporter._use(helper)


class _Exporter:
    def __init__(self, graph: Graph, class_name: str | None):
        self.graph = graph
        if class_name is not None and (not class_name.isidentifier() or keyword.iskeyword(class_name)):
            raise SpecError(f"`{class_name}` is not a Python class name", hint="use letters, digits and underscores")
        self.class_name = class_name or _camel(graph.name) or "Net"
        if self.class_name in _RESERVED or self.class_name in _HELPERS:
            self.class_name += "Net"
        self.helpers: set[str] = set()
        self.class_texts: list[tuple[str, str]] = []
        self.paths: dict[str, str] = {}
        self.instances: dict[tuple[str, ...], tuple[str, str]] = {}  # block scope -> (class, constructor args)
        self.instance_paths: dict[tuple[str, ...], dict[str, str]] = {}
        self.dims = graph.dims

    # -- analysis ---------------------------------------------------------------------------------------

    def source(self) -> str:
        from rfdesign.rf import analyze

        graph = self.graph
        for node in graph.nodes.values():
            free = node.free_choices()
            if free:
                raise SpecError(
                    f"layer `{node.name}`: `{free[0]}` is still a free choice; export a filled-in spec",
                    node.location,
                    "run `rfdesign solve` and export one of its proposals",
                )
        analysis = analyze(graph)
        self.channels = {INPUT: graph.input_channels}
        self.sizes = {INPUT: tuple(graph.input_size)}
        for name, layer in analysis.layers.items():
            self.channels[name] = layer.channels
            self.sizes[name] = tuple(layer.output_size)
        self.position = {name: i for i, name in enumerate(graph.nodes)}
        self.position[INPUT] = -1
        self._scopes()
        return self._assemble(self._classes())

    def _deps(self, node: Node) -> list[str]:
        return list(node.dependencies())

    def _scopes(self) -> None:
        graph = self.graph
        paths: dict[tuple[str, ...], set[str]] = {}
        for name, node in graph.nodes.items():
            segments = tuple(s for s in node.scope.split("/") if s) if node.scope else ()
            for k in range(1, len(segments) + 1):
                paths.setdefault(segments[:k], set()).add(name)
        consumers: dict[str, list[str]] = {INPUT: []}
        for name in graph.nodes:
            consumers[name] = []
        for name, node in graph.nodes.items():
            for dep in self._deps(node):
                consumers[dep].append(name)
        kept = {
            path
            for path, members in paths.items()
            if len(members) >= MIN_BLOCK_NODES and self._acyclic(members, consumers)
        }
        self.scopes: dict[tuple[str, ...], _Scope] = {(): _Scope((), set(graph.nodes))}
        for path in sorted(kept, key=len):
            parent = next((path[:k] for k in range(len(path) - 1, 0, -1) if path[:k] in kept), ())
            self.scopes[path] = _Scope(path, paths[path], parent=parent)
            self.scopes[parent].children.append(path)
        for name, node in graph.nodes.items():
            segments = tuple(s for s in node.scope.split("/") if s) if node.scope else ()
            owner = next((segments[:k] for k in range(len(segments), 0, -1) if segments[:k] in kept), ())
            self.scopes[owner].direct.append(name)

    def _acyclic(self, members: set[str], consumers: dict[str, list[str]]) -> bool:
        """Whether ``members`` can be one module call: no path leaves them and comes back."""
        graph = self.graph
        below: set[str] = set()
        stack = [c for m in members for c in consumers[m] if c not in members]
        while stack:
            n = stack.pop()
            if n in below:
                continue
            below.add(n)
            stack.extend(c for c in consumers[n] if c not in members)
        if not below:
            return True
        stack = [d for m in members for d in self._deps(graph.nodes[m]) if d not in members and d != INPUT]
        seen: set[str] = set()
        while stack:
            n = stack.pop()
            if n in seen:
                continue
            if n in below:
                return False
            seen.add(n)
            stack.extend(d for d in self._deps(graph.nodes[n]) if d not in members and d != INPUT)
        return True

    # -- one class per scope --------------------------------------------------------------------------------

    def _relative(self, name: str, scope: tuple[str, ...]) -> str:
        if not scope:
            return name
        prefix = "/".join(scope)
        if name == prefix:
            return "out"
        if name.startswith(prefix + "/"):
            return name[len(prefix) + 1 :]
        return name

    def _interface(self, path: tuple[str, ...]) -> tuple[list[str], list[str]]:
        """(external inputs, exported members) of a scope, in graph order."""
        graph = self.graph
        scope = self.scopes[path]
        if not path:
            return [INPUT], list(dict.fromkeys(graph.outputs))
        members = scope.members
        externals: set[str] = set()
        for m in members:
            externals.update(d for d in self._deps(graph.nodes[m]) if d not in members)
        exported = set(o for o in graph.outputs if o in members)
        for name, node in graph.nodes.items():
            if name not in members:
                exported.update(d for d in self._deps(node) if d in members)
        return sorted(externals, key=self.position.__getitem__), sorted(exported, key=self.position.__getitem__)

    def _classes(self) -> str:
        """Every block class (children before parents, grouped into parameterised classes), then the root's text."""
        heights: dict[tuple[str, ...], int] = {}
        for path in sorted(self.scopes, key=len, reverse=True):
            children = self.scopes[path].children
            heights[path] = 1 + max((heights[c] for c in children), default=-1)
        for height in sorted({h for p, h in heights.items() if p}):
            paths = [p for p in self.scopes if p and heights[p] == height]
            paths.sort(key=lambda p: min(self.position[m] for m in self.scopes[p].members))
            level = [self._render(p) for p in paths]
            groups: dict[Any, list[_Rendered]] = {}
            for rendered in level:
                groups.setdefault(rendered.template(), []).append(rendered)
            for members in groups.values():
                self._define(members)
        root = self._render(())
        self.paths = dict(root.paths)
        return root.source(self.class_name, f"{self.graph.name}: {self._summary()}")

    def _render(self, path: tuple[str, ...]) -> _Rendered:
        """The body of the class for scope ``path``: its submodules, forward lines and interface."""
        graph = self.graph
        scope = self.scopes[path]
        externals, exported = self._interface(path)
        namer = _Namer()
        var: dict[str, str] = {}
        rendered = _Rendered(path)
        for k, ext in enumerate(externals):
            pname = "x" if len(externals) == 1 else f"x{k + 1}"
            namer.used["var"].add(pname)
            var[ext] = pname
            rendered.params.append(pname)
        rendered.in_channels = [self.channels[e] for e in externals]
        rendered.out_channels = [self.channels[o] for o in exported]
        items: list[tuple[str, Any]] = [("node", n) for n in scope.direct] + [("block", c) for c in scope.children]
        owner: dict[str, int] = {}
        for index, (kind, item) in enumerate(items):
            for m in [item] if kind == "node" else self.scopes[item].members:
                owner[m] = index
        for index in self._order(items, owner):
            kind, item = items[index]
            if kind == "node":
                node = graph.nodes[item]
                relative = self._relative(item, path)
                ident = namer.take(relative, "attr", "var")
                var[item] = ident
                code = self._emit(node, ident, [var[s] for s in node.inputs], [var[r] for r in node.attrs.references()])
                init, expr, mapped = code.module, code.forward, code.mapped
                comment = relative if relative != ident else ""
                if init is not None:
                    rendered.init.append((ident, init, comment))
                    comment = ""
                if mapped:
                    rendered.paths[item] = ident
                shape = "x".join(str(n) for n in (self.channels[item],) + self.sizes[item])
                rendered.forward.append((f"{ident} = {expr}", shape + (f", {comment}" if comment else "")))
            else:
                relative = self._relative("/".join(item), path)
                ident = namer.take(relative, "attr")
                child_ext, child_out = self._interface(item)
                class_name, args = self.instances[item]
                comment = "/".join(item) if path else (relative if relative != ident else "")
                rendered.init.append((ident, f"{class_name}({args})", comment))
                outs = []
                for o in child_out:
                    o_ident = namer.take(self._relative(o, path), "var")
                    var[o] = o_ident
                    outs.append(o_ident)
                arguments = ", ".join(var[e] for e in child_ext)
                rendered.forward.append((f"{', '.join(outs)} = self.{ident}({arguments})", ""))
                for name, sub in self.instance_paths[item].items():
                    rendered.paths[name] = f"{ident}.{sub}"
        rendered.returns = [var[o] for o in exported]
        return rendered

    def _define(self, members: list[_Rendered]) -> None:
        """One class for blocks that differ only in integers of their constructors (at most MAX_PARAMETERS)."""
        vectors = list(zip(*(m.slot_values() for m in members))) if members[0].slots() else []
        varying = [i for i, v in enumerate(vectors) if len(set(v)) > 1]
        distinct = list(dict.fromkeys(vectors[i] for i in varying))
        if len(members) > 1 and 0 < len(distinct) <= MAX_PARAMETERS:
            names: dict[tuple[int, ...], str] = {}
            taken: set[str] = set()
            for vector in distinct:
                name = self._parameter_name(members, vector, vectors, taken)
                names[vector] = name
                taken.add(name)
            slot_names = {i: names[vectors[i]] for i in varying}
            class_name = self._class_name(members[0].path)
            self.class_texts.append((class_name, members[0].source(class_name, None, slot_names, list(names.values()))))
            for k, m in enumerate(members):
                args = ", ".join(f"{names[v]}={v[k]}" for v in distinct)
                self.instances[m.path] = (class_name, args)
                self.instance_paths[m.path] = m.paths
            return
        by_text: dict[str, str] = {}
        for m in members:
            text = m.source("__CLASS__", None)
            if text not in by_text:
                class_name = self._class_name(m.path)
                by_text[text] = class_name
                self.class_texts.append((class_name, text.replace("class __CLASS__(", f"class {class_name}(", 1)))
            self.instances[m.path] = (by_text[text], "")
            self.instance_paths[m.path] = m.paths

    def _parameter_name(
        self, members: list[_Rendered], vector: tuple[int, ...], vectors: list[tuple[int, ...]], taken: set[str]
    ) -> str:
        first = members[0]
        candidates = []
        for k in range(len(first.in_channels)):
            if tuple(m.in_channels[k] for m in members) == vector:
                candidates.append("in_channels" if len(first.in_channels) == 1 else f"in_channels{k + 1}")
        if len(first.out_channels) == 1 and tuple(m.out_channels[0] for m in members) == vector:
            candidates.append("out_channels")
        index = vectors.index(vector)
        candidates.append(first.slot_context(index))
        for name in candidates:
            name = _identifier(name)
            if name not in taken:
                return name
        base, k = candidates[-1], 2
        while f"{base}_{k}" in taken:
            k += 1
        return f"{base}_{k}"

    def _class_name(self, path: tuple[str, ...]) -> str:
        wanted = _camel(path[-1])
        taken = {name for name, _ in self.class_texts} | {self.class_name}
        name, k = wanted, 2
        while name in taken or name in _RESERVED or name in _HELPERS:
            name = f"{wanted}{k}"
            k += 1
        return name

    def _order(self, items: list[tuple[str, Any]], owner: dict[str, int]) -> list[int]:
        import heapq

        graph = self.graph
        first = []
        for kind, item in items:
            members = [item] if kind == "node" else self.scopes[item].members
            first.append(min(self.position[m] for m in members))
        deps: list[set[int]] = [set() for _ in items]
        for index, (kind, item) in enumerate(items):
            members = [item] if kind == "node" else self.scopes[item].members
            for m in members:
                for d in self._deps(graph.nodes[m]):
                    if d in owner and owner[d] != index:
                        deps[index].add(owner[d])
        readers: list[list[int]] = [[] for _ in items]
        for index, ds in enumerate(deps):
            for d in ds:
                readers[d].append(index)
        count = [len(ds) for ds in deps]
        ready = [(first[i], i) for i in range(len(items)) if count[i] == 0]
        heapq.heapify(ready)
        order = []
        while ready:
            _, i = heapq.heappop(ready)
            order.append(i)
            for r in readers[i]:
                count[r] -= 1
                if count[r] == 0:
                    heapq.heappush(ready, (first[r], r))
        assert len(order) == len(items), "scopes were checked to be acyclic"
        return order

    def _summary(self) -> str:
        graph = self.graph
        size = "x".join(str(n) for n in graph.input_size)
        shapes = {o: "x".join(str(n) for n in (self.channels[o],) + self.sizes[o]) for o in graph.outputs}
        outs = ", ".join(f"`{o}` ({shape})" for o, shape in shapes.items())
        return f"{graph.input_channels} channels of {size} in; out: {outs}."

    # -- one node ---------------------------------------------------------------------------------------------

    def _use(self, helper: str) -> None:
        self.helpers.add(helper)
        for need in _HELPER_NEEDS.get(helper, ()):
            self.helpers.add(need)

    def _emit(self, node: Node, ident: str, inputs: list[str], references: list[str]) -> TorchCode:
        """The node's code, from its op's PyTorch hook."""
        source = node.inputs[0] if node.inputs else INPUT
        context = _Context(self, f"self.{ident}", inputs or ["x"], references, source)
        return op_for(node.op).torch(node, context)

    # -- the file ---------------------------------------------------------------------------------------------

    def _assemble(self, root: str) -> str:
        graph = self.graph
        d = self.dims
        shape = (1, graph.input_channels) + tuple(graph.input_size)
        outputs = ", ".join(graph.outputs)
        lines = [
            f'"""{_plain(graph.name)}: a PyTorch module generated by rfdesign from {_plain(graph.file)}.',
            "",
            f"{self.class_name}()(x) takes x of shape (batch, {graph.input_channels}, "
            + ", ".join(str(n) for n in graph.input_size)
            + f") and returns {_plain('a tuple (' + outputs + ')' if len(graph.outputs) > 1 else outputs)}.",
            "Names follow the spec (a comment gives the original where it differs; inside a block class",
            "names are relative to the block, and the comment where the block is used gives its path).",
            "Each line of forward ends with its output's channels x size at this input size. A `linear`",
            "layer's output keeps size-1 spatial axes, (batch, out, 1, ...), like the spec's.",
            '"""',
            "",
            "import torch",
            "import torch.nn.functional as F",
            "from torch import nn",
            "",
            f"INPUT_SHAPE = {tuple_text(shape)}",
        ]
        for helper in _HELPERS:
            if helper in self.helpers:
                text = _HELPERS[helper].replace("{d}", str(d)).replace("{dims2}", str(2 + d))
                lines.append("")
                lines.append(text.rstrip("\n"))
        for _, text in self.class_texts:
            lines.append("")
            lines.append("")
            lines.append(text.rstrip("\n"))
        lines.append("")
        lines.append("")
        lines.append(root.rstrip("\n"))
        lines.append("")
        lines.append("")
        lines.append('if __name__ == "__main__":')
        lines.append(f"    net = {self.class_name}().eval()")
        lines.append("    with torch.no_grad():")
        lines.append("        result = net(torch.randn(INPUT_SHAPE))")
        lines.append("    for tensor in result if isinstance(result, tuple) else (result,):")
        lines.append("        print(tuple(tensor.shape))")
        return "\n".join(lines) + "\n"

