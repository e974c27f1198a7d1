"""PyTorch modules to a flat :class:`~rfdesign.spec.graph.Graph` (needs the ``torch`` extra).

``import_torch("package.module:Model")`` builds the module once, without
weights, on the CPU (only a model is called: an ``nn.Module`` class, a
torchvision or timm builder, or a callable written as a call,
``package.module:build(depth=18)``; see :func:`import_torch`), puts it in
eval mode and follows the image through it:

1. **torch.fx** (the normal way): ``torch.fx.symbolic_trace`` gives the
   module's dataflow graph; an interpreter then runs it once at the import
   size, so every op is converted with the real shapes of its inputs and
   output.
2. **forward hooks** (when tracing fails, e.g. on data-dependent control
   flow): one real forward pass on a random input, recording each leaf
   module's call (forward hooks) and each torch function or tensor method
   called between them (a ``TorchFunctionMode``); tensors are matched by
   identity to rebuild the dataflow. The graph then follows the branches
   that this input took. Every node's note says which method was used, and
   the first node's note says why torch.fx failed.

Names are the modules' qualified names (``layer1.0.conv1``); an op written in
a module's ``forward`` is named ``<module path>.<op>`` (``layer1.0.add``); a
name used twice (a module called twice) gets ``_2``, ``_3`` ... Each node's
``note`` says where it came from, e.g. ``nn.Conv2d layer1.0.conv1 (torch.fx)``.

The input's channels and number of spatial axes are those of the first
convolution (or pooling) the model runs; its size is ``input_size`` (one value
for every axis, or one per axis), by default 224 per axis (16 x 112 x 112 for
3-D models, the clip size of torchvision's video models).

What is read (anything else that touches the image is a
:class:`~rfdesign.errors.SpecError` naming the op and the node, raised only
when its result reaches an output, so image statistics used for control flow
are harmless):

* ``ConvNd``/``F.convNd`` (integer, ``same`` and ``valid`` padding; other
  padding modes read the same pixels' positions and are noted),
  ``ConvTransposeNd`` (``output_padding`` read off the actual output size);
* ``MaxPoolNd``, ``AvgPoolNd``, ``LPPoolNd`` (kernel, stride, padding,
  dilation, ``ceil_mode``); ``AdaptiveAvg/MaxPoolNd``: output 1 is
  ``global_pool``, output equal to the input is ``identity``, an output that
  divides the input evenly is the pool of window and stride ``n / out``; other
  sizes are refused (adaptive windows of different sizes);
* ``mean``/``sum``/``amax``/``max`` ... over exactly the spatial axes:
  ``global_pool``; over the channels with ``keepdim``: a one-channel ``select``;
* ``nn.Upsample``, ``F.interpolate`` (``nearest``, ``linear``/``bilinear``/
  ``trilinear``, ``align_corners``): ``upsample`` with ``factor`` for an
  integer ``scale_factor``, else ``size`` (fixed at the import size); a
  non-integer scale whose output size is not exact, ``nearest-exact``,
  ``bicubic``, ``area`` and antialiased downsampling are refused;
* ``torch.cat`` on channels: ``concat``; ``+``/``-``/``torch.add``/
  ``maximum``/``minimum`` of two image tensors: ``add``; ``*``/``/``: ``mul``
  (a gate of spatial size 1 broadcasts, as in squeeze-and-excitation; an add
  that broadcasts is written as ``mul``, the same geometry); an elementwise op
  with a constant passes through;
* ``flatten``/``view``/``reshape``/``squeeze``/``unsqueeze`` that only
  flatten a feature map for a dense head, restore it, or regroup channels
  (a channel shuffle), ``expand`` of a gate, ``permute`` to channels-last and
  back: no node; ``nn.Linear`` on a flattened map: ``linear``; on a
  channels-last map: a 1x1 ``conv``;
* every norm (``BatchNormNd``, ``GroupNorm``, ``InstanceNormNd``,
  ``LayerNorm`` over the channels): ``norm``; activations, dropout,
  ``Identity``, softmax over the channels, ``LocalResponseNorm``:
  pass-through;
* ``F.pad``/``nn.ZeroPad2d``/``ConstantPadNd`` ... on spatial axes: ``pad``
  (negative amounts: ``crop``); slicing (``x[:, a:b]``, ``narrow``,
  ``chunk``, ``split``) on channels: ``select``; on spatial axes: ``crop``
  (amounts fixed at the import size), with a step: an ``avgpool`` of
  kernel 1 and that stride;
* ``PixelShuffle``/``PixelUnshuffle``: ``depth_to_space``/``space_to_depth``.

The default output is, for each output of the model, the last node with
spatial extent before it (the feature map that feeds global pooling or a dense
head); ``output`` picks another node.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from rfdesign.errors import Location, SpecError, require
from rfdesign import ops
from rfdesign.io.foreign import first_line, foreign_code
from rfdesign.io.graph_builder import GraphBuilder
from rfdesign.rf.geometry import effective_kernel, rule_padding, transposed_size, window_size
from rfdesign.spec.graph import INPUT, Graph
from rfdesign.spec.suggest import did_you_mean

__all__ = ["import_torch", "DEFAULT_SIZES"]

#: the input size used when none is given, by number of spatial axes
DEFAULT_SIZES: dict[int, tuple[int, ...]] = {1: (224,), 2: (224, 224), 3: (16, 112, 112)}

FX = "torch.fx"
HOOKS = "forward hooks"

# --------------------------------------------------------------------------------------------------
# op tables
# --------------------------------------------------------------------------------------------------

#: torch.nn activation / regulariser classes (by name) -> the spec alias written as source_op
_ACTIVATION_MODULES = {
    "ReLU": "relu", "ReLU6": "relu6", "LeakyReLU": "leaky_relu", "PReLU": "prelu", "RReLU": "activation",
    "ELU": "elu", "SELU": "selu", "CELU": "celu", "GELU": "gelu", "SiLU": "silu", "Mish": "mish",
    "Hardswish": "hardswish", "Hardsigmoid": "hardsigmoid", "Sigmoid": "sigmoid", "LogSigmoid": "activation",
    "Tanh": "tanh", "Tanhshrink": "activation", "Softplus": "activation", "Softsign": "activation",
    "Softshrink": "activation", "Hardshrink": "activation", "Hardtanh": "activation", "Threshold": "activation",
    "Dropout": "dropout", "Dropout1d": "dropout", "Dropout2d": "dropout2d", "Dropout3d": "dropout3d",
    "AlphaDropout": "alpha_dropout", "FeatureAlphaDropout": "dropout", "Identity": "identity",
    "LocalResponseNorm": "lrn", "CrossMapLRN2d": "lrn", "ChannelShuffle": "identity",
}  # fmt: skip

#: functions and methods that pass the image through elementwise -> source_op
_UNARY = {
    "relu": "relu", "relu6": "relu6", "leaky_relu": "leaky_relu", "prelu": "prelu", "rrelu": "activation",
    "elu": "elu", "selu": "selu", "celu": "celu", "gelu": "gelu", "silu": "silu", "mish": "mish",
    "hardswish": "hardswish", "hardsigmoid": "hardsigmoid", "sigmoid": "sigmoid", "logsigmoid": "activation",
    "tanh": "tanh", "softplus": "activation", "softsign": "activation", "hardtanh": "activation",
    "threshold": "activation", "clamp": "activation", "clamp_min": "activation", "clamp_max": "activation",
    "abs": "activation", "exp": "activation", "log": "activation", "sqrt": "activation", "rsqrt": "activation",
    "square": "activation", "neg": "activation", "sign": "activation", "sin": "activation", "cos": "activation",
    "erf": "activation", "reciprocal": "activation", "floor": "activation", "ceil": "activation",
    "round": "activation", "nan_to_num": "activation", "tanhshrink": "activation", "softshrink": "activation",
    "hardshrink": "activation", "pos": "identity",
    "dropout": "dropout", "dropout1d": "dropout", "dropout2d": "dropout2d", "dropout3d": "dropout3d",
    "alpha_dropout": "alpha_dropout", "feature_alpha_dropout": "dropout",
    "local_response_norm": "lrn", "channel_shuffle": "identity", "native_channel_shuffle": "identity",
}  # fmt: skip

#: ops that return the same values in another dtype or memory layout: no node
_ALIAS = {"contiguous", "clone", "detach", "float", "double", "half", "bfloat16", "to", "type", "type_as",
          "cpu", "cuda", "requires_grad", "alias", "data"}  # fmt: skip
#: ops that regroup or broadcast values without moving pixels (read by comparing shapes)
_RESHAPE = {"view", "reshape", "flatten", "unflatten", "squeeze", "unsqueeze", "view_as", "reshape_as",
            "expand", "expand_as", "broadcast_to", "repeat", "ravel"}  # fmt: skip
#: ops whose result depends only on the image's shape, not its values
_SHAPE_ONLY = {"ones_like", "zeros_like", "full_like", "empty_like", "rand_like", "randn_like", "randint_like",
               "new_ones", "new_zeros", "new_full", "new_empty", "new_tensor", "size", "dim", "numel", "ndimension",
               "get", "getattr", "is_floating_point", "is_contiguous", "element_size", "nelement", "stride",
               "assert", "_assert"}  # fmt: skip
_ADD_LIKE = {"add", "sub", "rsub", "maximum", "minimum", "fmax", "fmin"}
_MUL_LIKE = {"mul", "div", "floordiv", "pow", "remainder", "fmod"}
_REDUCE = {"mean": "avg", "sum": "avg", "nansum": "avg", "nanmean": "avg", "std": "avg", "var": "avg",
           "logsumexp": "avg", "prod": "avg", "norm": "avg", "amax": "max", "amin": "max", "max": "max",
           "min": "max"}  # fmt: skip

_WINDOW_FUNCTIONS = re.compile(
    r"(conv|conv_transpose|max_pool|avg_pool|lp_pool|adaptive_avg_pool|adaptive_max_pool)([123])d"
)

#: normalised op names (dunders stripped, in-place and reflected forms folded)
_KEY_ALIASES = {
    "iadd": "add", "radd": "add", "isub": "sub", "imul": "mul", "rmul": "mul", "truediv": "div",
    "itruediv": "div", "rtruediv": "div", "true_divide": "div", "divide": "div", "ifloordiv": "floordiv",
    "rfloordiv": "floordiv", "floor_divide": "floordiv", "multiply": "mul", "subtract": "sub", "ipow": "pow",
    "rpow": "pow", "mod": "remainder", "concat": "cat", "concatenate": "cat", "clip": "clamp",
    "swapaxes": "transpose", "swapdims": "transpose", "max_pool1d_with_indices": "max_pool1d",
    "max_pool2d_with_indices": "max_pool2d", "max_pool3d_with_indices": "max_pool3d", "upsample": "interpolate",
    "silu_": "silu", "absolute": "abs", "negative": "neg", "arccos": "cos", "special_expit": "sigmoid",
    "expit": "sigmoid",
}  # fmt: skip


# --------------------------------------------------------------------------------------------------
# tensors on the image path
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Desc:
    """An image tensor: the node holding it and how its torch shape relates to the node's map.

    ``layout``: ``map`` (N, C, *size), ``last`` (N, *size, C: channels last),
    ``flat`` (N, C * prod(size)), ``group`` (N, *cdims, *size) with prod(cdims) = C
    (a channel regrouping), or ``point`` (N, C, 1, ..., 1) with ``cdims[0]`` size-1
    axes (a map of spatial size 1 on its way between flat and map, e.g. ``unsqueeze``).
    """

    node: str
    channels: int
    size: tuple[int, ...]
    layout: str = "map"
    cdims: tuple[int, ...] = ()

    @property
    def shape(self) -> tuple[int, ...]:
        if self.layout == "flat":
            return (1, self.channels * math.prod(self.size))
        if self.layout == "last":
            return (1,) + self.size + (self.channels,)
        if self.layout == "group":
            return (1,) + self.cdims + self.size
        if self.layout == "point":
            return (1, self.channels) + (1,) * self.cdims[0]
        return (1, self.channels) + self.size

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def point(self) -> bool:
        return all(n == 1 for n in self.size)

    @property
    def channel_axis(self) -> int | None:
        if self.layout == "group":
            return None
        return self.rank - 1 if self.layout == "last" else 1

    @property
    def spatial_axes(self) -> list[int]:
        if self.layout in ("flat", "point"):
            return []
        if self.layout == "last":
            return list(range(1, 1 + len(self.size)))
        return list(range(self.rank - len(self.size), self.rank))

    def roles(self) -> list[tuple[str, int]]:
        """Per torch axis: ("batch", 0), ("channel", 0), ("spatial", axis) or ("group", i)."""
        roles: list[tuple[str, int]] = [("batch", 0)]
        if self.layout == "flat":
            return roles + [("channel", 0)]
        if self.layout == "point":
            return roles + [("channel", 0)] + [("unit", i) for i in range(self.cdims[0])]
        if self.layout == "last":
            return roles + [("spatial", a) for a in range(len(self.size))] + [("channel", 0)]
        if self.layout == "group":
            groups = [("group", i) for i in range(len(self.cdims))]
            return roles + groups + [("spatial", a) for a in range(len(self.size))]
        return roles + [("channel", 0)] + [("spatial", a) for a in range(len(self.size))]

    def at(self, node: str, **changes: Any) -> _Desc:
        values = dict(node=node, channels=self.channels, size=self.size, layout=self.layout, cdims=self.cdims)
        values.update(changes)
        return _Desc(**values)


@dataclass(frozen=True)
class _Poison:
    """A tensor computed from the image by something rfdesign cannot read; an error if it reaches an output."""

    error: SpecError


class _Refused(Exception):
    """An op that cannot be read; becomes a poisoned tensor naming the op and the node."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass
class _Call:
    """One call being converted: what it is and what to name its nodes."""

    kind: str  # module | function | method
    key: str  # normalised op name
    label: str  # e.g. nn.Conv2d, torch.cat, Tensor.mean
    base: str  # the name wanted for its node
    where: str  # the module path (for the note)
    module: Any = None
    name: str | None = None  # the name its (last) node got; a node made on the way is `<name>/<part>`


# --------------------------------------------------------------------------------------------------
# entry
# --------------------------------------------------------------------------------------------------


def import_torch(source: str, input_size: tuple[int, ...] | None = None, output: str | None = None) -> Graph:
    """Read the PyTorch module that ``source`` names (see :func:`parse_factory`) as a graph.

    ``input_size``: the size the model is imported at (one value for every
    spatial axis, or one per axis; default 224 per axis, 16 x 112 x 112 in
    3-D). ``output``: the primary output node (default: for each output of
    the model, the last node with spatial extent before it).

    Only a model is called: an ``nn.Module`` subclass (with no arguments), a
    builder registered by torchvision (``weights=None``) or timm
    (``pretrained=False``), or a callable written as a call,
    ``package.module:build(depth=18)``, with exactly the literal arguments
    written. Nothing is called before that is checked, and it is called once.
    Whatever the model's code raises, ``SystemExit`` and ``KeyboardInterrupt``
    included, is a SpecError at ``source``.
    """
    torch = require("torch", "torch")
    location = Location(source)
    with foreign_code(location, f"reading `{source}`", exceptions=False):
        factory = _resolve(torch, source)
        return _Importer(torch, source, factory, input_size).run(output)


_HOW = "write package.module:Model (an nn.Module class) or package.module:build() (a call), e.g. torchvision.models:resnet50"
_NAME = re.compile(r"[A-Za-z_][\w.]*")
_ATTR = re.compile(r"[A-Za-z_]\w*")
#: the longest argument list a factory source may carry
MAX_CALL_CHARS = 1000


@dataclass(frozen=True)
class Factory:
    """What a PyTorch source names: a module, an attribute in it, and the explicit call if one was written."""

    module: str
    attr: str
    args: tuple[Any, ...] | None = None  # None: not written as a call
    kwargs: tuple[tuple[str, Any], ...] = ()


def parse_factory(source: str) -> Factory:
    """``package.module:Name`` or ``package.module:name(literal, key=literal, ...)``; a SpecError otherwise."""
    import ast

    location = Location(source)
    module_name, colon, rest = source.partition(":")
    attr, paren, call = rest.partition("(")
    if not colon or not _NAME.fullmatch(module_name) or not _ATTR.fullmatch(attr):
        raise SpecError(f"'{source}' is not a PyTorch factory", location, _HOW)
    if not paren:
        return Factory(module_name, attr)
    if len(call) > MAX_CALL_CHARS or not call.endswith(")"):
        raise SpecError(f"'{source}': the call must end with ')' and be shorter than {MAX_CALL_CHARS} characters",
                        location)
    try:
        tree = ast.parse(f"f({call}", mode="eval").body
        assert isinstance(tree, ast.Call)
        if any(isinstance(arg, ast.Starred) for arg in tree.args) or any(k.arg is None for k in tree.keywords):
            raise ValueError("* and ** are not allowed")
        args = tuple(ast.literal_eval(arg) for arg in tree.args)
        kwargs = tuple((k.arg, ast.literal_eval(k.value)) for k in tree.keywords)
    except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError) as exc:
        raise SpecError(
            f"'{source}': the arguments must be Python literals (numbers, strings, True/False/None, lists, tuples, "
            f"dicts), written as name(1, key='a') ({first_line(exc)})",
            location,
        ) from None
    return Factory(module_name, attr, args, kwargs)


def _resolve(torch: Any, source: str) -> Any:
    """The zero-argument builder for ``source``, checked to be a model before anything is called."""
    import importlib
    import inspect

    spec = parse_factory(source)
    location = Location(source)
    with foreign_code(location, f"importing module '{spec.module}'"):
        try:
            module = importlib.import_module(spec.module)
        except ImportError as exc:
            missing = getattr(exc, "name", None)
            if missing and (spec.module == missing or spec.module.startswith(missing + ".")):
                raise SpecError(
                    f"cannot import module '{spec.module}': {first_line(exc)}",
                    location,
                    "is the package installed in this environment, or its directory on PYTHONPATH? (docs/interop.md)",
                ) from None
            raise
    if not hasattr(module, spec.attr):
        names = [n for n in dir(module) if not n.startswith("_")]
        raise SpecError(
            f"module '{spec.module}' has no attribute '{spec.attr}'",
            location,
            did_you_mean(spec.attr, names) or "name an nn.Module class, or a function written as a call: build()",
        )
    target = getattr(module, spec.attr)
    if spec.args is not None:
        if not callable(target):
            raise SpecError(f"'{spec.module}:{spec.attr}' is not callable", location)
        kwargs = dict(spec.kwargs)
        _check_arguments(target, spec.args, kwargs, source)
        return lambda: target(*spec.args, **kwargs)
    if inspect.isclass(target) and issubclass(target, torch.nn.Module):
        _check_arguments(target, (), {}, source)
        return target
    registered = _registered_builder(target, spec.attr)
    if registered is not None:
        return registered
    kind = ("class" if inspect.isclass(target) else "function" if inspect.isroutine(target)
            else "callable object" if callable(target) else type(target).__name__)
    raise SpecError(
        f"'{source}' is a {kind}, not an nn.Module class or a model builder registered by torchvision or timm; "
        "rfdesign calls nothing else unless told to",
        location,
        f"if it builds the model, say so by writing it as a call: '{spec.module}:{spec.attr}()' "
        "(quoted in a shell; literal arguments allowed)" if callable(target) else _HOW,
    )


def _check_arguments(target: Any, args: tuple[Any, ...], kwargs: dict[str, Any], source: str) -> None:
    """Refuse, before calling, arguments that do not fit ``target``'s signature (when it has one)."""
    import inspect

    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):  # builtins without a signature: the call itself will say
        return
    try:
        signature.bind(*args, **kwargs)
    except TypeError as exc:
        needed = [p.name for p in signature.parameters.values()
                  if p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        example = ", ".join(f"{name}=..." for name in needed)
        raise SpecError(
            f"'{source}': {exc}",
            Location(source),
            f"pass the arguments in the source, e.g. '{source.split('(')[0]}({example})'" if needed else None,
        ) from None


def _registered_builder(target: Any, attr: str) -> Any:
    """A zero-argument builder when ``target`` is a model builder registered by torchvision or timm, else None.

    Only libraries already imported (by importing ``target``'s module) are asked.
    """
    import sys

    name = getattr(target, "__name__", attr)
    vision = sys.modules.get("torchvision.models")
    if vision is not None and hasattr(vision, "get_model_builder"):
        for key in dict.fromkeys((attr, name)):
            try:
                if vision.get_model_builder(key) is target:
                    return lambda: target(weights=None)
            except (ValueError, KeyError):
                pass
    timm = sys.modules.get("timm.models")
    if timm is not None and hasattr(timm, "is_model") and hasattr(timm, "model_entrypoint"):
        for key in dict.fromkeys((attr, name)):
            try:
                if timm.is_model(key) and timm.model_entrypoint(key) is target:
                    return lambda: target(pretrained=False)
            except (ValueError, KeyError, RuntimeError):
                pass
    return None


class _Importer:
    def __init__(self, torch: Any, source: str, factory: Any, input_size: tuple[int, ...] | None):
        self.torch = torch
        self.source = source
        self.name = parse_factory(source).attr
        self.factory = factory
        self.input_size = input_size
        self.location = Location(source)

    # -- building ----------------------------------------------------------------------------------------

    def _build(self) -> Any:
        """Call the builder once, on the CPU, with torch's seed fixed (and restored after)."""
        import warnings

        torch = self.torch
        with warnings.catch_warnings(), torch.random.fork_rng(devices=[]):
            warnings.simplefilter("ignore")
            torch.manual_seed(0)
            with foreign_code(self.location, f"building the model with {self.source}"):
                model = self.factory()
        if not isinstance(model, torch.nn.Module):
            raise SpecError(
                f"'{self.source}' returned a {type(model).__name__}, not a torch.nn.Module",
                self.location,
                "name a function or class that builds the nn.Module",
            )
        with foreign_code(self.location, f"switching `{self.name}` to eval mode"):
            return model.eval()

    # -- running -----------------------------------------------------------------------------------------

    def run(self, output: str | None) -> Graph:
        model = self._build()
        traced, reason = self._trace(model)
        converter: _Converter | None = None
        if traced is not None:
            dims, channels = self._first_layer(model, traced)
            size = self._size(dims)
            try:
                converter = self._run_fx(traced, channels, size)
            except SpecError:
                raise
            except Exception as exc:  # a trace that does not run
                reason = f"running the traced graph failed ({type(exc).__name__}: {_line(exc)})"
        if converter is None:
            dims, channels = self._first_layer(model, None)
            size = self._size(dims)
            converter = self._run_hooks(model, channels, size, reason or "torch.fx failed")
        return converter.finish(self.name, output)

    def _trace(self, model: Any) -> tuple[Any, str | None]:
        import warnings

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return self.torch.fx.symbolic_trace(model), None
        except Exception as exc:  # data-dependent control flow, unsupported Python on proxies ...
            return None, f"torch.fx could not trace the model ({type(exc).__name__}: {_line(exc)})"

    def _first_layer(self, model: Any, traced: Any) -> tuple[int, int]:
        """(spatial axes, input channels) from the first convolution or pooling the model runs."""
        nn = self.torch.nn
        order: list[Any] = []
        if traced is not None:
            for node in traced.graph.nodes:
                if node.op == "call_module":
                    order.append(traced.get_submodule(node.target))
        order.extend(model.modules())
        dims = None
        for module in order:
            found = _module_dims(nn, module)
            if found is not None and dims is None:
                dims = found
            if isinstance(module, nn.modules.conv._ConvNd):
                if dims is None:
                    dims = found
                channels = module.in_channels
                return dims, channels  # type: ignore[return-value]
        raise SpecError(
            f"found no convolution in `{self.name}`",
            self.location,
            "rfdesign imports convolutional networks (nn.Conv1d/2d/3d); the first one gives the input's channels",
        )

    def _size(self, dims: int) -> tuple[int, ...]:
        if self.input_size is None:
            return DEFAULT_SIZES[dims]
        size = tuple(int(n) for n in self.input_size)
        if len(size) == 1 and dims > 1:
            size = size * dims
        if len(size) != dims or any(n < 1 for n in size):
            raise SpecError(
                f"input size {list(self.input_size)} does not fit a {dims}-D model",
                self.location,
                f"give one size, or {dims} positive sizes (one per spatial axis)",
            )
        return size

    def _input(self, channels: int, size: tuple[int, ...]) -> Any:
        """A seeded random CPU input (random, so that data-dependent branches see an image-like tensor)."""
        torch = self.torch
        generator = torch.Generator().manual_seed(0)
        return torch.randn(1, channels, *size, generator=generator)

    def _run_fx(self, traced: Any, channels: int, size: tuple[int, ...]) -> _Converter:
        torch = self.torch
        converter = _Converter(torch, self.source, FX)
        x = self._input(channels, size)
        converter.register_input(x, channels, size)
        runner = _make_runner(torch, traced, converter)
        with torch.no_grad():
            result = runner.run(x)
        converter.result = result
        return converter

    def _run_hooks(self, model: Any, channels: int, size: tuple[int, ...], reason: str) -> _Converter:
        torch = self.torch
        converter = _Converter(torch, self.source, HOOKS, reason)
        x = self._input(channels, size)
        converter.register_input(x, channels, size)
        try:
            with torch.no_grad():
                converter.result = _record_with_hooks(torch, model, x, converter)
        except SpecError:
            raise
        except Exception as exc:
            raise SpecError(
                f"running `{self.name}` on a {'x'.join(map(str, (1, channels) + size))} input failed"
                f" ({type(exc).__name__}: {_line(exc)})",
                self.location,
                "pass an input size the model accepts (--input-size)",
            ) from None
        return converter


def _line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _module_dims(nn: Any, module: Any) -> int | None:
    """Spatial axes of a convolution or pooling module, None for other modules."""
    kinds = (
        nn.modules.conv._ConvNd,
        nn.modules.pooling._MaxPoolNd,
        nn.modules.pooling._AvgPoolNd,
        nn.modules.pooling._AdaptiveAvgPoolNd,
        nn.modules.pooling._AdaptiveMaxPoolNd,
    )
    if not isinstance(module, kinds):
        return None
    match = re.search(r"([123])d$", type(module).__name__)
    if match:
        return int(match.group(1))
    for cls in type(module).__mro__:
        match = re.search(r"([123])d$", cls.__name__)
        if match:
            return int(match.group(1))
    return None


def _make_runner(torch: Any, traced: Any, converter: _Converter) -> Any:
    class Runner(torch.fx.Interpreter):
        def __init__(self) -> None:
            super().__init__(traced, garbage_collect_values=False)
            self.current = None

        def run_node(self, n: Any) -> Any:
            self.current = n
            return super().run_node(n)

        def call_module(self, target: Any, args: Any, kwargs: Any) -> Any:
            result = super().call_module(target, args, kwargs)
            module = self.fetch_attr(target)
            converter.handle("module", module, args, kwargs, result, target)
            return result

        def call_function(self, target: Any, args: Any, kwargs: Any) -> Any:
            result = super().call_function(target, args, kwargs)
            converter.handle("function", target, args, kwargs, result, _fx_scope(self.current))
            return result

        def call_method(self, target: Any, args: Any, kwargs: Any) -> Any:
            result = super().call_method(target, args, kwargs)
            converter.handle("method", target, args, kwargs, result, _fx_scope(self.current))
            return result

    return Runner()


def _fx_scope(node: Any) -> str:
    stack = node.meta.get("nn_module_stack") if node is not None else None
    if not stack:
        return ""
    last = list(stack.values())[-1]
    if isinstance(last, tuple) and last and isinstance(last[0], str):
        return last[0]
    if isinstance(last, str):
        return last
    return list(stack.keys())[-1]


def _record_with_hooks(torch: Any, model: Any, x: Any, converter: _Converter) -> Any:
    """One forward pass recording leaf modules (hooks) and the torch calls between them (a function mode)."""
    from torch.overrides import TorchFunctionMode

    names = {id(m): name for name, m in model.named_modules()}
    state = {"depth": 0, "stack": [""]}
    handles = []

    def is_leaf(module: Any) -> bool:
        kind = type(module).__module__
        return kind.startswith(("torch.nn", "torch.ao.nn")) and not isinstance(module, torch.nn.Sequential)

    def pre(module: Any, args: Any, kwargs: Any) -> None:
        if is_leaf(module):
            state["depth"] += 1
        elif state["depth"] == 0:
            state["stack"].append(names.get(id(module), ""))

    def post(module: Any, args: Any, kwargs: Any, result: Any) -> None:
        if is_leaf(module):
            state["depth"] -= 1
            if state["depth"] == 0:
                converter.handle("module", module, args, kwargs, result, names.get(id(module), type(module).__name__))
        elif state["depth"] == 0 and len(state["stack"]) > 1:
            state["stack"].pop()

    class Mode(TorchFunctionMode):
        def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
            kwargs = kwargs or {}
            result = func(*args, **kwargs)
            if state["depth"] == 0:
                kind = "method" if _is_method(func) else "function"
                converter.handle(kind, func, args, kwargs, result, state["stack"][-1])
            return result

    for module in model.modules():
        handles.append(module.register_forward_pre_hook(pre, with_kwargs=True))
        handles.append(module.register_forward_hook(post, with_kwargs=True))
    try:
        with Mode():
            return model(x)
    finally:
        for handle in handles:
            handle.remove()


def _is_method(func: Any) -> bool:
    qualname = getattr(func, "__qualname__", "") or ""
    return qualname.startswith(("TensorBase.", "Tensor.", "_TensorBase.")) or qualname.endswith("__get__")


# --------------------------------------------------------------------------------------------------
# conversion
# --------------------------------------------------------------------------------------------------


def _key(kind: str, target: Any) -> str:
    if kind == "method":
        name = target if isinstance(target, str) else getattr(target, "__name__", str(target))
    else:
        name = getattr(target, "__name__", None) or str(target)
    if name.startswith("__") and name.endswith("__"):
        name = name[2:-2]
    elif name.endswith("_") and not name.startswith("_"):
        name = name[:-1]  # in-place forms
    return _KEY_ALIASES.get(name, name)


def _label(kind: str, target: Any, key: str) -> str:
    if kind == "module":
        cls = type(target)
        if cls.__module__.startswith("torch.nn"):
            return f"nn.{cls.__name__}"
        return f"{cls.__module__}.{cls.__qualname__}"
    if kind == "method":
        name = target if isinstance(target, str) else getattr(target, "__name__", key)
        return f"Tensor.{name}"
    module = getattr(target, "__module__", None) or ""
    name = getattr(target, "__name__", key)
    if module == "torch.nn.functional":
        return f"F.{name}"
    if module in ("_operator", "operator"):
        return f"operator.{name}"
    if module.startswith("torch"):
        return f"torch.{name}"
    if module == "builtins":
        return name
    return f"{module}.{name}" if module else name


def _ints(value: Any, dims: int, what: str) -> tuple[int, ...]:
    if isinstance(value, (list, tuple)):
        values = tuple(int(v) for v in value)
        if len(values) == 1 and dims > 1:
            values = values * dims
    else:
        values = (int(value),) * dims
    if len(values) != dims:
        raise _Refused(f"`{what}` {list(values)} does not fit {dims} spatial axes")
    return values


def _bind(args: tuple[Any, ...], kwargs: dict[str, Any], names: list[str], defaults: dict[str, Any]) -> dict[str, Any]:
    bound = dict(defaults)
    for name, value in zip(names, args):
        bound[name] = value
    for name, value in kwargs.items():
        bound[name] = value
    return bound


class _Converter:
    """Turns the calls of one run into nodes; tensors are followed by identity."""

    def __init__(self, torch: Any, source: str, method: str, reason: str | None = None):
        self.torch = torch
        self.source = source
        self.location = Location(source)
        self.method = method
        self.reason = reason
        self.descs: dict[int, _Desc | _Poison] = {}
        self.keep: list[Any] = []  # every tracked tensor, so that ids are never reused
        self.builder = GraphBuilder(self.location, "PyTorch")
        self.dims = 0
        self.input_shape: tuple[int, tuple[int, ...]] = (0, ())
        self.result: Any = None

    # -- bookkeeping ---------------------------------------------------------------------------------

    def register_input(self, x: Any, channels: int, size: tuple[int, ...]) -> None:
        self.dims = len(size)
        self.input_shape = (channels, tuple(size))
        self._assign(x, _Desc(INPUT, channels, tuple(size)))

    def _assign(self, value: Any, desc: Any) -> None:
        torch = self.torch
        if isinstance(value, torch.Tensor):
            if isinstance(desc, list):
                desc = desc[0]
            self.descs[id(value)] = desc
            self.keep.append(value)
            return
        if isinstance(value, (tuple, list)):
            items = desc if isinstance(desc, list) else [desc] * len(value)
            for item, d in zip(value, items):
                self._assign(item, d)

    def _lookup(self, value: Any) -> Any:
        if isinstance(value, self.torch.Tensor):
            return self.descs.get(id(value))
        return None

    def _images(self, value: Any, found: list[Any]) -> list[Any]:
        torch = self.torch
        if isinstance(value, torch.Tensor):
            desc = self.descs.get(id(value))
            if desc is not None:
                found.append(desc)
        elif isinstance(value, (tuple, list)):
            for item in value:
                self._images(item, found)
        elif isinstance(value, dict):
            for item in value.values():
                self._images(item, found)
        elif isinstance(value, slice):
            for item in (value.start, value.stop, value.step):
                self._images(item, found)
        return found

    def _has_tensor(self, value: Any) -> bool:
        torch = self.torch
        if isinstance(value, torch.Tensor):
            return True
        if isinstance(value, (tuple, list)):
            return any(self._has_tensor(v) for v in value)
        if isinstance(value, dict):
            return any(self._has_tensor(v) for v in value.values())
        return False

    def _name(self, call: _Call, part: str | None = None) -> str:
        """The name of the call's (last) node, or of the node ``<name>/<part>`` it makes on the way."""
        if call.name is None:
            call.name = self.builder.unique(call.base)
        return call.name if part is None else self.builder.unique(f"{call.name}/{part}")

    def _note(self, call: _Call, extra: str = "") -> str:
        """Where a node comes from: the call, its module, how it was captured (and, first, why not by torch.fx)."""
        where = f" {call.where}" if call.where else ""
        note = f"{call.label}{where} ({self.method}"
        if self.method == HOOKS and not self.builder.nodes:
            note += f"; {self.reason}"
        note += ")"
        return f"{note}: {extra}" if extra else note

    # -- one call --------------------------------------------------------------------------------------

    def handle(self, kind: str, target: Any, args: Any, kwargs: Any, result: Any, scope: str) -> None:
        images = self._images((args, kwargs), [])
        if not images:
            return
        key = "module" if kind == "module" else _key(kind, target)
        if kind != "module" and key in _SHAPE_ONLY:
            return
        if kind == "module":
            call = _Call(kind, type(target).__name__, _label(kind, target, key), scope, scope, target)
        else:
            base = f"{scope}.{key}" if scope else key
            call = _Call(kind, key, _label(kind, target, key), base, f"in {scope}" if scope else "")
        if key in ("setitem", "copy", "fill", "zero", "masked_fill", "index_put", "scatter") and args:
            if self._lookup(args[0]) is not None:  # a write into an image tensor
                self._assign(args[0], self._poison(call, "writes into an image tensor in place"))
        if not self._has_tensor(result):
            return
        if key == "getitem" and isinstance(args[0], (tuple, list)):  # picking from a split
            picked = args[0][args[1]]
            if self._lookup(picked) is not None:
                self._assign(result, self._lookup(picked))
            return
        poison = next((d for d in images if isinstance(d, _Poison)), None)
        if poison is not None:
            out: Any = poison
        else:
            try:
                out = self._dispatch(call, args, kwargs, result)
            except _Refused as exc:
                out = self._poison(call, exc.message, exc.hint)
            except (ArithmeticError, AttributeError, IndexError, KeyError, TypeError, ValueError) as exc:
                out = self._poison(call, f"cannot be read ({type(exc).__name__}: {_line(exc)})")
        if isinstance(out, _Poison) and kind != "module" and _inplace(kind, target):
            first = args[0] if args else None
            if self._lookup(first) is not None:
                self._assign(first, out)
        self._assign(result, out)

    def _poison(self, call: _Call, message: str, hint: str | None = None) -> _Poison:
        return _Poison(SpecError(f"{call.label} '{call.base}': {message}", self.location, hint))

    def _dispatch(self, call: _Call, args: Any, kwargs: Any, result: Any) -> Any:
        if call.kind == "module":
            return self._module(call, call.module, args, kwargs, result)
        key = call.key
        handler = getattr(self, f"_fn_{key}", None)
        if handler is not None:
            return handler(call, args, kwargs, result)
        m = _WINDOW_FUNCTIONS.fullmatch(key)
        if m:
            return getattr(self, f"_fn_{m.group(1)}")(call, args, kwargs, result, int(m.group(2)))
        if key in _UNARY:
            return self._unary(call, args, _UNARY[key], result)
        if key in _ALIAS:
            return self._alias(call, args[0], result)
        if key in _RESHAPE:
            broadcast = key in ("expand", "expand_as", "broadcast_to", "repeat")
            return self._reshape(call, args[0], result, broadcast=broadcast)
        if key in _ADD_LIKE or key in _MUL_LIKE:
            return self._binary(call, key, list(args[:2]) + [v for k, v in kwargs.items() if k == "other"], result)
        if key in _REDUCE:
            return self._reduce(call, args, kwargs, result, _REDUCE[key])
        raise _Refused(
            f"unsupported op {call.label}",
            "rfdesign reads convolutions, pooling, resampling, elementwise merges, concatenation, slicing and"
            " dense heads",
        )

    # -- helpers on descs ------------------------------------------------------------------------------

    def _image(self, value: Any, what: str = "input") -> _Desc:
        desc = self._lookup(value)
        if isinstance(desc, _Poison):
            raise _Refused(desc.error.message)
        if desc is None:
            raise _Refused(f"its {what} is not the image tensor", "rfdesign follows the image's path only")
        return desc

    def _map(self, value: Any) -> _Desc:
        desc = self._image(value)
        if desc.layout != "map":
            raise _Refused(
                f"expects a feature map (N, C, spatial), got a tensor of shape {list(desc.shape)}",
                "rfdesign follows feature maps; flatten only before the dense head",
            )
        return desc

    def _result_map(self, result: Any, what: str = "output") -> tuple[int, tuple[int, ...]]:
        shape = tuple(result.shape)
        if len(shape) != self.dims + 2:
            raise _Refused(f"its {what} has shape {list(shape)}, not (N, C, {self.dims} spatial sizes)")
        return shape[1], shape[2:]

    def _pass(self, call: _Call, desc: _Desc, op: str, source_op: str, extra: str = "", **attrs: Any) -> _Desc:
        name = self.builder.add(
            self._name(call), op, (desc.node,), desc.size, desc.channels, source_op=source_op,
            note=self._note(call, extra), **attrs
        )
        return desc.at(name)

    def _alias(self, call: _Call, value: Any, result: Any) -> _Desc:
        desc = self._image(value)
        if tuple(result.shape) != desc.shape:
            raise _Refused(f"changes the shape {list(desc.shape)} to {list(result.shape)}")
        return desc

    # -- modules ----------------------------------------------------------------------------------------

    def _module(self, call: _Call, module: Any, args: Any, kwargs: Any, result: Any) -> Any:
        nn = self.torch.nn
        cls = type(module).__name__
        x = args[0] if args else next(iter(kwargs.values()), None)
        if isinstance(module, nn.modules.conv._ConvTransposeNd):
            desc = self._map(x)
            return self._conv_transpose(
                call, desc, tuple(module.weight.shape), module.stride, module.padding, module.dilation,
                module.groups, module.bias is not None, result,
            )  # fmt: skip
        if isinstance(module, nn.modules.conv._ConvNd):
            desc = self._map(x)
            extra = ""
            if getattr(module, "padding_mode", "zeros") != "zeros":
                extra = f"padding_mode '{module.padding_mode}' (the same geometry as zero padding)"
            return self._conv(
                call, desc, tuple(module.weight.shape), module.stride, module.padding, module.dilation,
                module.groups, module.bias is not None, result, extra,
            )  # fmt: skip
        if isinstance(module, nn.modules.pooling._MaxPoolNd):
            desc = self._map(x)
            return self._pool(
                call, desc, ops.MAXPOOL, module.kernel_size, module.stride, module.padding, module.dilation,
                module.ceil_mode, result, module.return_indices,
            )  # fmt: skip
        if isinstance(module, nn.modules.pooling._AvgPoolNd):
            desc = self._map(x)
            return self._pool(
                call, desc, ops.AVGPOOL, module.kernel_size, module.stride, module.padding, 1, module.ceil_mode, result
            )
        if isinstance(module, nn.modules.pooling._LPPoolNd):
            desc = self._map(x)
            return self._pool(
                call, desc, ops.AVGPOOL, module.kernel_size, module.stride, 0, 1, module.ceil_mode, result,
                extra="an LP pool has the geometry of an average pool",
            )  # fmt: skip
        if isinstance(module, (nn.modules.pooling._AdaptiveAvgPoolNd, nn.modules.pooling._AdaptiveMaxPoolNd)):
            mode = "max" if "Max" in cls else "avg"
            return self._adaptive(call, self._map(x), mode, result)
        if isinstance(module, nn.Upsample):
            return self._upsample(
                call, self._map(x), module.size, module.scale_factor, module.mode, module.align_corners,
                getattr(module, "recompute_scale_factor", None), False, result,
            )  # fmt: skip
        if isinstance(module, nn.modules.batchnorm._NormBase) or isinstance(module, nn.GroupNorm):
            desc = self._image(x)
            affine = bool(getattr(module, "affine", True))
            source_op = "groupnorm" if isinstance(module, nn.GroupNorm) else _norm_name(cls)
            return self._norm(call, desc, source_op, affine, result)
        if isinstance(module, nn.LayerNorm):
            desc = self._image(x)
            return self._layer_norm(call, desc, tuple(module.normalized_shape), module.weight is not None, result)
        if isinstance(module, nn.Linear):
            bias = module.bias is not None
            return self._linear(call, self._image(x), module.in_features, module.out_features, bias, result)
        if isinstance(module, nn.Flatten) or isinstance(module, nn.Unflatten):
            return self._reshape(call, x, result)
        if isinstance(module, (nn.Softmax, nn.LogSoftmax, nn.Softmin)):
            desc = self._image(x)
            source_op = {"Softmax": "softmax", "LogSoftmax": "log_softmax"}.get(cls, "activation")
            return self._softmax(call, desc, module.dim, result, source_op)
        if isinstance(module, nn.Softmax2d):
            desc = self._image(x)
            return self._softmax(call, desc, -3, result, "softmax")
        if any(re.fullmatch(r"(Zero|Constant|Reflection|Replication|Circular)Pad[123]d", k.__name__)
               for k in type(module).__mro__):  # fmt: skip
            desc = self._image(x)
            mode = "constant"
            for word in ("Reflection", "Replication", "Circular"):
                if word in cls:
                    mode = word.lower()
            return self._pad(call, desc, tuple(module.padding), mode, result)
        if isinstance(module, nn.PixelShuffle):
            return self._shuffle(call, self._map(x), module.upscale_factor, ops.DEPTH_TO_SPACE, result)
        if isinstance(module, nn.PixelUnshuffle):
            return self._shuffle(call, self._map(x), module.downscale_factor, ops.SPACE_TO_DEPTH, result)
        for klass in type(module).__mro__:
            if klass.__name__ in _ACTIVATION_MODULES and klass.__module__.startswith("torch.nn"):
                desc = self._image(x)
                return self._elementwise(call, desc, _ACTIVATION_MODULES[klass.__name__], result)
        raise _Refused(
            f"unsupported module {call.label}",
            "rfdesign reads convolutions, pooling, resampling, norms, activations, padding, pixel shuffles and"
            " dense heads",
        )

    # -- windows ----------------------------------------------------------------------------------------

    def _conv(
        self, call: _Call, desc: _Desc, weight: tuple[int, ...], stride: Any, padding: Any, dilation: Any,
        groups: int, bias: bool, result: Any, extra: str = "",
    ) -> _Desc:  # fmt: skip
        dims = len(desc.size)
        if len(weight) != dims + 2:
            raise _Refused(f"a weight of shape {list(weight)} does not fit {dims} spatial axes")
        kernel = tuple(weight[2:])
        stride, dilation = _ints(stride, dims, "stride"), _ints(dilation, dims, "dilation")
        if weight[1] * groups != desc.channels:
            raise _Refused(
                f"a weight of shape {list(weight)} with groups={groups} does not fit {desc.channels} channels"
            )
        if isinstance(padding, str):
            if padding == "valid":
                pairs = tuple((0, 0) for _ in kernel)
            elif padding == "same":  # PyTorch allows it at stride 1 only, where it is TensorFlow's rule
                pairs = tuple(
                    rule_padding("same", n, 1, effective_kernel(k, d)) for n, k, d in zip(desc.size, kernel, dilation)
                )
                extra = "PyTorch's padding='same'" + (f"; {extra}" if extra else "")
            else:
                raise _Refused(f"unknown padding '{padding}'")
        else:
            pairs = tuple((p, p) for p in _ints(padding, dims, "padding"))
        channels, size = self._result_map(result)
        name = self.builder.add(
            self._name(call), ops.CONV, (desc.node,), size, channels, source_op="conv", note=self._note(call, extra),
            kernel=kernel, stride=stride, dilation=dilation, padding=pairs, groups=int(groups), out=int(weight[0]),
            bias=bool(bias)
        )  # fmt: skip
        return _Desc(name, channels, size)

    def _conv_transpose(
        self, call: _Call, desc: _Desc, weight: tuple[int, ...], stride: Any, padding: Any, dilation: Any,
        groups: int, bias: bool, result: Any,
    ) -> _Desc:  # fmt: skip
        dims = len(desc.size)
        if len(weight) != dims + 2 or weight[0] != desc.channels:
            raise _Refused(f"a weight of shape {list(weight)} does not fit {desc.channels} input channels")
        kernel = tuple(weight[2:])
        stride, dilation = _ints(stride, dims, "stride"), _ints(dilation, dims, "dilation")
        if isinstance(padding, str):
            raise _Refused(f"padding '{padding}' on a transposed convolution")
        pads = _ints(padding, dims, "padding")
        channels, size = self._result_map(result)
        output_padding = []
        for n, m, k, s, d, p in zip(desc.size, size, kernel, stride, dilation, pads):
            extra = m - transposed_size(n, s, effective_kernel(k, d), (p, p), 0)
            if not 0 <= extra < max(s, d):
                raise _Refused(f"its output size {list(size)} does not follow from its input {list(desc.size)}")
            output_padding.append(extra)
        name = self.builder.add(
            self._name(call), ops.CONV_TRANSPOSE, (desc.node,), size, channels, source_op="conv_transpose",
            note=self._note(call), kernel=kernel, stride=stride, dilation=dilation,
            padding=tuple((p, p) for p in pads), output_padding=tuple(output_padding), groups=int(groups),
            out=int(channels), bias=bool(bias)
        )  # fmt: skip
        return _Desc(name, channels, size)

    def _pool(
        self, call: _Call, desc: _Desc, op: str, kernel: Any, stride: Any, padding: Any, dilation: Any,
        ceil_mode: bool, result: Any, indices: bool = False, extra: str = "",
    ) -> Any:  # fmt: skip
        dims = len(desc.size)
        kernel = _ints(kernel, dims, "kernel_size")
        if stride is None or (isinstance(stride, (list, tuple)) and not stride):
            stride = kernel  # PyTorch's default: the kernel
        else:
            stride = _ints(stride, dims, "stride")
        pads = _ints(padding, dims, "padding")
        dilation = _ints(dilation, dims, "dilation")
        value = result[0] if indices else result
        channels, size = self._result_map(value)
        name = self.builder.add(
            self._name(call), op, (desc.node,), size, channels, source_op=op, note=self._note(call, extra),
            kernel=kernel, stride=stride, dilation=dilation, padding=tuple((p, p) for p in pads),
            ceil_mode=bool(ceil_mode)
        )  # fmt: skip
        out = _Desc(name, channels, size)
        if indices:
            return [out, self._poison(call, "its pooling indices are not an image")]
        return out

    def _adaptive(self, call: _Call, desc: _Desc, mode: str, result: Any) -> Any:
        value = result[0] if isinstance(result, (tuple, list)) else result
        channels, size = self._result_map(value)
        if all(m == 1 for m in size):
            name = self.builder.add(
                self._name(call), ops.GLOBAL_POOL, (desc.node,), size, channels, source_op=f"global_{mode}pool",
                note=self._note(call), mode=mode
            )
        elif size == desc.size:
            name = self.builder.add(
                self._name(call), ops.IDENTITY, (desc.node,), size, channels, source_op="identity",
                note=self._note(call, "output size equals its input")
            )
        elif all(n % m == 0 for n, m in zip(desc.size, size)):
            window = tuple(n // m for n, m in zip(desc.size, size))
            op = ops.MAXPOOL if mode == "max" else ops.AVGPOOL
            name = self.builder.add(
                self._name(call), op, (desc.node,), size, channels, source_op=op,
                note=self._note(call, f"adaptive pooling {list(desc.size)} -> {list(size)}: windows of"
                                f" {list(window)} (at the import size)"),
                kernel=window, stride=window, dilation=(1,) * len(window), padding=tuple((0, 0) for _ in window),
            )  # fmt: skip
        else:
            raise _Refused(
                f"adaptive pooling from {list(desc.size)} to {list(size)}: the sizes do not divide, so its windows"
                " differ in size and overlap",
                "import at an input size where the sizes divide evenly",
            )
        out = _Desc(name, channels, size)
        if isinstance(result, (tuple, list)):
            return [out, self._poison(call, "its pooling indices are not an image")]
        return out

    # -- resampling -------------------------------------------------------------------------------------

    def _upsample(
        self, call: _Call, desc: _Desc, size_arg: Any, scale: Any, mode: str, align_corners: Any,
        recompute: Any, antialias: bool, result: Any,
    ) -> _Desc:  # fmt: skip
        channels, size = self._result_map(result)
        dims = len(size)
        if mode == "nearest":
            kind = "nearest"
        elif mode in ("linear", "bilinear", "trilinear"):
            kind = "linear"
        else:
            raise _Refused(
                f"mode '{mode}' is not read",
                "rfdesign reads nearest and (bi/tri)linear resampling (PyTorch's interpolate)",
            )
        if antialias and any(m < n for n, m in zip(desc.size, size)):
            raise _Refused("antialiased downsampling reads a wider window than the interpolation", None)
        aligned = bool(align_corners) and kind == "linear"
        attrs: dict[str, Any] = {"mode": kind, "align_corners": aligned}
        extra = ""
        if scale is not None and not recompute:
            scales = [float(s) for s in (scale if isinstance(scale, (list, tuple)) else [scale] * dims)]
            if all(s == int(s) and n * int(s) == m for s, n, m in zip(scales, desc.size, size)):
                attrs["factor"] = tuple(int(s) for s in scales)
            elif all(n * s == m for s, n, m in zip(scales, desc.size, size)) or aligned:
                attrs["size"] = size
                extra = f"scale {scales}: output size {list(size)} fixed at the import size"
            else:
                raise _Refused(
                    f"scale_factor {scales} on an input of {list(desc.size)}: PyTorch samples at steps of"
                    f" 1/scale, not input/output ({list(size)}), which rfdesign's upsample cannot express",
                    "import at an input size where the scale gives a whole output size, or pass size=",
                )
        else:
            attrs["size"] = size
            extra = f"output size {list(size)} fixed at the import size"
        name = self.builder.add(
            self._name(call), ops.UPSAMPLE, (desc.node,), size, channels, source_op="upsample",
            note=self._note(call, extra), **attrs
        )
        return _Desc(name, channels, size)

    def _shuffle(self, call: _Call, desc: _Desc, factor: int, op: str, result: Any) -> _Desc:
        dims = len(desc.size)
        if dims != 2:
            raise _Refused(f"pixel (un)shuffle on a {dims}-D map (PyTorch shuffles the last two axes)")
        channels, size = self._result_map(result)
        source_op = "pixel_shuffle" if op == ops.DEPTH_TO_SPACE else "pixel_unshuffle"
        name = self.builder.add(
            self._name(call), op, (desc.node,), size, channels, source_op=source_op, note=self._note(call),
            factor=(int(factor),) * dims
        )
        return _Desc(name, channels, size)

    # -- pass-through -----------------------------------------------------------------------------------

    def _elementwise(self, call: _Call, desc: _Desc, source_op: str, result: Any) -> _Desc:
        if tuple(result.shape) != desc.shape:
            raise _Refused(f"changes the shape {list(desc.shape)} to {list(result.shape)}")
        return self._pass(call, desc, ops.IDENTITY, source_op)

    def _unary(self, call: _Call, args: Any, source_op: str, result: Any) -> _Desc:
        desc = self._image(args[0])
        for other in args[1:]:
            if self._lookup(other) is not None:
                raise _Refused("uses the image in a parameter")
        return self._elementwise(call, desc, source_op, result)

    def _norm(self, call: _Call, desc: _Desc, source_op: str, affine: bool, result: Any) -> _Desc:
        if tuple(result.shape) != desc.shape:
            raise _Refused(f"changes the shape {list(desc.shape)} to {list(result.shape)}")
        if desc.layout not in ("map", "flat"):
            raise _Refused(f"normalises a tensor of shape {list(desc.shape)} along axis 1, which is not its channels")
        extra = ""
        if desc.layout == "flat" and not desc.point:
            extra = "normalises each flattened feature (its parameters: 2 per feature, not per channel)"
        return self._pass(call, desc, ops.NORM, source_op, extra, affine=affine)

    def _layer_norm(self, call: _Call, desc: _Desc, shape: tuple[int, ...], affine: bool, result: Any) -> _Desc:
        channels_last = desc.layout == "last" or (desc.layout == "flat" and desc.point)
        if not channels_last or shape != (desc.channels,):
            raise _Refused(
                f"normalises the trailing axes {list(shape)} of a tensor of shape {list(desc.shape)}",
                "rfdesign reads LayerNorm over the channels only (channels-last maps or flat vectors)",
            )
        return self._norm_any(call, desc, "layernorm", affine, result)

    def _norm_any(self, call: _Call, desc: _Desc, source_op: str, affine: bool, result: Any) -> _Desc:
        if tuple(result.shape) != desc.shape:
            raise _Refused(f"changes the shape {list(desc.shape)} to {list(result.shape)}")
        return self._pass(call, desc, ops.NORM, source_op, affine=affine)

    def _softmax(self, call: _Call, desc: _Desc, dim: Any, result: Any, source_op: str) -> _Desc:
        if dim is None:
            raise _Refused("softmax without `dim`", "pass dim=1 (the channels)")
        axis = int(dim) % desc.rank
        if not desc.point and axis != desc.channel_axis:
            raise _Refused(
                f"normalises over axis {axis} of a {list(desc.shape)} tensor, which mixes positions",
                "only a softmax over the channels passes through",
            )
        return self._elementwise(call, desc, source_op, result)

    # -- dense --------------------------------------------------------------------------------------------

    def _linear(self, call: _Call, desc: _Desc, features: int, out: int, bias: bool, result: Any) -> _Desc:
        if desc.layout == "last":
            if features != desc.channels:
                raise _Refused(f"expects {features} features, the channels-last map has {desc.channels} channels")
            name = self.builder.add(
                self._name(call), ops.CONV, (desc.node,), desc.size, out, source_op="conv",
                note=self._note(call, "nn.Linear on a channels-last map: a 1x1 convolution"),
                kernel=(1,) * len(desc.size), stride=(1,) * len(desc.size), dilation=(1,) * len(desc.size),
                padding=tuple((0, 0) for _ in desc.size), out=int(out), bias=bool(bias)
            )  # fmt: skip
            return desc.at(name, channels=int(out))
        if desc.layout != "flat":
            raise _Refused(
                f"multiplies a tensor of shape {list(desc.shape)} along its last axis, which is spatial",
                "a dense layer is read after flatten (or on a channels-last map)",
            )
        if features != desc.channels * math.prod(desc.size):
            raise _Refused(f"expects {features} features, the input has {desc.channels * math.prod(desc.size)}")
        if tuple(result.shape) != (1, out):
            raise _Refused(f"its output has shape {list(result.shape)}")
        point = (1,) * len(desc.size)
        name = self.builder.add(
            self._name(call), ops.LINEAR, (desc.node,), point, int(out), source_op="dense", note=self._note(call),
            out=int(out), bias=bool(bias)
        )
        return _Desc(name, int(out), point, "flat")

    # -- padding and slicing ----------------------------------------------------------------------------

    def _pad(self, call: _Call, desc: _Desc, amounts: tuple[int, ...], mode: str, result: Any) -> _Desc:
        amounts = tuple(int(a) for a in amounts)
        if len(amounts) % 2 or len(amounts) // 2 > desc.rank:
            raise _Refused(f"padding {list(amounts)} does not fit a tensor of rank {desc.rank}")
        pairs = {desc.rank - 1 - i: (amounts[2 * i], amounts[2 * i + 1]) for i in range(len(amounts) // 2)}
        roles = desc.roles()
        spatial = [(0, 0)] * len(desc.size)
        for axis, pair in pairs.items():
            role, index = roles[axis]
            if role != "spatial":
                if pair != (0, 0):
                    raise _Refused(f"pads the {role} axis {axis} by {list(pair)}", "only spatial padding is read")
                continue
            spatial[index] = pair
        grow = tuple((max(b, 0), max(a, 0)) for b, a in spatial)
        cut = tuple((max(-b, 0), max(-a, 0)) for b, a in spatial)
        extra = "" if mode == "constant" else f"mode '{mode}' (the same geometry as zero padding)"
        current = desc
        if any(b or a for b, a in grow):
            size = tuple(n + b + a for n, (b, a) in zip(current.size, grow))
            both = any(b or a for b, a in cut)
            name = self.builder.add(
                self._name(call, "pad" if both else None), ops.PAD, (current.node,), size, current.channels,
                source_op="pad", note=self._note(call, extra), padding=grow
            )  # fmt: skip
            current = current.at(name, size=size)
        if any(b or a for b, a in cut):
            size = tuple(n - b - a for n, (b, a) in zip(current.size, cut))
            if min(size) < 1:
                raise _Refused(f"cropping {list(current.size)} by {list(cut)} leaves nothing")
            name = self.builder.add(
                self._name(call), ops.CROP, (current.node,), size, current.channels, source_op="crop",
                note=self._note(call, "negative padding: a crop"), crop=cut
            )  # fmt: skip
            current = current.at(name, size=size)
        if tuple(result.shape) != current.shape:
            raise _Refused(f"its output {list(result.shape)} is not the padded {list(current.shape)}")
        return current

    def _slices(
        self, call: _Call, desc: _Desc, spans: dict[int, tuple[Any, Any, Any]], result: Any, part: str | None = None,
        fixed: bool = False,
    ) -> _Desc:  # fmt: skip
        """Keep ``[start, stop)`` with ``step`` along torch axes (``spans``): select, crop, strided subsampling.

        ``fixed``: the crop amounts hold at the import size only (a stop counted from the start).
        """
        roles = desc.roles()
        shape = desc.shape
        select: tuple[int, int] | None = None
        crop = [(0, 0)] * len(desc.size)
        steps = [1] * len(desc.size)
        for axis, (start, stop, step) in spans.items():
            n = shape[axis]
            start, stop, step = slice(start, stop, step).indices(n)
            if stop <= start:
                raise _Refused(f"keeps nothing of axis {axis}")
            role, index = roles[axis]
            if (start, stop, step) == (0, n, 1):
                continue
            if role == "channel":
                if step != 1:
                    raise _Refused("slices the channels with a step", "rfdesign's select keeps a contiguous range")
                if desc.layout == "flat" and not desc.point:
                    raise _Refused("slices the features of a flattened map")
                select = (start, stop)
            elif role == "spatial":
                raw_stop = spans[axis][1]
                fixed = fixed or (raw_stop is not None and raw_stop >= 0)
                length = len(range(start, stop, step))
                last = start + (length - 1) * step
                crop[index] = (start, n - 1 - last)
                steps[index] = step
            else:
                raise _Refused(f"slices the {role} axis {axis}")
        current = desc
        wanted = (("select", select), ("crop", any(b or a for b, a in crop)), ("step", any(s > 1 for s in steps)))
        parts = [p for p, on in wanted if on]
        prefix = f"{part}/" if part is not None else ""

        def label(p: str) -> str | None:
            if p == parts[-1]:
                return part
            return prefix + p

        if select is not None:
            name = self.builder.add(
                self._name(call, label("select")), ops.SELECT, (current.node,), current.size, select[1] - select[0],
                source_op="select", note=self._note(call), start=select[0], stop=select[1]
            )  # fmt: skip
            current = current.at(name, channels=select[1] - select[0])
        if any(b or a for b, a in crop):
            size = tuple(n - b - a for n, (b, a) in zip(current.size, crop))
            note = "amounts fixed at the import size" if fixed else ""
            name = self.builder.add(
                self._name(call, label("crop")), ops.CROP, (current.node,), size, current.channels, source_op="crop",
                note=self._note(call, note), crop=tuple(crop)
            )  # fmt: skip
            current = current.at(name, size=size)
        if any(s > 1 for s in steps):
            size = tuple(window_size(n, 1, s, (0, 0)) for n, s in zip(current.size, steps))
            one = (1,) * len(steps)
            name = self.builder.add(
                self._name(call, label("step")), ops.AVGPOOL, (current.node,), size, current.channels,
                source_op="avgpool",
                note=self._note(call, f"strided slicing: every {list(steps)} pixel (a pool of kernel 1)"), kernel=one,
                stride=tuple(steps), dilation=one, padding=tuple((0, 0) for _ in steps)
            )  # fmt: skip
            current = current.at(name, size=size)
        if result is not None and tuple(result.shape) != current.shape:
            raise _Refused(f"its output {list(result.shape)} is not the sliced {list(current.shape)}")
        return current

    def _fn_getitem(self, call: _Call, args: Any, kwargs: Any, result: Any) -> _Desc:
        desc = self._image(args[0])
        index = args[1] if isinstance(args[1], tuple) else (args[1],)
        if any(self._lookup(i) is not None or isinstance(i, self.torch.Tensor) for i in index):
            raise _Refused("indexes with a tensor", "only slices are read")
        if sum(1 for i in index if i is Ellipsis) > 1:
            raise _Refused("has more than one `...`")
        if any(i is Ellipsis for i in index):
            at = next(k for k, i in enumerate(index) if i is Ellipsis)
            fill = desc.rank - (len(index) - 1)
            index = index[:at] + (slice(None),) * fill + index[at + 1 :]
        if any(i is None for i in index):
            if desc.layout == "flat" and desc.point:
                return self._reshape(call, args[0], result)
            raise _Refused("adds an axis with None")
        if len(index) > desc.rank:
            raise _Refused(f"has {len(index)} indices for a tensor of rank {desc.rank}")
        spans = {}
        for axis, item in enumerate(index):
            if not isinstance(item, slice):
                raise _Refused(f"indexes axis {axis} with {item!r}, removing it", "only slices are read")
            spans[axis] = (item.start, item.stop, item.step)
        return self._slices(call, desc, spans, result)

    def _fn_narrow(self, call: _Call, args: Any, kwargs: Any, result: Any) -> _Desc:
        b = _bind(args, kwargs, ["input", "dim", "start", "length"], {})
        desc = self._image(b["input"])
        axis = int(b["dim"]) % desc.rank
        start = int(b["start"]) % desc.shape[axis] if int(b["start"]) < 0 else int(b["start"])
        return self._slices(call, desc, {axis: (start, start + int(b["length"]), 1)}, result, fixed=True)

    def _pieces(self, call: _Call, desc: _Desc, dim: Any, result: Any) -> list[Any]:
        axis = int(dim) % desc.rank
        out = []
        start = 0
        for k, piece in enumerate(result):
            length = piece.shape[axis]
            out.append(self._slices(call, desc, {axis: (start, start + length, 1)}, piece, part=str(k), fixed=True))
            start += length
        return out

    def _fn_chunk(self, call: _Call, args: Any, kwargs: Any, result: Any) -> list[Any]:
        b = _bind(args, kwargs, ["input", "chunks", "dim"], {"dim": 0})
        return self._pieces(call, self._image(b["input"]), b["dim"], result)

    def _fn_split(self, call: _Call, args: Any, kwargs: Any, result: Any) -> list[Any]:
        b = _bind(args, kwargs, ["input", "split_size_or_sections", "dim"], {"dim": 0})
        return self._pieces(call, self._image(b["input"]), b["dim"], result)

    def _fn_tensor_split(self, call: _Call, args: Any, kwargs: Any, result: Any) -> list[Any]:
        b = _bind(args, kwargs, ["input", "indices_or_sections", "dim"], {"dim": 0})
        return self._pieces(call, self._image(b["input"]), b["dim"], result)

    def _fn_pad(self, call: _Call, args: Any, kwargs: Any, result: Any) -> _Desc:
        b = _bind(args, kwargs, ["input", "pad", "mode", "value"], {"mode": "constant", "value": None})
        return self._pad(call, self._image(b["input"]), tuple(b["pad"]), b["mode"] or "constant", result)

    # -- reshaping ----------------------------------------------------------------------------------------

    def _reshape(self, call: _Call, value: Any, result: Any, broadcast: bool = False) -> _Desc:
        desc = self._image(value)
        target = tuple(result.shape)
        dims = len(desc.size)
        if target == desc.shape:
            return desc
        if not target or target[0] != 1:
            raise _Refused(f"reshapes {list(desc.shape)} to {list(target)}, changing the batch axis")
        rest = target[1:]
        if broadcast:
            if desc.point and desc.layout in ("map", "last") and len(target) == desc.rank:
                return desc  # a gate broadcast over the map it multiplies: keep its spatial size 1
            raise _Refused(f"broadcasts {list(desc.shape)} to {list(target)}")
        features = desc.channels * math.prod(desc.size)
        if desc.point and rest[0] == desc.channels and all(n == 1 for n in rest[1:]):
            return _point(desc.node, desc.channels, len(rest) - 1, dims)
        if len(rest) == 1 and rest[0] == features:
            return desc.at(desc.node, layout="flat", cdims=())
        if len(rest) == dims + 1 and rest[0] == desc.channels and tuple(rest[1:]) == desc.size:
            return desc.at(desc.node, layout="map", cdims=())
        if len(rest) > dims + 1 and tuple(rest[len(rest) - dims :]) == desc.size:
            cdims = tuple(rest[: len(rest) - dims])
            if math.prod(cdims) == desc.channels and desc.layout in ("map", "group"):
                return desc.at(desc.node, layout="group", cdims=cdims)
        raise _Refused(
            f"reshapes {list(desc.shape)} to {list(target)}, which moves pixels",
            "only flattening before a dense head, channel regrouping and size-1 axes are read",
        )

    def _fn_permute(self, call: _Call, args: Any, kwargs: Any, result: Any) -> _Desc:
        desc = self._image(args[0])
        dims_arg = kwargs.get("dims", args[1:] if len(args) > 1 else ())
        if len(dims_arg) == 1 and isinstance(dims_arg[0], (list, tuple)):
            dims_arg = dims_arg[0]
        perm = [int(d) % desc.rank for d in dims_arg]
        return self._permute(desc, perm, result)

    def _fn_transpose(self, call: _Call, args: Any, kwargs: Any, result: Any) -> _Desc:
        b = _bind(args, kwargs, ["input", "dim0", "dim1"], {})
        desc = self._image(b["input"])
        perm = list(range(desc.rank))
        a, c = int(b["dim0"]) % desc.rank, int(b["dim1"]) % desc.rank
        perm[a], perm[c] = perm[c], perm[a]
        return self._permute(desc, perm, result)

    def _permute(self, desc: _Desc, perm: list[int], result: Any) -> _Desc:
        rank = desc.rank
        dims = len(desc.size)
        to_last = [0] + list(range(2, rank)) + [1]
        to_first = [0, rank - 1] + list(range(1, rank - 1))
        out: _Desc | None = None
        if perm == list(range(rank)):
            out = desc
        elif desc.layout == "map" and perm == to_last and dims:
            out = desc.at(desc.node, layout="last")
        elif desc.layout == "last" and perm == to_first:
            out = desc.at(desc.node, layout="map")
        elif desc.layout == "group":
            head = rank - dims
            moved = perm[1:head]
            if perm[0] == 0 and perm[head:] == list(range(head, rank)) and sorted(moved) == list(range(1, head)):
                out = desc.at(desc.node, cdims=tuple(desc.cdims[p - 1] for p in moved))
        elif desc.layout == "flat" and perm == [0, 1]:
            out = desc
        if out is None:
            raise _Refused(
                f"permutes the axes of a {list(desc.shape)} tensor with {perm}",
                "only channels-last and back, and permutations of channel groups (a channel shuffle), are read",
            )
        if tuple(result.shape) != out.shape:
            raise _Refused(f"its output {list(result.shape)} is not {list(out.shape)}")
        return out

    # -- merges -------------------------------------------------------------------------------------------

    def _binary(self, call: _Call, key: str, operands: list[Any], result: Any) -> _Desc:
        descs = [self._lookup(v) for v in operands]
        images = [d for d in descs if d is not None]
        for d in images:
            if isinstance(d, _Poison):
                raise _Refused(d.error.message)
        if len(images) == 1:
            desc = images[0]
            if tuple(result.shape) != desc.shape:
                raise _Refused(f"a constant broadcasts the {list(desc.shape)} image tensor to {list(result.shape)}")
            return self._pass(call, desc, ops.IDENTITY, "identity", "with a constant")
        return self._merge(call, "add" if key in _ADD_LIKE else "mul", images, result)

    def _merge(self, call: _Call, kind: str, descs: list[_Desc], result: Any) -> _Desc:
        layouts = {d.layout for d in descs}
        if not (len(layouts) == 1 and layouts <= {"map", "last"}) and not all(d.point for d in descs):
            raise _Refused(f"merges tensors of shapes {[list(d.shape) for d in descs]}")
        same = all(d.channels == descs[0].channels and d.size == descs[0].size for d in descs)
        extra = ""
        if same:
            size, channels = descs[0].size, descs[0].channels
        else:
            size = tuple(max(d.size[i] for d in descs) for i in range(len(descs[0].size)))
            channels = max(d.channels for d in descs)
            for d in descs:
                gate = d.point and d.channels in (1, channels)
                plane = d.size == size and d.channels in (1, channels)
                if not (gate or plane):
                    raise _Refused(f"broadcasts tensors of shapes {[list(x.shape) for x in descs]}")
            if kind == "add":
                extra = "an add with broadcasting, written as mul (the same geometry; rfdesign's add needs equal"
                extra += " shapes)"
            kind = "mul"
        layout = descs[0].layout if len(layouts) == 1 else "map"
        out = _Desc("", channels, size, layout if layout in ("map", "last") else "map")
        shape = tuple(result.shape)
        if shape != out.shape:
            if all(d.point for d in descs) and shape[:2] == (1, channels) and all(n == 1 for n in shape[2:]):
                out = _point("", channels, len(shape) - 2, len(size))
            else:
                raise _Refused(f"its output {list(result.shape)} is not {list(out.shape)}")
        op = ops.ADD if kind == "add" else ops.MUL
        name = self.builder.add(
            self._name(call), op, tuple(d.node for d in descs), size, channels, source_op=kind,
            note=self._note(call, extra)
        )
        return out.at(name)

    def _fn_cat(self, call: _Call, args: Any, kwargs: Any, result: Any) -> _Desc:
        b = _bind(args, kwargs, ["tensors", "dim"], {"dim": 0})
        tensors = list(b["tensors"])
        descs = []
        for t in tensors:
            d = self._lookup(t)
            if d is None:
                raise _Refused("concatenates the image with a constant tensor")
            if isinstance(d, _Poison):
                raise _Refused(d.error.message)
            descs.append(d)
        first = descs[0]
        axis = int(b["dim"]) % first.rank
        layouts = {d.layout for d in descs}
        ok = len(layouts) == 1 and axis == first.channel_axis and all(d.size == first.size for d in descs)
        if not ok:
            raise _Refused(
                f"concatenates {[list(d.shape) for d in descs]} along axis {axis}",
                "only concatenation of equal-size feature maps along the channels is read",
            )
        if first.layout == "flat" and not all(d.point for d in descs):
            raise _Refused("concatenates flattened maps")
        channels = sum(d.channels for d in descs)
        name = self.builder.add(
            self._name(call), ops.CONCAT, tuple(d.node for d in descs), first.size, channels, source_op="concat",
            note=self._note(call)
        )
        out = first.at(name, channels=channels)
        if tuple(result.shape) != out.shape:
            raise _Refused(f"its output {list(result.shape)} is not {list(out.shape)}")
        return out

    def _fn_stack(self, call: _Call, args: Any, kwargs: Any, result: Any) -> _Desc:
        raise _Refused("stacks tensors along a new axis", "use torch.cat along the channels")

    def _fn_max(self, call: _Call, args: Any, kwargs: Any, result: Any) -> Any:
        return self._max_min(call, args, kwargs, result)

    def _fn_min(self, call: _Call, args: Any, kwargs: Any, result: Any) -> Any:
        return self._max_min(call, args, kwargs, result)

    def _max_min(self, call: _Call, args: Any, kwargs: Any, result: Any) -> Any:
        other = args[1] if len(args) > 1 else kwargs.get("other", kwargs.get("dim"))
        if isinstance(other, self.torch.Tensor):
            return self._binary(call, "maximum", [args[0], other], result)
        return self._reduce(call, args, kwargs, result, "max")

    # -- reductions ---------------------------------------------------------------------------------------

    def _reduce(self, call: _Call, args: Any, kwargs: Any, result: Any, mode: str) -> Any:
        b = _bind(args, kwargs, ["input", "dim", "keepdim"], {"dim": None, "keepdim": False})
        desc = self._image(b["input"])
        dim = b["dim"]
        if dim is None or (isinstance(dim, (list, tuple)) and not dim):
            raise _Refused("reduces over every axis (the batch too)")
        axes = {int(d) % desc.rank for d in (dim if isinstance(dim, (list, tuple)) else [dim])}
        keep = bool(b["keepdim"])
        values = result[0] if isinstance(result, (tuple, list)) else result
        spatial = set(desc.spatial_axes)
        if axes == spatial and spatial:
            point = (1,) * len(desc.size)
            name = self.builder.add(
                self._name(call), ops.GLOBAL_POOL, (desc.node,), point, desc.channels, source_op=f"global_{mode}pool",
                note=self._note(call), mode=mode
            )
            out = desc.at(name, size=point) if keep else _Desc(name, desc.channels, point, "flat")
            if desc.layout == "flat":
                out = _Desc(name, desc.channels, point, "flat")
        elif axes == {desc.channel_axis} and keep:
            name = self.builder.add(
                self._name(call), ops.SELECT, (desc.node,), desc.size, 1, source_op="select",
                note=self._note(call, "a reduction over the channels: one channel, the same geometry"), start=0,
                stop=1
            )  # fmt: skip
            out = desc.at(name, channels=1)
        else:
            raise _Refused(
                f"reduces axes {sorted(axes)} of a {list(desc.shape)} tensor",
                "a reduction over exactly the spatial axes (global pooling) or over the channels is read",
            )
        if tuple(values.shape) != out.shape:
            raise _Refused(f"its output {list(values.shape)} is not {list(out.shape)}")
        if isinstance(result, (tuple, list)):
            return [out, self._poison(call, "its indices are not an image")]
        return out

    # -- functional forms of the module ops ----------------------------------------------------------

    def _fn_conv(self, call: _Call, args: Any, kwargs: Any, result: Any, dims: int) -> _Desc:
        b = _bind(args, kwargs, ["input", "weight", "bias", "stride", "padding", "dilation", "groups"],
                  {"bias": None, "stride": 1, "padding": 0, "dilation": 1, "groups": 1})  # fmt: skip
        desc = self._map(b["input"])
        self._constant(b["weight"], "weight")
        return self._conv(call, desc, tuple(b["weight"].shape), b["stride"], b["padding"], b["dilation"],
                          int(b["groups"]), b["bias"] is not None, result)  # fmt: skip

    def _fn_conv_transpose(self, call: _Call, args: Any, kwargs: Any, result: Any, dims: int) -> _Desc:
        b = _bind(
            args, kwargs, ["input", "weight", "bias", "stride", "padding", "output_padding", "groups", "dilation"],
            {"bias": None, "stride": 1, "padding": 0, "output_padding": 0, "groups": 1, "dilation": 1},
        )
        desc = self._map(b["input"])
        self._constant(b["weight"], "weight")
        return self._conv_transpose(call, desc, tuple(b["weight"].shape), b["stride"], b["padding"], b["dilation"],
                                    int(b["groups"]), b["bias"] is not None, result)  # fmt: skip

    def _fn_max_pool(self, call: _Call, args: Any, kwargs: Any, result: Any, dims: int) -> Any:
        b = _bind(
            args, kwargs, ["input", "kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices"],
            {"stride": None, "padding": 0, "dilation": 1, "ceil_mode": False, "return_indices": False},
        )
        indices = isinstance(result, (tuple, list))
        return self._pool(call, self._map(b["input"]), ops.MAXPOOL, b["kernel_size"], b["stride"], b["padding"],
                          b["dilation"], b["ceil_mode"], result, indices)  # fmt: skip

    def _fn_avg_pool(self, call: _Call, args: Any, kwargs: Any, result: Any, dims: int) -> Any:
        b = _bind(args, kwargs, ["input", "kernel_size", "stride", "padding", "ceil_mode"],
                  {"stride": None, "padding": 0, "ceil_mode": False})  # fmt: skip
        return self._pool(call, self._map(b["input"]), ops.AVGPOOL, b["kernel_size"], b["stride"], b["padding"], 1,
                          b["ceil_mode"], result)  # fmt: skip

    def _fn_lp_pool(self, call: _Call, args: Any, kwargs: Any, result: Any, dims: int) -> Any:
        b = _bind(args, kwargs, ["input", "norm_type", "kernel_size", "stride", "ceil_mode"],
                  {"stride": None, "ceil_mode": False})  # fmt: skip
        return self._pool(call, self._map(b["input"]), ops.AVGPOOL, b["kernel_size"], b["stride"], 0, 1,
                          b["ceil_mode"], result, extra="an LP pool has the geometry of an average pool")  # fmt: skip

    def _fn_adaptive_avg_pool(self, call: _Call, args: Any, kwargs: Any, result: Any, dims: int) -> Any:
        return self._adaptive(call, self._map(args[0] if args else kwargs["input"]), "avg", result)

    def _fn_adaptive_max_pool(self, call: _Call, args: Any, kwargs: Any, result: Any, dims: int) -> Any:
        return self._adaptive(call, self._map(args[0] if args else kwargs["input"]), "max", result)

    def _fn_interpolate(self, call: _Call, args: Any, kwargs: Any, result: Any) -> _Desc:
        b = _bind(args, kwargs, ["input", "size", "scale_factor", "mode", "align_corners", "recompute_scale_factor",
                                 "antialias"],
                  {"size": None, "scale_factor": None, "mode": "nearest", "align_corners": None,
                   "recompute_scale_factor": None, "antialias": False})  # fmt: skip
        return self._upsample(call, self._map(b["input"]), b["size"], b["scale_factor"], b["mode"],
                              b["align_corners"], b["recompute_scale_factor"], b["antialias"], result)  # fmt: skip

    def _fn_upsample_nearest(self, call: _Call, args: Any, kwargs: Any, result: Any) -> _Desc:
        b = _bind(args, kwargs, ["input", "size", "scale_factor"], {"size": None, "scale_factor": None})
        x = self._map(b["input"])
        return self._upsample(call, x, b["size"], b["scale_factor"], "nearest", None, None, False, result)

    def _fn_upsample_bilinear(self, call: _Call, args: Any, kwargs: Any, result: Any) -> _Desc:
        b = _bind(args, kwargs, ["input", "size", "scale_factor"], {"size": None, "scale_factor": None})
        x = self._map(b["input"])
        return self._upsample(call, x, b["size"], b["scale_factor"], "bilinear", True, None, False, result)

    def _fn_pixel_shuffle(self, call: _Call, args: Any, kwargs: Any, result: Any) -> _Desc:
        b = _bind(args, kwargs, ["input", "upscale_factor"], {})
        return self._shuffle(call, self._map(b["input"]), int(b["upscale_factor"]), ops.DEPTH_TO_SPACE, result)

    def _fn_pixel_unshuffle(self, call: _Call, args: Any, kwargs: Any, result: Any) -> _Desc:
        b = _bind(args, kwargs, ["input", "downscale_factor"], {})
        return self._shuffle(call, self._map(b["input"]), int(b["downscale_factor"]), ops.SPACE_TO_DEPTH, result)

    def _fn_linear(self, call: _Call, args: Any, kwargs: Any, result: Any) -> _Desc:
        b = _bind(args, kwargs, ["input", "weight", "bias"], {"bias": None})
        self._constant(b["weight"], "weight")
        out, features = tuple(b["weight"].shape)
        return self._linear(call, self._image(b["input"]), features, out, b["bias"] is not None, result)

    def _fn_batch_norm(self, call: _Call, args: Any, kwargs: Any, result: Any) -> _Desc:
        b = _bind(args, kwargs, ["input", "running_mean", "running_var", "weight", "bias"], {"weight": None})
        return self._norm(call, self._image(b["input"]), "batchnorm", b["weight"] is not None, result)

    def _fn_instance_norm(self, call: _Call, args: Any, kwargs: Any, result: Any) -> _Desc:
        b = _bind(args, kwargs, ["input", "running_mean", "running_var", "weight", "bias"], {"weight": None})
        return self._norm(call, self._image(b["input"]), "instancenorm", b["weight"] is not None, result)

    def _fn_group_norm(self, call: _Call, args: Any, kwargs: Any, result: Any) -> _Desc:
        b = _bind(args, kwargs, ["input", "num_groups", "weight", "bias"], {"weight": None})
        return self._norm(call, self._image(b["input"]), "groupnorm", b["weight"] is not None, result)

    def _fn_layer_norm(self, call: _Call, args: Any, kwargs: Any, result: Any) -> _Desc:
        b = _bind(args, kwargs, ["input", "normalized_shape", "weight", "bias"], {"weight": None})
        shape = b["normalized_shape"]
        shape = tuple(shape) if isinstance(shape, (list, tuple)) else (int(shape),)
        return self._layer_norm(call, self._image(b["input"]), shape, b["weight"] is not None, result)

    def _fn_softmax(self, call: _Call, args: Any, kwargs: Any, result: Any) -> _Desc:
        b = _bind(args, kwargs, ["input", "dim"], {"dim": None})
        return self._softmax(call, self._image(b["input"]), b["dim"], result, "softmax")

    def _fn_log_softmax(self, call: _Call, args: Any, kwargs: Any, result: Any) -> _Desc:
        b = _bind(args, kwargs, ["input", "dim"], {"dim": None})
        return self._softmax(call, self._image(b["input"]), b["dim"], result, "log_softmax")

    def _fn_softmin(self, call: _Call, args: Any, kwargs: Any, result: Any) -> _Desc:
        b = _bind(args, kwargs, ["input", "dim"], {"dim": None})
        return self._softmax(call, self._image(b["input"]), b["dim"], result, "activation")

    def _fn_movedim(self, call: _Call, args: Any, kwargs: Any, result: Any) -> _Desc:
        b = _bind(args, kwargs, ["input", "source", "destination"], {})
        desc = self._image(b["input"])
        rank = desc.rank
        def axes(value: Any) -> list[int]:
            return [int(a) % rank for a in (value if isinstance(value, (list, tuple)) else [value])]

        source, dest = axes(b["source"]), axes(b["destination"])
        perm: list[int | None] = [None] * rank
        for s, d in zip(source, dest):
            perm[d] = s
        rest = iter(a for a in range(rank) if a not in source)
        full = [p if p is not None else next(rest) for p in perm]
        return self._permute(desc, full, result)

    def _fn_where(self, call: _Call, args: Any, kwargs: Any, result: Any) -> Any:
        raise _Refused("selects between tensors elementwise (torch.where)")

    def _constant(self, value: Any, what: str) -> None:
        if self._lookup(value) is not None:
            raise _Refused(f"its {what} depends on the image")
        if not isinstance(value, self.torch.Tensor):
            raise _Refused(f"its {what} is not a tensor")

    # -- the graph ----------------------------------------------------------------------------------------

    def finish(self, name: str, output: str | None) -> Graph:
        nodes = self.builder.nodes
        found: list[Any] = []
        self._images(self.result, found)
        if not found:
            raise SpecError(
                f"no output of `{name}` depends on its input",
                self.location,
                "the model's forward must return tensors computed from the image",
            )
        for desc in found:
            if isinstance(desc, _Poison) and (output is None or output not in nodes):
                raise desc.error
        ends = [d.node for d in found if isinstance(d, _Desc) and d.node != INPUT]
        if output is not None and output in nodes and output not in ends:
            ends.append(output)  # a model output rfdesign cannot read is fine when another node is asked for
        if not ends:
            raise SpecError(f"`{name}` returns its input unchanged", self.location)
        channels, size = self.input_shape
        return self.builder.finish(
            name,
            size,
            channels,
            self.builder.default_outputs(n for n in ends if n != output),
            output,
            keep=ends,
            naming="layers are named after the modules (e.g. layer1.0.conv1)",
            file=self.source,
        )


def _point(node: str, channels: int, ones: int, dims: int) -> _Desc:
    """A tensor of spatial size 1 shaped (N, C) followed by ``ones`` size-1 axes."""
    if ones == dims:
        return _Desc(node, channels, (1,) * dims, "map")
    if ones == 0:
        return _Desc(node, channels, (1,) * dims, "flat")
    return _Desc(node, channels, (1,) * dims, "point", (ones,))


def _norm_name(cls: str) -> str:
    if "Instance" in cls:
        return "instancenorm"
    return "batchnorm"


def _inplace(kind: str, target: Any) -> bool:
    name = target if isinstance(target, str) else getattr(target, "__name__", "")
    return bool(name) and (name.endswith("_") and not name.endswith("__") or name.startswith("__i"))

