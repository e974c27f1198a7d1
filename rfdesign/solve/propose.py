"""`rfdesign propose`: a template of a known family from a few numbers, for the solver to fill.

Every family is written in the spec language (blocks, ``{choose: ...}``
holes, optional block uses), so ``--template-out`` gives a spec a person can
read and change. Convolutions with a kernel hole use ``padding: centred``
(``(k' - 1) // 2`` on each side, PyTorch's convention: strided units stay
centred on their pixels, so residual shortcuts line up), except ``tcn``,
which is causal. Each unit has a batch norm and an activation unless
``norm`` is ``none``.

Families (``depth`` counts units; the first ``depth_min`` are kept, the other
``depth_max - depth_min`` optional):

* ``plain``: a chain of units conv (kernel, stride, dilation from the given
  lists) + norm + activation; the solver places the strides. Widths grow
  geometrically from the minimum to the maximum of ``channels`` over the kept
  units (multiples of 8); an optional unit keeps the width before it.
* ``resnet``: a stem conv, then stages of basic residual units (two convs,
  an identity shortcut, or a 1x1 projection where the stride or the width
  changes). The strides are fixed by the target's output size: the stem and
  the first unit of each later stage have stride 2. Widths double per stage
  from the minimum of ``channels``, capped at its maximum.
* ``bottleneck``: the same with bottleneck units (1x1 to a quarter of the
  width, k x k, 1x1 back).
* ``mobilenet``: the same with inverted residual units (1x1 expansion by 6,
  depthwise k x k, 1x1 projection; a shortcut where the stride is 1 and the
  width stays).
* ``tcn``: a 1x1 stem to the width (the minimum of ``channels``), then
  residual units of two causal dilated convolutions; the length is kept.
* ``unet``: an encoder of ``depth_max`` levels (two convs, then a 2x max
  pool), a bottom pair, and a decoder (nearest upsampling by 2, a concat with
  the encoder's skip, two convs); the size is kept. Every conv chooses its
  kernel and dilation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from rfdesign.errors import SpecError

FAMILIES = ("plain", "resnet", "bottleneck", "mobilenet", "tcn", "unet")


@dataclass(frozen=True)
class ProposeRequest:
    input_size: tuple[int, ...]
    input_channels: int
    receptive_field: tuple[int | None, int | None]
    output_size: tuple[int, ...] | None
    depth: tuple[int, int]
    kernels: tuple[int, ...]
    strides: tuple[int, ...]
    dilations: tuple[int, ...]
    channels: tuple[int, int]
    objective: str = "params"
    top_k: int = 1
    constraints: tuple[str, ...] = ()  # alias names (no_unseen_pixels, no_gridding)
    family: str = "plain"
    forbid: tuple[str, ...] = ()
    allow: tuple[str, ...] = ()
    norm: str = "batchnorm"  # or "none"
    activation: str = "relu"


def widths(count: int, low: int, high: int) -> list[int]:
    """``count`` widths growing geometrically from ``low`` to ``high`` (multiples of 8 when ``low`` >= 8)."""
    if count == 1:
        return [low]
    result = []
    for index in range(count):
        value = low * (high / low) ** (index / (count - 1))
        result.append(int(round(value / 8)) * 8 if low >= 8 else int(round(value)))
    result[0], result[-1] = low, high
    return result


def _choose(values: tuple[int, ...]) -> Any:
    return values[0] if len(values) == 1 else {"choose": list(values)}


def _target(request: ProposeRequest) -> dict[str, Any]:
    target: dict[str, Any] = {}
    low, high = request.receptive_field
    if low is not None or high is not None:
        target["receptive_field"] = low if low == high else {k: v for k, v in (("min", low), ("max", high)) if v is not None}
    if request.output_size is not None:
        target["output_size"] = list(request.output_size)
    target["objective"] = request.objective
    target["top_k"] = request.top_k
    constraints: dict[str, Any] = {name: True for name in request.constraints}
    if request.forbid:
        constraints["forbid"] = list(request.forbid)
    if request.allow:
        constraints["allow"] = list(request.allow)
    if constraints:
        target["constraints"] = constraints
    return target


def _finishing(request: ProposeRequest, activation: bool = True) -> list[dict[str, Any]]:
    """The norm and activation after a conv (nothing with ``norm: none``)."""
    if request.norm == "none":
        return [{"name": "act", "op": request.activation}] if activation else []
    layers: list[dict[str, Any]] = [{"name": "norm", "op": request.norm}]
    if activation:
        layers.append({"name": "act", "op": request.activation})
    return layers


def _spread(count: int, slots: int) -> list[int]:
    """``count`` items over ``slots`` slots, as evenly as possible, the earlier slots first."""
    return [count // slots + (1 if i < count % slots else 0) for i in range(slots)]


def template(request: ProposeRequest) -> dict[str, Any]:
    """The template spec data for a request (see the module docstring)."""
    low_depth, high_depth = request.depth
    if not 1 <= low_depth <= high_depth:
        raise SpecError(f"--depth must be MIN:MAX with 1 <= MIN <= MAX, got {low_depth}:{high_depth}")
    if high_depth > 256:
        raise SpecError(f"--depth {high_depth} is more than the 256 layers a template may have")
    if request.family not in FAMILIES:
        from rfdesign.spec.suggest import did_you_mean

        raise SpecError(f"unknown family {request.family!r}", hint=did_you_mean(request.family, FAMILIES)
                        or f"families: {', '.join(FAMILIES)}")  # fmt: skip
    build = {"plain": _plain, "resnet": _residual, "bottleneck": _residual, "mobilenet": _residual,
             "tcn": _tcn, "unet": _unet}[request.family]  # fmt: skip
    blocks, layers = build(request)
    data: dict[str, Any] = {
        "name": "proposed",
        "description": f"{request.family} template made by `rfdesign propose`; `rfdesign solve` fills the "
                       "{choose: ...} holes",  # fmt: skip
        "input": {"size": list(request.input_size), "channels": request.input_channels},
        "target": _target(request),
    }
    if blocks:
        data["blocks"] = blocks
    data["layers"] = layers
    return data


# -- plain ---------------------------------------------------------------------------------------------


def _plain(request: ProposeRequest) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    low_depth, high_depth = request.depth
    kept_widths = widths(low_depth, *request.channels)
    per_slot = _spread(high_depth - low_depth, low_depth)
    padding = "centred"
    unit = {
        "params": {"out": None, "kernel": None, "stride": None, "dilation": None},
        "layers": [
            {"name": "conv", "op": "conv", "out": "$out", "kernel": "$kernel", "stride": "$stride",
             "dilation": "$dilation", "padding": padding, "bias": request.norm == "none"},
            *_finishing(request),
        ],
    }  # fmt: skip
    holes = {"kernel": _choose(request.kernels), "stride": _choose(request.strides),
             "dilation": _choose(request.dilations)}  # fmt: skip
    layers = []
    for index, width in enumerate(kept_widths):
        layers.append({"name": f"unit{index + 1}", "block": "unit", "out": width, **holes})
        for extra in range(per_slot[index]):
            layers.append({"name": f"unit{index + 1}{chr(ord('a') + extra)}", "block": "unit", "out": width,
                           **holes, "optional": True})  # fmt: skip
    return {"unit": unit}, layers


# -- residual families -------------------------------------------------------------------------------


def _downsampling(request: ProposeRequest) -> int:
    """How many stride-2 steps the target's output size asks for (the input over the output, a power of 2)."""
    if request.output_size is None:
        return 0
    ratios = {n / m for n, m in zip(request.input_size, request.output_size)}
    if len(ratios) != 1:
        raise SpecError(f"--family {request.family} needs the same input/output ratio on every axis")
    ratio = ratios.pop()
    steps = round(math.log2(ratio)) if ratio >= 1 else -1
    if steps < 0 or 2**steps != ratio:
        raise SpecError(
            f"--family {request.family} downsamples by powers of 2: input {list(request.input_size)} and output "
            f"{list(request.output_size)} are not",
            hint="pick an output size that is the input divided by 1, 2, 4, 8, ...",
        )
    return steps


def _residual(request: ProposeRequest) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    family = request.family
    steps = _downsampling(request)
    low_depth, high_depth = request.depth
    low_width, high_width = request.channels
    kernels, dilations = _choose(request.kernels), _choose(request.dilations)
    stages = max(1, steps)  # the stem takes one stride-2 step, each later stage one more
    if low_depth < stages:
        raise SpecError(f"--family {family} needs at least {stages} units for {steps} downsamplings (--depth {stages}:)")
    layers: list[dict[str, Any]] = [
        {"name": "stem", "block": "stem", "out": low_width, "kernel": kernels, "stride": 2 if steps else 1}
    ]
    blocks = {"stem": _stem_block(request), **_unit_blocks(request)}
    kept = _spread(low_depth - stages, stages)
    optional = _spread(high_depth - low_depth, stages)
    width = low_width
    for stage in range(stages):
        stride = 2 if stage > 0 and steps > 1 else 1
        previous = width
        width = min(high_width, low_width * 2**stage)
        count = 1 + kept[stage] + optional[stage]
        for index in range(count):
            first = index == 0
            name = f"stage{stage + 1}/unit{index + 1}"
            changes = first and (stride != 1 or width != previous)
            layer: dict[str, Any] = {"name": name, "block": "down" if changes else "unit", "out": width,
                                     "kernel": kernels, "dilation": 1 if first and stride != 1 else dilations}  # fmt: skip
            if changes:
                layer["stride"] = stride
            if index > kept[stage]:
                layer["optional"] = True
            layers.append(layer)
    return blocks, layers


def _stem_block(request: ProposeRequest) -> dict[str, Any]:
    return {
        "params": {"out": None, "kernel": None, "stride": 1},
        "layers": [
            {"name": "conv", "op": "conv", "out": "$out", "kernel": "$kernel", "stride": "$stride",
             "padding": "centred", "bias": request.norm == "none"},
            *_finishing(request),
        ],
    }  # fmt: skip


def _conv(name: str, out: Any, kernel: Any = 1, stride: Any = 1, dilation: Any = 1, source: str | None = None,
          **extra: Any) -> dict[str, Any]:  # fmt: skip
    layer: dict[str, Any] = {"name": name, "op": "conv", "out": out, "kernel": kernel}
    if source is not None:
        layer["from"] = source
    if stride != 1:
        layer["stride"] = stride
    if dilation != 1:
        layer["dilation"] = dilation
    if kernel != 1:
        layer["padding"] = "centred"
    layer.update(extra)
    return layer


def _after(request: ProposeRequest, prefix: str, activation: bool = True, six: bool = False) -> list[dict[str, Any]]:
    """Norm and activation after a conv inside a unit, named ``<prefix>_norm``/``<prefix>_act``."""
    act = "relu6" if six else request.activation
    layers = []
    if request.norm != "none":
        layers.append({"name": f"{prefix}_norm", "op": request.norm})
    if activation:
        layers.append({"name": f"{prefix}_act", "op": act})
    return layers


def _unit_blocks(request: ProposeRequest) -> dict[str, Any]:
    """The family's unit with an identity shortcut (``unit``) and with a projection (``down``)."""
    bias = request.norm == "none"
    family = request.family
    blocks = {}
    for name, projected in (("unit", False), ("down", True)):
        params: dict[str, Any] = {"out": None, "kernel": None, "dilation": 1}
        if projected:
            params["stride"] = 1
        stride = "$stride" if projected else 1
        if family == "resnet":
            body = [
                _conv("conv1", "$out", "$kernel", stride, "$dilation", bias=bias), *_after(request, "conv1"),
                _conv("conv2", "$out", "$kernel", 1, "$dilation", bias=bias), *_after(request, "conv2", False),
            ]
        elif family == "bottleneck":
            body = [
                _conv("reduce", "${max(1, out // 4)}", bias=bias), *_after(request, "reduce"),
                _conv("conv", "${max(1, out // 4)}", "$kernel", stride, "$dilation", bias=bias), *_after(request, "conv"),
                _conv("expand", "$out", bias=bias), *_after(request, "expand", False),
            ]
        else:  # mobilenet
            body = [
                _conv("expand", "${6 * out}", bias=bias), *_after(request, "expand", six=True),
                _conv("depthwise", "${6 * out}", "$kernel", stride, "$dilation", groups="depthwise", bias=bias),
                *_after(request, "depthwise", six=True),
                _conv("project", "$out", bias=bias), *_after(request, "project", False),
            ]
        last = body[-1]["name"]
        if projected and family == "mobilenet":
            layers = body  # no shortcut where the stride or the width changes
        elif projected:
            shortcut = [_conv("proj", "$out", 1, "$stride", source="input", bias=bias), *_after(request, "proj", False)]
            layers = [*body, *shortcut, {"name": "add", "op": "add", "from": [last, shortcut[-1]["name"]]}]
            if family != "mobilenet":
                layers.append({"name": "act", "op": request.activation})
        else:
            layers = [*body, {"name": "add", "op": "add", "from": [last, "input"]}]
            if family != "mobilenet":
                layers.append({"name": "act", "op": request.activation})
        blocks[name] = {"params": params, "layers": layers}
    return blocks


# -- tcn and unet ---------------------------------------------------------------------------------------


def _tcn(request: ProposeRequest) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    if request.output_size is not None and tuple(request.output_size) != tuple(request.input_size):
        raise SpecError("--family tcn keeps the length: drop --output-size or make it the input size")
    low_depth, high_depth = request.depth
    width = request.channels[0]
    bias = request.norm == "none"
    kernels, dilations = _choose(request.kernels), _choose(request.dilations)
    unit = {
        "params": {"kernel": None, "dilation": None},
        "layers": [
            {"name": "conv1", "op": "conv", "out": width, "kernel": "$kernel", "dilation": "$dilation",
             "padding": "causal", "bias": bias}, *_after(request, "conv1"),
            {"name": "conv2", "op": "conv", "out": width, "kernel": "$kernel", "dilation": "$dilation",
             "padding": "causal", "bias": bias}, *_after(request, "conv2", False),
            {"name": "add", "op": "add", "from": ["conv2_norm" if request.norm != "none" else "conv2", "input"]},
            {"name": "act", "op": request.activation},
        ],
    }  # fmt: skip
    layers: list[dict[str, Any]] = [{"name": "stem", "op": "conv", "out": width, "kernel": 1, "bias": bias}]
    for index in range(high_depth):
        layer = {"name": f"unit{index + 1}", "block": "unit", "kernel": kernels, "dilation": dilations}
        if index >= low_depth:
            layer["optional"] = True
        layers.append(layer)
    return {"unit": unit}, layers


def _unet(request: ProposeRequest) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    if request.output_size is not None and tuple(request.output_size) != tuple(request.input_size):
        raise SpecError("--family unet keeps the size: drop --output-size or make it the input size")
    levels = request.depth[1]
    for n in request.input_size:
        if n % 2**levels:
            raise SpecError(
                f"--family unet with {levels} levels needs input sizes divisible by {2**levels}, got {n}",
                hint="use --depth to choose fewer levels",
            )
    bias = request.norm == "none"
    kernels, dilations = _choose(request.kernels), _choose(request.dilations)
    pair = {
        "params": {"out": None, "kernel": None, "dilation": None},
        "layers": [
            _conv("conv1", "$out", "$kernel", 1, "$dilation", bias=bias), *_after(request, "conv1"),
            _conv("conv2", "$out", "$kernel", 1, "$dilation", bias=bias), *_after(request, "conv2"),
        ],
    }
    low, high = request.channels
    width = [min(high, low * 2**level) for level in range(levels + 1)]
    layers: list[dict[str, Any]] = []
    for level in range(levels):
        source = {} if level == 0 else {"from": f"pool{level}"}
        layers.append({"name": f"down{level + 1}", "block": "pair", "out": width[level], "kernel": kernels,
                       "dilation": dilations, **source})  # fmt: skip
        layers.append({"name": f"pool{level + 1}", "op": "maxpool", "kernel": 2, "from": f"down{level + 1}"})
    layers.append({"name": "bottom", "block": "pair", "out": width[levels], "kernel": kernels, "dilation": dilations})
    previous = "bottom"
    for level in range(levels - 1, -1, -1):
        layers.append({"name": f"up{level + 1}", "op": "upsample", "factor": 2, "from": previous})
        layers.append({"name": f"skip{level + 1}", "op": "concat", "from": [f"down{level + 1}", f"up{level + 1}"]})
        layers.append({"name": f"dec{level + 1}", "block": "pair", "out": width[level], "kernel": kernels,
                       "dilation": dilations})  # fmt: skip
        previous = f"dec{level + 1}"
    return {"pair": pair}, layers
