"""Darknet ``.cfg`` files to a flat :class:`~rfdesign.spec.graph.Graph`.

The geometry follows Darknet's C sources (pjreddie/darknet and the
AlexeyAB/darknet fork), not PyTorch re-implementations of them:

* the file is read as Darknet's ``read_cfg`` does: all whitespace inside a
  line is removed, lines starting with ``#`` or ``;`` are comments, ``[...]``
  opens a section and ``key=value`` sets an option (the first one wins);
* ``[convolutional]``: ``pad=1`` means ``size/2`` pixels on every side,
  otherwise ``padding=``; ``stride_x``/``stride_y`` override ``stride``; a
  dilated convolution pads ``padding * dilation`` (Darknet's ``im2col_cpu_ext``);
  ``batch_normalize=1`` turns off the conv bias (Darknet stores that bias as
  the batch norm's shift);
* ``[maxpool]`` / ``[local_avgpool]``: ``padding`` defaults to ``size - 1``,
  split as ``padding/2`` before and the rest after; output
  ``(w + padding - size) / stride + 1``;
* ``[route]``: ``layers=`` (negative = relative to this layer), one layer is
  an identity, several a concat; ``groups``/``group_id`` keep channel slice
  ``group_id`` of every input (a ``select``);
* ``[shortcut] from=`` adds; as pjreddie's ``shortcut_cpu``, a larger
  ``from`` layer is sampled every k-th pixel, and when the channel counts
  differ only the first ``min`` channels are added (``select``, ``add`` and
  ``concat`` nodes); ``[scale_channels]`` and ``[sam]`` multiply,
  ``[upsample] stride`` is nearest upsampling (a negative stride sums
  ``|stride|`` x ``|stride|`` blocks), ``[reorg]``/``[reorg3d]`` is
  space-to-depth, ``[avgpool]`` global average pooling, ``[connected]`` a
  fully connected layer, ``[crop]`` the centre crop Darknet takes at test time;
* ``[yolo]``, ``[Gaussian_yolo]``, ``[region]`` and ``[detection]`` mark the
  detection heads: their inputs are the graph's outputs, in file order.

Every Darknet layer ``i`` (counted from 0 after ``[net]``, as Darknet prints
them) becomes a node named ``<type>_<i>`` (``conv_12``, ``maxpool_3``,
``route_20``, ``yolo_82`` ...) holding that layer's output; helper nodes of the
same layer are named ``<type>_<i>/<part>`` (``conv_12/conv`` before the batch
norm ``conv_12``). Parameters are counted as PyTorch counts the equivalent
module: a batch-normalised convolution is weights plus 2 per filter (scale and
shift; the rolling mean and variance are buffers, not parameters).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from rfdesign.errors import Location, SpecError
from rfdesign import ops
from rfdesign.spec.graph import INPUT, Graph
from rfdesign.io.graph_builder import GraphBuilder
from rfdesign.rf.geometry import transposed_size, window_size
from rfdesign.spec.suggest import did_you_mean

__all__ = ["import_darknet"]

MAX_CFG_BYTES = 16 * 1024 * 1024

# Section names Darknet knows (string_to_layer_type in parser.c, both repositories).
_CONV = ("[convolutional]", "[conv]")
_MAXPOOL = ("[maxpool]", "[max]")
_LOCAL_AVGPOOL = ("[local_avgpool]", "[local_avg]")
_AVGPOOL = ("[avgpool]", "[avg]")
_CONNECTED = ("[connected]", "[conn]")
_SOFTMAX = ("[softmax]", "[soft]")
_NORMALIZATION = ("[normalization]", "[lrn]")
_HEADS = ("[yolo]", "[Gaussian_yolo]", "[region]", "[detection]", "[iseg]")
_PASS = ("[dropout]", "[cost]", "[activation]", "[empty]", "[silence]", "[contrastive]", "[logistic]", "[l2norm]")
_UNSUPPORTED = {
    "[rnn]": "a recurrent layer",
    "[gru]": "a recurrent layer",
    "[lstm]": "a recurrent layer",
    "[crnn]": "a recurrent layer",
    "[conv_lstm]": "a recurrent layer",
    "[history]": "a temporal layer",
    "[implicit]": "a learned constant tensor, not a function of the image",
    "[deconvolutional_old]": "an obsolete layer",
    "[xnor]": "an obsolete layer",
}
_KNOWN = (
    _CONV
    + _MAXPOOL
    + _LOCAL_AVGPOOL
    + _AVGPOOL
    + _CONNECTED
    + _SOFTMAX
    + _NORMALIZATION
    + _HEADS
    + _PASS
    + (
        "[local]",
        "[route]",
        "[shortcut]",
        "[scale_channels]",
        "[sam]",
        "[upsample]",
        "[reorg]",
        "[reorg3d]",
        "[crop]",
        "[batchnorm]",
        "[deconvolutional]",
        "[deconv]",
    )
    + tuple(_UNSUPPORTED)
)

# Readable node-name prefixes, one per section type.
_PREFIX = {
    "[convolutional]": "conv", "[conv]": "conv", "[local]": "local",
    "[deconvolutional]": "deconv", "[deconv]": "deconv",
    "[maxpool]": "maxpool", "[max]": "maxpool",
    "[local_avgpool]": "local_avgpool", "[local_avg]": "local_avgpool",
    "[avgpool]": "avgpool", "[avg]": "avgpool",
    "[connected]": "connected", "[conn]": "connected",
    "[softmax]": "softmax", "[soft]": "softmax",
    "[normalization]": "lrn", "[lrn]": "lrn", "[batchnorm]": "batchnorm",
    "[route]": "route", "[shortcut]": "shortcut", "[scale_channels]": "scale_channels", "[sam]": "sam",
    "[upsample]": "upsample", "[reorg]": "reorg", "[reorg3d]": "reorg", "[crop]": "crop",
    "[yolo]": "yolo", "[Gaussian_yolo]": "gaussian_yolo", "[region]": "region", "[detection]": "detection",
    "[iseg]": "iseg", "[dropout]": "dropout", "[cost]": "cost", "[activation]": "activation",
    "[empty]": "empty", "[silence]": "silence", "[contrastive]": "contrastive", "[logistic]": "logistic",
    "[l2norm]": "l2norm",
}  # fmt: skip


@dataclass
class _Section:
    kind: str  # e.g. "[convolutional]", as written
    line: int  # 1-based line of the header
    options: dict[str, tuple[str, int]] = field(default_factory=dict)  # key -> (value, line)


@dataclass
class _Shape:
    """A Darknet layer's output: Darknet's (h, w, c) and the node that holds it."""

    node: str
    h: int
    w: int
    c: int


def _read_sections(path: str) -> list[_Section]:
    from rfdesign.spec.yamlload import regular_file_size

    size = regular_file_size(path)
    if size > MAX_CFG_BYTES:
        raise SpecError(
            f"the file is {size} bytes; Darknet cfg files above {MAX_CFG_BYTES} are refused", Location(path)
        )
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise SpecError(f"cannot read Darknet cfg: {exc.strerror or exc}", Location(path)) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(
            f"not a text file (byte {exc.start} is not UTF-8)", Location(path), "is this a Darknet .cfg file?"
        ) from None
    sections: list[_Section] = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = "".join(line.split())  # Darknet's strip() removes every whitespace character
        if not stripped or stripped[0] in "#;":
            continue
        if stripped[0] == "[":
            if not stripped.endswith("]"):
                raise SpecError(f"section header `{stripped}` has no closing `]`", Location(path, number))
            sections.append(_Section(stripped, number))
            continue
        if not sections:
            raise SpecError(
                f"option `{stripped}` before the first section", Location(path, number), "a cfg starts with [net]"
            )
        if "=" not in stripped:
            # Darknet prints "Config file error ... could parse" and goes on; so do we.
            continue
        key, value = stripped.split("=", 1)
        value = value.split("#", 1)[0]  # an inline comment (Darknet's atoi/atof stop there too)
        sections[-1].options.setdefault(key, (value, number))  # option_find returns the first match
    if not sections:
        raise SpecError("no sections: this is not a Darknet cfg file", Location(path), "a cfg starts with [net]")
    return sections


class _Cfg:
    """Option access for one section, with located errors."""

    def __init__(self, path: str, section: _Section, index: int | None):
        self.path = path
        self.section = section
        self.index = index

    @property
    def where(self) -> str:
        if self.index is None:
            return self.section.kind
        return f"{self.section.kind} #{self.index}"

    def location(self, key: str | None = None) -> Location:
        if key is not None and key in self.section.options:
            return Location(self.path, self.section.options[key][1])
        return Location(self.path, self.section.line)

    def has(self, key: str) -> bool:
        return key in self.section.options

    def text(self, key: str, default: str | None = None) -> str | None:
        if key in self.section.options:
            return self.section.options[key][0]
        return default

    def int(self, key: str, default: int | None = None) -> int:
        if key not in self.section.options:
            if default is None:
                raise SpecError(f"{self.where} needs `{key}=`", self.location())
            return default
        value = self.section.options[key][0]
        match = re.match(r"[+-]?\d+", value)  # atoi semantics: a leading integer
        if match is None:
            raise SpecError(f"{self.where}: `{key}={value}` is not an integer", self.location(key))
        return int(match.group(0))

    def ints(self, key: str) -> list[int]:
        if key not in self.section.options:
            raise SpecError(f"{self.where} needs `{key}=`", self.location())
        value = self.section.options[key][0]
        items = [item for item in value.split(",")]
        result = []
        for item in items:
            match = re.fullmatch(r"[+-]?\d+", item)
            if match is None:
                raise SpecError(
                    f"{self.where}: `{key}={value}` must be a comma-separated list of layer indices",
                    self.location(key),
                )
            result.append(int(item))
        return result

    def error(self, message: str, key: str | None = None, hint: str | None = None) -> SpecError:
        return SpecError(f"{self.where}: {message}", self.location(key), hint)


def _note(cfg: _Cfg, extra: str = "") -> str:
    text = f"{cfg.section.kind} #{cfg.index}, line {cfg.section.line}"
    return f"{text}: {extra}" if extra else text


def _chain_names(base: str, parts: list[str]) -> list[str]:
    """Names for a layer made of several nodes: the last one is the layer itself."""
    return [f"{base}/{part}" for part in parts[:-1]] + [base]


def import_darknet(path: str, input_size: tuple[int, ...] | None = None, output: str | None = None) -> Graph:
    """Read a Darknet cfg as a graph.

    ``input_size`` (height, width) overrides the ``[net]`` section's size;
    ``output`` picks the primary output node (default: every detection head
    in order, or for a classifier the last node with spatial extent).
    """
    path = os.fspath(path)
    sections = _read_sections(path)
    net = sections[0]
    if net.kind not in ("[net]", "[network]"):
        raise SpecError(
            f"the first section is {net.kind}, not [net]", Location(path, net.line), "a Darknet cfg starts with [net]"
        )
    net_cfg = _Cfg(path, net, None)
    height = net_cfg.int("height", 0)
    width = net_cfg.int("width", 0)
    channels = net_cfg.int("channels", 0)
    if input_size is not None:
        size = tuple(int(n) for n in input_size)
        if len(size) == 1:
            size = size * 2  # one size: square
        if len(size) != 2 or any(n < 1 for n in size):
            raise SpecError(
                f"input size {list(input_size)} does not fit a Darknet network",
                Location(path, net.line),
                "give two positive sizes: height and width",
            )
        height, width = size
    if height < 1 or width < 1:
        raise SpecError(
            "[net] has no width and height", Location(path, net.line), "set width= and height=, or pass an input size"
        )
    if channels < 1:
        raise SpecError("[net] has no channels= (the image's channels)", Location(path, net.line))

    builder = GraphBuilder(Location(path), "Darknet")
    layers: list[_Shape] = []
    heads: list[str] = []
    previous = _Shape(INPUT, height, width, channels)
    for index, section in enumerate(sections[1:]):
        cfg = _Cfg(path, section, index)
        kind = section.kind
        if kind in ("[net]", "[network]"):
            raise cfg.error("a second [net] section", hint="[net] comes once, first")
        if kind in _UNSUPPORTED:
            raise cfg.error(
                f"unsupported Darknet layer ({_UNSUPPORTED[kind]})",
                hint="rfdesign imports feed-forward convolutional networks",
            )
        if kind not in _KNOWN:
            raise cfg.error(
                "unknown Darknet layer type",
                hint=did_you_mean(kind, _KNOWN) or "see Darknet's parser.c for the layer types",
            )
        shape = _layer(builder, cfg, index, previous, layers)
        if kind in _HEADS:
            if previous.node == INPUT:
                raise cfg.error("a detection layer needs a layer before it")
            heads.append(previous.node)
        layers.append(shape)
        previous = shape
    if not layers:
        raise SpecError("the cfg has [net] but no layers", Location(path, net.line))

    graph_name = os.path.splitext(os.path.basename(path))[0] or "darknet"
    outputs = tuple(dict.fromkeys(heads)) if heads else builder.default_outputs([layers[-1].node])
    return builder.finish(
        graph_name,
        (height, width),
        channels,
        outputs,
        output,
        naming="node names are <type>_<index>, e.g. conv_12",
        input_location=Location(path, net.line),
    )


def _ref(cfg: _Cfg, key: str, value: int, index: int, layers: list[_Shape]) -> _Shape:
    target = index + value if value < 0 else value
    if not 0 <= target < index:
        raise cfg.error(
            f"`{key}` entry {value} is layer {target}, which is not an earlier layer",
            key,
            f"this is layer {index}; use an index from 0 to {index - 1} or a negative offset",
        )
    return layers[target]


def _layer(builder: GraphBuilder, cfg: _Cfg, index: int, prev: _Shape, layers: list[_Shape]) -> _Shape:
    kind = cfg.section.kind
    base = f"{_PREFIX[kind]}_{index}"
    if kind in _CONV or kind == "[local]":
        return _conv(builder, cfg, base, prev)
    if kind in ("[deconvolutional]", "[deconv]"):
        return _deconv(builder, cfg, base, prev)
    if kind in _MAXPOOL or kind in _LOCAL_AVGPOOL:
        return _pool(builder, cfg, base, prev)
    if kind in _AVGPOOL:
        _need_image(cfg, prev)
        name = builder.add(base, ops.GLOBAL_POOL, (prev.node,), (1, 1), prev.c, note=_note(cfg),
                           location=cfg.location(), mode="avg")  # fmt: skip
        return _Shape(name, 1, 1, prev.c)
    if kind in _CONNECTED:
        out = cfg.int("output", 1)
        if out < 1:
            raise cfg.error(f"`output={out}` must be at least 1", "output")
        bn = cfg.int("batch_normalize", 0) != 0
        names = _chain_names(base, ["fc", "bn"] if bn else ["fc"])
        node = builder.add(names[0], ops.LINEAR, (prev.node,), (1, 1), out, note=_note(cfg), location=cfg.location(),
                           out=out, bias=not bn)  # fmt: skip
        if bn:
            node = builder.add(names[1], ops.NORM, (node,), (1, 1), out, source_op="batchnorm",
                               note=_note(cfg, "batch_normalize=1"), location=cfg.location())  # fmt: skip
        return _Shape(node, 1, 1, out)
    if kind == "[route]":
        return _route(builder, cfg, base, index, layers)
    if kind == "[shortcut]":
        return _shortcut(builder, cfg, base, index, prev, layers)
    if kind in ("[scale_channels]", "[sam]"):
        return _scale(builder, cfg, base, index, prev, layers)
    if kind == "[upsample]":
        return _upsample(builder, cfg, base, prev)
    if kind in ("[reorg]", "[reorg3d]"):
        return _reorg(builder, cfg, base, prev)
    if kind == "[crop]":
        _need_image(cfg, prev)
        ch, cw = cfg.int("crop_height", 1), cfg.int("crop_width", 1)
        if not (1 <= ch <= prev.h and 1 <= cw <= prev.w):
            raise cfg.error(f"cannot crop {prev.h}x{prev.w} to {ch}x{cw}", "crop_height")
        pairs = tuple(((n - m) // 2, n - m - (n - m) // 2) for n, m in ((prev.h, ch), (prev.w, cw)))
        note = _note(cfg, "the centre crop Darknet takes at test time")
        name = builder.add(base, ops.CROP, (prev.node,), (ch, cw), prev.c, note=note, location=cfg.location(),
                           crop=pairs)  # fmt: skip
        return _Shape(name, ch, cw, prev.c)
    if kind == "[batchnorm]":
        name = builder.add(base, ops.NORM, (prev.node,), (prev.h, prev.w), prev.c, source_op="batchnorm",
                           note=_note(cfg), location=cfg.location())  # fmt: skip
        return _Shape(name, prev.h, prev.w, prev.c)
    if kind in _NORMALIZATION:
        name = builder.add(base, ops.IDENTITY, (prev.node,), (prev.h, prev.w), prev.c, source_op="lrn", note=_note(cfg),
                           location=cfg.location())  # fmt: skip
        return _Shape(name, prev.h, prev.w, prev.c)
    if kind in _SOFTMAX or kind in _PASS or kind in _HEADS:
        if prev.node == INPUT:
            raise cfg.error("this layer needs a layer before it")
        source = {"[softmax]": "softmax", "[soft]": "softmax", "[dropout]": "dropout"}.get(kind, "identity")
        name = builder.add(base, ops.IDENTITY, (prev.node,), (prev.h, prev.w), prev.c, source_op=source,
                           note=_note(cfg), location=cfg.location())  # fmt: skip
        return _Shape(name, prev.h, prev.w, prev.c)
    raise AssertionError(kind)  # pragma: no cover - _KNOWN and this dispatch list the same types


def _need_image(cfg: _Cfg, prev: _Shape) -> None:
    if prev.h < 1 or prev.w < 1 or prev.c < 1:
        raise cfg.error("the layer before must output an image")


def _conv(builder: GraphBuilder, cfg: _Cfg, base: str, prev: _Shape) -> _Shape:
    _need_image(cfg, prev)
    local = cfg.section.kind == "[local]"
    filters = cfg.int("filters", 1)
    size = cfg.int("size", 1)
    if local:
        stride_y = stride_x = cfg.int("stride", 1)
        dilation, groups = 1, 1
        local_pad = cfg.int("pad", 0) != 0
        padding = size // 2 if local_pad else 0
    else:
        stride_x, stride_y = cfg.int("stride_x", -1), cfg.int("stride_y", -1)
        if stride_x < 1 or stride_y < 1:
            stride = cfg.int("stride", 1)
            stride_x = stride if stride_x < 1 else stride_x
            stride_y = stride if stride_y < 1 else stride_y
        dilation = cfg.int("dilation", 1)
        if size == 1:
            dilation = 1  # parse_convolutional ignores dilation on 1x1 kernels
        groups = max(cfg.int("groups", 1), 1)
        padding = size // 2 if cfg.int("pad", 0) else cfg.int("padding", 0)
    checks = (("filters", filters), ("size", size), ("stride", min(stride_x, stride_y)), ("dilation", dilation))
    for key, value in checks:
        if value < 1:
            raise cfg.error(f"`{key}` must be at least 1, got {value}", key)
    if padding < 0:
        raise cfg.error(f"`padding` must not be negative, got {padding}", "padding")
    if prev.c % groups or filters % groups:
        raise cfg.error(
            f"groups={groups} must divide the input channels ({prev.c}) and filters ({filters})", "groups"
        )
    pad = padding * dilation  # im2col_cpu_ext pads `pad * dilation`
    effective = dilation * (size - 1) + 1
    out = []
    for axis, (n, s) in enumerate(((prev.h, stride_y), (prev.w, stride_x))):
        if local:  # local_out_height: (h - 1) / stride + 1 with pad, (h - size) / stride + 1 without
            darknet = ((n - 1) if local_pad else (n - size)) // s + 1
        else:  # convolutional_out_height ignores dilation
            darknet = (n + 2 * padding - size) // s + 1
        true = window_size(n, effective, s, (pad, pad))
        if darknet < 1 or true < 1:
            raise cfg.error(
                f"the output would be empty: input {prev.h}x{prev.w} is smaller than the kernel {size}",
                "size",
                "use a larger input size or a smaller kernel",
            )
        if darknet != true:
            raise cfg.error(
                f"Darknet sizes this layer's output {darknet} on axis {axis + 1} but its convolution produces {true}"
                f" (size={size}, dilation={dilation}, padding={padding})",
                "dilation" if dilation > 1 else "pad",
                "Darknet's output-size formula ignores dilation; use pad=1 with an odd size",
            )
        out.append(true)
    bn = cfg.int("batch_normalize", 0) != 0
    antialiasing = 0 if local else cfg.int("antialiasing", 0)
    stride = (stride_y, stride_x)
    conv_stride = (1, 1) if antialiasing else stride
    if antialiasing:
        out = [window_size(n, effective, 1, (pad, pad)) for n in (prev.h, prev.w)]
    parts = ["conv"] + (["bn"] if bn else []) + (["blur"] if antialiasing else [])
    names = _chain_names(base, parts)
    extra = []
    if local:
        extra.append(
            "locally connected layer (a separate filter per output position); geometry of a convolution,"
            " parameters counted as for a shared-weight convolution"
        )
    share = cfg.int("share_index", -1000000000) if not local else -1000000000
    if share != -1000000000:
        target = share if share >= 0 else cfg.index + share  # type: ignore[operator]
        extra.append(f"shares the weights of layer {target} (counted again here)")
    current = builder.add(
        names[0],
        ops.CONV,
        (prev.node,),
        (out[0], out[1]),
        filters,
        source_op="conv2d",
        note=_note(cfg, "; ".join(extra)),
        location=cfg.location(),
        kernel=(size, size),
        stride=conv_stride,
        dilation=(dilation, dilation),
        padding=((pad, pad), (pad, pad)),
        groups=groups,
        out=filters,
        bias=not bn,
    )
    position = 1
    if bn:
        current = builder.add(names[position], ops.NORM, (current,), (out[0], out[1]), filters, source_op="batchnorm",
                              note=_note(cfg, "batch_normalize=1"), location=cfg.location())  # fmt: skip
        position += 1
    if antialiasing:
        current, out = _blur(builder, cfg, names[position], current, out, filters, stride, antialiasing)
    return _Shape(current, out[0], out[1], filters)


def _blur(
    builder: GraphBuilder,
    cfg: _Cfg,
    name: str,
    source: str,
    size: list[int],
    channels: int,
    stride: tuple[int, int],
    mode: int,
) -> tuple[str, list[int]]:
    """Darknet's anti-aliasing: the layer runs at stride 1, then a fixed depthwise blur takes the stride."""
    kernel, pad = (2, 0) if mode == 2 else (3, 1)
    out = [window_size(n, kernel, s, (pad, pad)) for n, s in zip(size, stride)]
    if any(n < 1 for n in out):
        raise cfg.error("the anti-aliasing blur leaves an empty output", "antialiasing")
    note = _note(cfg, f"antialiasing={mode}: fixed {kernel}x{kernel} blur (not learned; counted as parameters here)")
    builder.add(
        name,
        ops.CONV,
        (source,),
        (out[0], out[1]),
        channels,
        source_op="conv2d",
        note=note,
        location=cfg.location(),
        kernel=(kernel, kernel),
        stride=stride,
        dilation=(1, 1),
        padding=((pad, pad), (pad, pad)),
        groups=channels,
        out=channels,
        bias=True,
    )
    return name, out


def _deconv(builder: GraphBuilder, cfg: _Cfg, base: str, prev: _Shape) -> _Shape:
    _need_image(cfg, prev)
    filters = cfg.int("filters", 1)
    size = cfg.int("size", 1)
    stride = cfg.int("stride", 1)
    padding = size // 2 if cfg.int("pad", 0) else cfg.int("padding", 0)
    if min(filters, size, stride) < 1 or padding < 0:
        raise cfg.error("filters, size and stride must be at least 1 and padding not negative")
    out = [transposed_size(n, stride, size, (padding, padding), 0) for n in (prev.h, prev.w)]
    if any(n < 1 for n in out):
        raise cfg.error("the output would be empty", "size")
    bn = cfg.int("batch_normalize", 0) != 0
    names = _chain_names(base, ["deconv", "bn"] if bn else ["deconv"])
    current = builder.add(
        names[0],
        ops.CONV_TRANSPOSE,
        (prev.node,),
        (out[0], out[1]),
        filters,
        source_op="deconv",
        note=_note(cfg),
        location=cfg.location(),
        kernel=(size, size),
        stride=(stride, stride),
        dilation=(1, 1),
        padding=((padding, padding), (padding, padding)),
        output_padding=(0, 0),
        out=filters,
        bias=not bn,
    )
    if bn:
        current = builder.add(names[1], ops.NORM, (current,), (out[0], out[1]), filters, source_op="batchnorm",
                              note=_note(cfg, "batch_normalize=1"), location=cfg.location())  # fmt: skip
    return _Shape(current, out[0], out[1], filters)


def _pool(builder: GraphBuilder, cfg: _Cfg, base: str, prev: _Shape) -> _Shape:
    _need_image(cfg, prev)
    average = cfg.section.kind in _LOCAL_AVGPOOL
    stride = cfg.int("stride", 1)
    stride_x = cfg.int("stride_x", stride)
    stride_y = cfg.int("stride_y", stride)
    size = cfg.int("size", stride)
    padding = cfg.int("padding", size - 1)
    for key, value in (("stride", min(stride_x, stride_y)), ("size", size)):
        if value < 1:
            raise cfg.error(f"`{key}` must be at least 1, got {value}", key)
    if padding < 0:
        raise cfg.error(f"`padding` must not be negative, got {padding}", "padding")
    if not average and cfg.int("maxpool_depth", 0):
        out_channels = cfg.int("out_channels", 1)
        if not 1 <= out_channels <= prev.c:
            raise cfg.error(f"out_channels={out_channels} must be between 1 and {prev.c}", "out_channels")
        note = _note(
            cfg,
            f"maxpool_depth=1: max over channel groups to {out_channels} channels; no spatial extent"
            " (written as a channel selection, which has the same geometry)",
        )
        name = builder.add(base, ops.SELECT, (prev.node,), (prev.h, prev.w), out_channels, note=note,
                           location=cfg.location(), start=0, stop=out_channels)  # fmt: skip
        return _Shape(name, prev.h, prev.w, out_channels)
    antialiasing = 0 if average else cfg.int("antialiasing", 0)
    pool_stride = (1, 1) if antialiasing else (stride_y, stride_x)
    pairs = ((padding // 2, padding - padding // 2),) * 2
    out = [window_size(n, size, s, pairs[0]) for n, s in zip((prev.h, prev.w), pool_stride)]
    if any(n < 1 for n in out):
        raise cfg.error(
            f"the output would be empty: input {prev.h}x{prev.w} + padding {padding} is smaller than size {size}",
            "size",
        )
    names = _chain_names(base, ["pool", "blur"] if antialiasing else ["pool"])
    current = builder.add(
        names[0],
        ops.AVGPOOL if average else ops.MAXPOOL,
        (prev.node,),
        (out[0], out[1]),
        prev.c,
        note=_note(cfg),
        location=cfg.location(),
        kernel=(size, size),
        stride=pool_stride,
        dilation=(1, 1),
        padding=pairs,
    )
    if antialiasing:
        current, out = _blur(builder, cfg, names[1], current, out, prev.c, (stride_y, stride_x), antialiasing)
    return _Shape(current, out[0], out[1], prev.c)


def _route(builder: GraphBuilder, cfg: _Cfg, base: str, index: int, layers: list[_Shape]) -> _Shape:
    refs = [_ref(cfg, "layers", value, index, layers) for value in cfg.ints("layers")]
    groups = cfg.int("groups", 1)
    group_id = cfg.int("group_id", 0)
    if groups < 1 or not 0 <= group_id < groups:
        raise cfg.error(f"needs groups >= 1 and 0 <= group_id < groups, got {groups} and {group_id}", "group_id")
    first = refs[0]
    for ref in refs[1:]:
        if (ref.h, ref.w) != (first.h, first.w):
            raise cfg.error(
                f"the routed layers differ in size: `{first.node}` is {first.h}x{first.w},"
                f" `{ref.node}` is {ref.h}x{ref.w}",
                "layers",
                "Darknet concatenates along channels only; the sizes must match",
            )
    size = (first.h, first.w)
    sources = []
    channels = 0
    single = len(refs) == 1
    for k, ref in enumerate(refs):
        if groups == 1:
            sources.append(ref.node)
            channels += ref.c
            continue
        if ref.c % groups:
            raise cfg.error(f"groups={groups} does not divide the {ref.c} channels of `{ref.node}`", "groups")
        part = ref.c // groups
        name = base if single else f"{base}/{k}"
        first, last = group_id * part, (group_id + 1) * part - 1
        note = _note(cfg, f"channels {first}-{last} (groups={groups}, group_id={group_id})")
        builder.add(name, ops.SELECT, (ref.node,), size, part, note=note, location=cfg.location(),
                    start=group_id * part, stop=(group_id + 1) * part)  # fmt: skip
        sources.append(name)
        channels += part
    if single:
        if groups == 1:
            builder.add(base, ops.IDENTITY, (sources[0],), size, channels, note=_note(cfg), location=cfg.location())
        return _Shape(base, size[0], size[1], channels)
    builder.add(base, ops.CONCAT, tuple(sources), size, channels, source_op="concat", note=_note(cfg),
                location=cfg.location())  # fmt: skip
    return _Shape(base, size[0], size[1], channels)


def _shortcut(builder: GraphBuilder, cfg: _Cfg, base: str, index: int, prev: _Shape, layers: list[_Shape]) -> _Shape:
    """``[shortcut]``: the previous layer plus the ``from`` layers.

    As pjreddie's ``shortcut_cpu``: a larger ``from`` layer is subsampled
    (every k-th pixel, k = its size // this size), and when channel counts
    differ only the first ``min`` channels are added, the rest of the previous
    layer passing through (AlexeyAB's fork agrees whenever the spatial sizes
    match).
    """
    if prev.node == INPUT:
        raise cfg.error("[shortcut] needs a layer before it")
    refs = [_ref(cfg, "from", value, index, layers) for value in cfg.ints("from")]
    size = (prev.h, prev.w)
    weights = cfg.text("weights_type", "none")
    extra = f"weights_type={weights} (its few weights are not counted)" if weights != "none" else ""
    addends: list[tuple[str, int]] = []  # (node, channels) added into the first channels of prev
    for k, ref in enumerate(refs):
        source = ref.node
        if (ref.h, ref.w) != size:
            step_h, step_w = ref.h // prev.h, ref.w // prev.w
            if step_h != step_w or step_h < 1 or ref.h < prev.h or ref.w < prev.w:
                raise cfg.error(
                    f"adds `{ref.node}` ({ref.h}x{ref.w}) to the previous layer ({prev.h}x{prev.w})",
                    "from",
                    "rfdesign imports shortcuts from a layer of the same size or an integer multiple of it",
                )
            pooled = (window_size(ref.h, 1, step_h, (0, 0)), window_size(ref.w, 1, step_w, (0, 0)))
            name = f"{base}/from{k}"
            note = _note(cfg, f"every {step_h}th pixel of `{ref.node}`, as Darknet's shortcut_cpu samples it")
            builder.add(
                name,
                ops.MAXPOOL,
                (source,),
                pooled,
                ref.c,
                note=note,
                location=cfg.location(),
                kernel=(1, 1),
                stride=(step_h, step_w),
                dilation=(1, 1),
                padding=((0, 0), (0, 0)),
            )
            source = name
            if pooled != size:
                name = f"{base}/from{k}/crop"
                pairs = ((0, pooled[0] - size[0]), (0, pooled[1] - size[1]))
                note = _note(cfg, "samples past the end dropped")
                builder.add(name, ops.CROP, (source,), size, ref.c, note=note, location=cfg.location(), crop=pairs)
                source = name
        if ref.c > prev.c:
            name = f"{base}/from{k}/channels"
            note = _note(cfg, f"the first {prev.c} of the {ref.c} channels of `{ref.node}`, which Darknet adds")
            builder.add(name, ops.SELECT, (source,), size, prev.c, note=note, location=cfg.location(), start=0,
                        stop=prev.c)  # fmt: skip
            source = name
        addends.append((source, min(ref.c, prev.c)))
    widths = sorted({channels for _, channels in addends})
    if widths == [prev.c]:
        builder.add(base, ops.ADD, (prev.node,) + tuple(n for n, _ in addends), size, prev.c, source_op="add",
                    note=_note(cfg, extra), location=cfg.location())  # fmt: skip
        return _Shape(base, prev.h, prev.w, prev.c)
    # Some inputs are narrower: channels [lo, hi) of prev receive the inputs at least hi wide.
    bounds = [0] + widths + ([prev.c] if widths[-1] != prev.c else [])
    pieces = []
    for lo, hi in zip(bounds, bounds[1:]):
        piece = f"{base}/channels_{lo}_{hi}"
        span = _note(cfg, f"channels {lo}-{hi - 1}")
        builder.add(piece, ops.SELECT, (prev.node,), size, hi - lo, note=span, location=cfg.location(), start=lo,
                    stop=hi)  # fmt: skip
        sources = []
        for k, (node, channels) in enumerate(addends):
            if channels < hi:
                continue
            if lo == 0 and hi == channels:
                sources.append(node)
                continue
            part = f"{piece}/from{k}"
            builder.add(part, ops.SELECT, (node,), size, hi - lo, note=_note(cfg, f"channels {lo}-{hi - 1}"),
                        location=cfg.location(), start=lo, stop=hi)  # fmt: skip
            sources.append(part)
        if sources:
            added = f"{piece}/add"
            builder.add(added, ops.ADD, (piece,) + tuple(sources), size, hi - lo, source_op="add", note=span,
                        location=cfg.location())  # fmt: skip
            piece = added
        pieces.append(piece)
    note = _note(cfg, "; ".join(x for x in (f"adds into the first {widths[0]} channels only", extra) if x))
    builder.add(base, ops.CONCAT, tuple(pieces), size, prev.c, source_op="concat", note=note, location=cfg.location())
    return _Shape(base, prev.h, prev.w, prev.c)


def _scale(builder: GraphBuilder, cfg: _Cfg, base: str, index: int, prev: _Shape, layers: list[_Shape]) -> _Shape:
    if prev.node == INPUT:
        raise cfg.error("this layer needs a layer before it")
    values = cfg.ints("from")
    if len(values) != 1:
        raise cfg.error("`from=` takes one layer", "from")
    source = _ref(cfg, "from", values[0], index, layers)
    if cfg.section.kind == "[sam]":
        ok = (prev.h, prev.w, prev.c) == (source.h, source.w, source.c)
        what = "multiplies by the previous layer elementwise"
    elif cfg.int("scale_wh", 0):
        ok = (prev.h, prev.w) == (source.h, source.w) and prev.c == 1
        what = "scales every position by the previous layer (one channel)"
    else:
        ok = (prev.h, prev.w) == (1, 1) and prev.c == source.c
        what = "scales every channel by the previous layer (1x1)"
    if not ok:
        raise cfg.error(
            f"{what}, but the previous layer is {prev.h}x{prev.w}x{prev.c} and `{source.node}` is"
            f" {source.h}x{source.w}x{source.c}",
            "from",
        )
    builder.add(base, ops.MUL, (source.node, prev.node), (source.h, source.w), source.c, source_op="mul",
                note=_note(cfg, what), location=cfg.location())  # fmt: skip
    return _Shape(base, source.h, source.w, source.c)


def _upsample(builder: GraphBuilder, cfg: _Cfg, base: str, prev: _Shape) -> _Shape:
    _need_image(cfg, prev)
    stride = cfg.int("stride", 2)
    if stride == 0:
        raise cfg.error("`stride=0`", "stride")
    if stride > 0:
        note = _note(cfg, "nearest-neighbour upsampling")
        out = (prev.h * stride, prev.w * stride)
        builder.add(base, ops.UPSAMPLE, (prev.node,), out, prev.c, note=note, location=cfg.location(),
                    factor=(stride, stride), mode="nearest")  # fmt: skip
        return _Shape(base, out[0], out[1], prev.c)
    factor = -stride
    out = (window_size(prev.h, factor, factor, (0, 0)), window_size(prev.w, factor, factor, (0, 0)))
    if min(out) < 1:
        raise cfg.error(f"a negative stride downsamples by {factor}, but the input is {prev.h}x{prev.w}", "stride")
    note = _note(cfg, f"stride={stride}: sums {factor}x{factor} blocks (the geometry of an average pool)")
    builder.add(
        base,
        ops.AVGPOOL,
        (prev.node,),
        out,
        prev.c,
        note=note,
        location=cfg.location(),
        kernel=(factor, factor),
        stride=(factor, factor),
        dilation=(1, 1),
        padding=((0, 0), (0, 0)),
    )
    return _Shape(base, out[0], out[1], prev.c)


def _reorg(builder: GraphBuilder, cfg: _Cfg, base: str, prev: _Shape) -> _Shape:
    _need_image(cfg, prev)
    stride = cfg.int("stride", 1)
    if stride < 1:
        raise cfg.error(f"`stride` must be at least 1, got {stride}", "stride")
    for key in ("flatten", "extra"):
        if cfg.int(key, 0):
            raise cfg.error(f"`{key}=` reorganises memory, not space; unsupported", key)
    note = _note(cfg, "geometry of space-to-depth (Darknet's reorg permutes memory slightly differently)")
    if cfg.int("reverse", 0):
        if prev.c % (stride * stride):
            raise cfg.error(f"reverse reorg needs channels ({prev.c}) divisible by {stride * stride}", "reverse")
        out = (prev.h * stride, prev.w * stride)
        builder.add(base, ops.DEPTH_TO_SPACE, (prev.node,), out, prev.c // (stride * stride), note=note,
                    location=cfg.location(), factor=(stride, stride))  # fmt: skip
        return _Shape(base, out[0], out[1], prev.c // (stride * stride))
    if prev.h % stride or prev.w % stride:
        raise cfg.error(
            f"the input {prev.h}x{prev.w} is not a multiple of stride {stride}",
            "stride",
            "use an input size that the network's total stride divides",
        )
    out = (prev.h // stride, prev.w // stride)
    builder.add(base, ops.SPACE_TO_DEPTH, (prev.node,), out, prev.c * stride * stride, note=note,
                location=cfg.location(), factor=(stride, stride))  # fmt: skip
    return _Shape(base, out[0], out[1], prev.c * stride * stride)
